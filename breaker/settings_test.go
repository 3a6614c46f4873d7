package breaker

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	check := func(t *testing.T, s Settings, want string) {
		t.Helper()
		err := s.Validate()
		if want == "" {
			if err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
			if _, err := New(s); err != nil {
				t.Fatalf("New() = %v, want nil", err)
			}
			return
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Validate() = %v, want an error containing %q", err, want)
		}
		if set, err2 := New(s); set != nil || err2 == nil || err2.Error() != err.Error() {
			t.Fatalf("New() = %v, %v; want nil and the Validate error", set, err2)
		}
	}
	for _, tc := range []struct {
		name string
		s    Settings
		want string // substring of the error; empty for valid
	}{
		{"zero", Settings{}, ""},
		{"ratio one", Settings{FailureRatio: 1}, ""},
		{"ratio small", Settings{FailureRatio: 0.001}, ""},
		{"ratio negative", Settings{FailureRatio: -0.1}, "FailureRatio -0.1 is outside (0, 1]"},
		{"ratio above one", Settings{FailureRatio: 1.5}, "FailureRatio 1.5 is outside (0, 1]"},
		{"ratio NaN", Settings{FailureRatio: math.NaN()}, "FailureRatio NaN"},
		{"ratio +Inf", Settings{FailureRatio: math.Inf(1)}, "FailureRatio +Inf"},
		{"window negative", Settings{Window: -time.Second}, "Window -1s is negative"},
		{"buckets negative", Settings{Buckets: -1}, "Buckets -1 is negative"},
		{"open timeout negative", Settings{OpenTimeout: -1}, "OpenTimeout -1ns is negative"},
		{"max keys negative", Settings{MaxKeys: -5}, "MaxKeys -5 is negative"},
		{"idle TTL negative", Settings{IdleTTL: -time.Minute}, "IdleTTL -1m0s is negative"},
		{"buckets at limit", Settings{Buckets: 100}, ""},
		{"too many buckets", Settings{Buckets: 101}, "Buckets 101 is more than 100"},
		{"one bucket", Settings{Window: time.Millisecond, Buckets: 1}, ""},
		{"buckets too short", Settings{Window: 99 * time.Millisecond, Buckets: 100}, "Window 99ms in 100 Buckets makes buckets shorter than 1ms"},
		{"short window, default buckets", Settings{Window: 5 * time.Millisecond}, "Window 5ms in 10 Buckets"},
		{"sub-millisecond window", Settings{Window: time.Microsecond, Buckets: 1}, "shorter than 1ms"},
		{"disabled still validated", Settings{Disabled: true, Buckets: -1}, "Buckets -1 is negative"},
		{"everything set", Settings{FailureRatio: 0.25, MinRequests: 20, Window: time.Minute, Buckets: 60,
			OpenTimeout: time.Second, HalfOpenProbes: 1, MaxKeys: 1, IdleTTL: time.Hour,
			OnStateChange: func(string, State, State) {}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { check(t, tc.s, tc.want) })
	}
}

func TestDefaults(t *testing.T) {
	got := Settings{}.WithDefaults()
	want := Settings{FailureRatio: 0.5, MinRequests: 10, Window: 10 * time.Second, Buckets: 10,
		OpenTimeout: 1 * time.Second, HalfOpenProbes: 3, MaxKeys: 1024, IdleTTL: 10 * time.Minute}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	set := Settings{FailureRatio: 0.2, MinRequests: 1, Window: time.Second, Buckets: 2,
		OpenTimeout: time.Millisecond, HalfOpenProbes: 9, MaxKeys: 3, IdleTTL: time.Hour}
	if fmt.Sprintf("%+v", set.WithDefaults()) != fmt.Sprintf("%+v", set) {
		t.Fatalf("withDefaults changed fields that were set: %+v", set.WithDefaults())
	}
}

// TestHugeDurations: the largest durations Validate accepts neither panic
// nor overflow: a breaker with a window of "forever" still counts and trips,
// and one open "forever" stays open, with an Until in the far future.
func TestHugeDurations(t *testing.T) {
	for _, s := range []Settings{
		{Window: math.MaxInt64, MinRequests: 2},
		{Window: math.MaxInt64, Buckets: 1, MinRequests: 2},
		{Window: math.MaxInt64, Buckets: 100, MinRequests: 2},
		{Window: math.MaxInt64, Buckets: 7, MinRequests: 2, OpenTimeout: math.MaxInt64, IdleTTL: math.MaxInt64,
			MaxKeys: math.MaxInt, HalfOpenProbes: math.MaxUint32},
		{OpenTimeout: math.MaxInt64, MinRequests: 2},
	} {
		t.Run(fmt.Sprintf("%+v", s), func(t *testing.T) {
			set := mustNew(t, s)
			run(t, set, "k", []step{ok(Failure, Closed), ok(Failure, Open)})
			until, open := set.OpenUntil("k")
			now := time.Now()
			if !open || !until.After(now) {
				t.Fatalf("OpenUntil = %v, %v; want open after now", until, open)
			}
			if wait := until.Sub(now); wait <= 0 {
				t.Fatalf("wait until half-open %v, want positive", wait)
			}
			if s.OpenTimeout == math.MaxInt64 {
				if wait := until.Sub(now); wait < 100*365*24*time.Hour {
					t.Fatalf("wait until half-open %v, want about forever", wait)
				}
				run(t, set, "k", []step{rejected(Open)})
			}
		})
	}
}
