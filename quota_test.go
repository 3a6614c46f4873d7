package rebound

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebound-http/rebound/ratelimit"
)

func openAIQuota(remaining, reset string) map[string]string {
	return map[string]string{
		"X-Ratelimit-Limit-Requests":     "500",
		"X-Ratelimit-Remaining-Requests": remaining,
		"X-Ratelimit-Reset-Requests":     reset,
		"X-Ratelimit-Limit-Tokens":       "30000",
		"X-Ratelimit-Remaining-Tokens":   "29000",
		"X-Ratelimit-Reset-Tokens":       "2s",
	}
}

func TestSuccessThatSpendsTheQuotaHoldsTheKey(t *testing.T) {
	clock := newFakeClock()
	spent := reply{status: 200, body: `{"ok":true}`, headers: openAIQuota("0", "2s")}
	u := newUpstream(t, clock, spent, ok200)
	tr, _ := newTestTransport(t, clock, false)
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	// The next call waits for the reset before it is sent: no 429.
	before := clock.Now()
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	hits := u.Hits()
	if len(hits) != 2 || hits[1].at.Sub(before) < 2*time.Second {
		t.Fatalf("second call sent %v after the spent answer (%d hits), want after the 2s reset", hits[len(hits)-1].at.Sub(before), len(hits))
	}
}

func TestDailyQuotaFailsFastSayingWhenItResets(t *testing.T) {
	clock := newFakeClock()
	h := openAIQuota("0", "7h0m0s")
	h["Retry-After"] = "25200"
	u := newUpstream(t, clock, reply{status: 429, headers: h,
		body: `{"error":{"message":"Rate limit reached for requests per day (RPD)","type":"requests","code":"rate_limit_exceeded"}}`})
	var giveUps []GiveUpEvent
	tr, _ := newTestTransport(t, clock, false, WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { giveUps = append(giveUps, e) }}))
	// The 429 asks for 7 hours, past MaxHint: it is returned at once.
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 429 || len(u.Hits()) != 1 {
		t.Fatalf("first call: %v, %v, %d hits; want the 429 at once", resp, err, len(u.Hits()))
	}
	// Later calls are refused without being sent, told when it resets.
	_, _, err = do(t, tr, post(t, u.URL, chatBody))
	var re *Error
	var qe *ratelimit.QuotaError
	if !errors.As(err, &re) || re.Reason != ReasonQuotaSpent || !errors.As(err, &qe) || !errors.Is(err, ratelimit.ErrQuotaSpent) {
		t.Fatalf("second call: %v, want a quota-spent *Error with a *ratelimit.QuotaError", err)
	}
	if want := clock.Now().Add(7 * time.Hour).UTC().Format(time.RFC3339); !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not say when the quota resets (%s)", err, want)
	}
	if n := len(u.Hits()); n != 1 {
		t.Fatalf("%d requests sent; the refused call must not be", n)
	}
	if len(giveUps) != 2 || giveUps[1].Reason != ReasonQuotaSpent {
		t.Fatalf("give-ups %+v", giveUps)
	}
}

func TestRequestLargerThanTheTokenLimitFailsAtOnce(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, ok200)
	limits := WithRateLimits(ratelimit.Limits{Default: ratelimit.Limit{}.WithTokensPerMinute(1000)})
	tr, _ := newTestTransport(t, clock, false, limits)
	big := `{"model":"gpt-4o-mini","max_tokens":2000,"messages":[{"role":"user","content":"hello"}]}`
	_, _, err := do(t, tr, post(t, u.URL, big))
	var re *Error
	var ce *ratelimit.CostError
	if !errors.As(err, &re) || re.Reason != ReasonTooLarge || !errors.As(err, &ce) || ce.Burst != 1000 || ce.Tokens < 2000 {
		t.Fatalf("err = %v, want ReasonTooLarge with a CostError over a 1000-token bucket", err)
	}
	if n := len(u.Hits()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
	// A cost function of the caller's own overrides the estimate.
	tr2, _ := newTestTransport(t, clock, false, limits, WithCostFunc(func(*http.Request, []byte) int { return 10 }))
	if _, _, err := do(t, tr2, post(t, u.URL, big)); err != nil {
		t.Fatalf("with a cost function saying 10 tokens: %v", err)
	}
}

func TestTokenLimitLearntFromHeaders(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 200, body: `{"ok":true}`, headers: openAIQuota("499", "120ms")})
	tr, _ := newTestTransport(t, clock, false)
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	// The provider said its token window holds 30000: a request declaring
	// 40000 output tokens can never go.
	big := `{"model":"gpt-4o-mini","max_completion_tokens":40000,"messages":[]}`
	_, _, err := do(t, tr, post(t, u.URL, big))
	if !errors.Is(err, ratelimit.ErrCostTooLarge) {
		t.Fatalf("err = %v, want ErrCostTooLarge", err)
	}
	if n := len(u.Hits()); n != 1 {
		t.Fatalf("%d requests sent, want 1", n)
	}
	if st := tr.Stats(); len(st.Keys) != 1 || st.Keys[0].Quota.Tokens.Limit != 30000 || st.Keys[0].Quota.Requests.Remaining != 499 {
		t.Fatalf("Stats().Keys = %+v, want the told quota", st.Keys)
	}
}
