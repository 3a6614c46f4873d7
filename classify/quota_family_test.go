package classify

import (
	"testing"
	"time"
)

// TestParseQuotaMistral: Mistral's chat completions carry their own names,
// "-req-minute" and "-tokens-minute" (mistralai/client-ts#169, a curl of
// POST /v1/chat/completions), not x-ratelimit-*-{requests,tokens}.
func TestParseQuotaMistral(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		{"Mistral", hdr(
			"x-ratelimit-limit-tokens-minute", "5000000",
			"x-ratelimit-remaining-tokens-minute", "4999911",
			"x-ratelimit-tokens-query-cost", "52",
			"x-ratelimit-limit-req-minute", "720",
			"x-ratelimit-remaining-req-minute", "717"),
			Quota{Requests: known(720, 717, 0), Tokens: known(5000000, 4999911, 0)}},
		{"Mistral tokens spent", hdr("x-ratelimit-limit-tokens-minute", "500000", "x-ratelimit-remaining-tokens-minute", "0"),
			Quota{Tokens: known(500000, 0, 0)}},
		{"Mistral's month is not its minute", hdr("x-ratelimit-limit-tokens-month", "4000000", "x-ratelimit-remaining-tokens-month", "3950246"),
			Quota{}},
	})
}

// TestParseQuotaCerebras: Cerebras tells tokens per minute and requests
// per day, with resets in seconds.
func TestParseQuotaCerebras(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		{"Cerebras", hdr(
			"x-ratelimit-limit-requests-day", "14400", "x-ratelimit-remaining-requests-day", "14399", "x-ratelimit-reset-requests-day", "33011.4",
			"x-ratelimit-limit-tokens-minute", "60000", "x-ratelimit-remaining-tokens-minute", "59000", "x-ratelimit-reset-tokens-minute", "11.38"),
			Quota{Requests: known(14400, 14399, 33011400*time.Millisecond), Tokens: known(60000, 59000, 11380*time.Millisecond)}},
	})
}

// TestParseQuotaTogether: Together AI's rate-limit headers are
// x-ratelimit-{limit,remaining,reset} for requests (the reset in seconds)
// and x-tokenlimit-{limit,remaining} for tokens (docs.together.ai,
// support.together.ai "Rate limits in headers").
func TestParseQuotaTogether(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		{"Together", hdr(
			"x-ratelimit-limit", "10", "x-ratelimit-remaining", "0", "x-ratelimit-reset", "1",
			"x-tokenlimit-limit", "3000", "x-tokenlimit-remaining", "2500"),
			Quota{Requests: known(10, 0, time.Second), Tokens: known(3000, 2500, 0)}},
		// GitHub-style, and OpenRouter's reset in Unix milliseconds.
		{"unsuffixed, Unix ms reset", hdr("X-RateLimit-Limit", "20", "X-RateLimit-Remaining", "0", "X-RateLimit-Reset", "1740436000000"),
			Quota{Requests: known(20, 0, 71*time.Second)}},
	})
}

// TestParseQuotaNoAllocWithEveryFamily keeps the success path free of
// allocations with the families above present.
func TestParseQuotaNoAllocWithEveryFamily(t *testing.T) {
	h := hdr("x-ratelimit-limit-tokens-minute", "5000000", "x-ratelimit-remaining-tokens-minute", "4999911",
		"x-ratelimit-limit-req-minute", "720", "x-ratelimit-remaining-req-minute", "717",
		"x-ratelimit-limit", "10", "x-ratelimit-remaining", "9", "x-ratelimit-reset", "1",
		"x-tokenlimit-limit", "3000", "x-tokenlimit-remaining", "2500")
	if n := testing.AllocsPerRun(100, func() { ParseQuota(h, quotaNow) }); n != 0 {
		t.Errorf("ParseQuota allocates %v times", n)
	}
}
