package classify

import (
	"fmt"
	"testing"
	"time"
)

// TestSeedInferKit covers every row of the code catalog in seeds/001
// (InferKit), whose errors are {"error":{"code","message","request_id"}}.
// 5xx responses carry a generic message, as the seed says.
func TestSeedInferKit(t *testing.T) {
	const rid = "9f3c12a8-4b1e-4c2a-9d7f-0e1d2c3b4a59"
	seed := []struct {
		status  int
		code    string
		message string
		verdict Verdict
	}{
		{400, "bad_request", "malformed request", Fatal},
		{401, "invalid_api_key", "missing or invalid publishable key", Fatal},
		{401, "invalid_token", "dashboard session expired", Fatal},
		{401, "invalid_credentials", "wrong email or password", Fatal},
		{401, "bot_challenge_required", "a Turnstile session is required", Fatal},
		{402, "upgrade_required", "remote inference needs a paid plan", Fatal},
		{402, "quota_exceeded", "monthly token cap reached", Fatal},
		{403, "forbidden", "your role lacks this capability", Fatal},
		{403, "email_not_verified", "verify your email first", Fatal},
		{403, "key_revoked", "key was revoked", Fatal},
		{403, "key_suspended", "key was suspended for abuse", Fatal},
		{403, "key_expired", "key is past its rotation grace", Fatal},
		{403, "origin_not_allowed", "origin https://example.com is not allowed", Fatal},
		{403, "ip_not_allowed", "IP 203.0.113.9 is not allowlisted", Fatal},
		{403, "direct_origin_blocked", "call via the public hostname", Fatal},
		{403, "challenge_failed", "Turnstile verification failed", Fatal},
		{404, "not_found", "no such route", Fatal},
		{409, "email_in_use", "email already registered", Fatal},
		{429, "rate_limited", "Rate limit exceeded", Retryable},
		{503, "bot_protection_unconfigured", "Service unavailable", Fatal},
		{503, "billing_unconfigured", "Service unavailable", Fatal},
		{503, "email_unconfigured", "Service unavailable", Fatal},
		{503, "provider_unavailable", "Service unavailable", Retryable},
		{500, "internal_error", "Internal error", Retryable},
	}
	var rows []row
	for _, s := range seed {
		rows = append(rows, row{
			name:   fmt.Sprintf("%d %s", s.status, s.code),
			status: s.status,
			body:   fmt.Sprintf(`{"error":{"code":%q,"message":%q,"request_id":%q}}`, s.code, s.message, rid),
			want: Decision{Verdict: s.verdict, Evidence: ByBody, Code: s.code,
				Message: s.message, RequestID: rid},
		})
	}
	rows = append(rows,
		row{
			name:   "429 rate_limited with Retry-After",
			status: 429, header: hdr("Retry-After", "17", "Content-Type", "application/json; charset=utf-8"),
			body: `{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"` + rid + `"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limited",
				Message: "Rate limit exceeded", RequestID: rid, RetryAfter: 17 * time.Second},
		},
		row{
			name:   "publishable key in a message is redacted",
			status: 401,
			body:   `{"error":{"code":"invalid_api_key","message":"key ik_pub_live_4f9a is not valid for this site","request_id":"` + rid + `"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_api_key",
				Message: "key ik_pub_… is not valid for this site", RequestID: rid},
		},
	)
	runRows(t, InferKit(), rows)
}
