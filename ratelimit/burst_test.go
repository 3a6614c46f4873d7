package ratelimit

import (
	"math"
	"testing"
	"time"

	"golang.org/x/time/rate"
)

// A positive Tokens is valid however small; its default TokenBurst must
// still hold one token (as Burst defaults to at least 1), or every request
// fails at once with a CostError against a bucket of 0.
func TestTinyTokensDefaultBurst(t *testing.T) {
	l := Limits{Default: Limit{Rate: 10, Tokens: 1e-9}}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	s, err := New(l)
	if err != nil {
		t.Fatal(err)
	}
	if _, b := l.Default.Bursts(); b < 1 {
		t.Errorf("default TokenBurst of Tokens 1e-9 is %d", b)
	}
	if _, err := s.ReserveCost("k", time.Unix(1_700_000_000, 0), 1); err != nil {
		t.Fatalf("a 1-token request: %v", err)
	}
}

// TestInfiniteRateIsNoLimit: a Rate of +Inf, which Validate accepts, is no
// limit, as rate.Inf is (it worked only through NaN arithmetic).
func TestInfiniteRateIsNoLimit(t *testing.T) {
	l := Limits{Default: Limit{Rate: rate.Limit(math.Inf(1))}}
	if err := l.Validate(); err != nil {
		t.Fatal(err)
	}
	if l.Enabled() {
		t.Fatal("a +Inf Rate limits keys")
	}
}
