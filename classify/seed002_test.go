package classify

import (
	"testing"
	"time"
)

// TestSeedInfe covers every row of seeds/002 (infe.io, OpenAI-compatible):
// the error code list, sent in the documented shape
// {"error":{"message","type","code"}}, and the retry strategy table, sent
// with bodies that carry no code so that the status alone decides.
func TestSeedInfe(t *testing.T) {
	const rid = "infe-7c1d2e3f"
	withID := hdr("X-Request-Id", rid)
	runRows(t, Infe(), []row{
		// Error codes.
		{
			name: "400 invalid_request_error", status: 400, header: withID,
			body: `{"error":{"message":"missing 'messages' field","type":"invalid_request_error","code":null}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Type: "invalid_request_error",
				Message: "missing 'messages' field", RequestID: rid},
		},
		{
			name: "401 invalid_api_key", status: 401, header: withID,
			body: `{"error":{"message":"Invalid API key: sk-infe-9d8c7b6a","type":"authentication_error","code":"invalid_api_key"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_api_key", Type: "authentication_error",
				Message: "Invalid API key: sk-…", RequestID: rid},
		},
		{
			name: "402 payment_required", status: 402,
			body: `{"error":{"message":"Insufficient credits","type":"billing_error","code":"payment_required"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "payment_required", Type: "billing_error",
				Message: "Insufficient credits"},
		},
		{
			name: "403 forbidden", status: 403,
			body: `{"error":{"message":"Your plan does not include infe-titan","type":"permission_error","code":"forbidden"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "forbidden", Type: "permission_error",
				Message: "Your plan does not include infe-titan"},
		},
		{
			name: "404 model_not_found", status: 404,
			body: `{"error":{"message":"The model 'infe-pluse' does not exist","type":"invalid_request_error","code":"model_not_found"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "model_not_found", Type: "invalid_request_error",
				Message: "The model 'infe-pluse' does not exist"},
		},
		{
			name: "429 rate_limit_exceeded", status: 429, header: hdr("X-Request-Id", rid, "Retry-After", "1"),
			body: `{"error":{"message":"Rate limit exceeded","type":"rate_limit_error","code":"rate_limit_exceeded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limit_exceeded", Type: "rate_limit_error",
				Message: "Rate limit exceeded", RequestID: rid, RetryAfter: time.Second},
		},
		{
			name: "500 api_error", status: 500,
			body: `{"error":{"message":"Internal server error","type":"api_error","code":null}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "api_error", Message: "Internal server error"},
		},
		{
			name: "502 api_error", status: 502,
			body: `{"error":{"message":"Upstream provider timeout","type":"api_error","code":null}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "api_error", Message: "Upstream provider timeout"},
		},
		// Retry strategy: the status alone.
		{name: "retry table 400 no", status: 400, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 401 no", status: 401, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 402 no", status: 402, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 403 no", status: 403, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 429 yes", status: 429, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 500 yes", status: 500, body: `{"error":{"message":"x"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Message: "x"}},
		{name: "retry table 502 yes", status: 502, header: hdr("Content-Type", "text/html"),
			body: "<html><body><h1>502 Bad Gateway</h1></body></html>",
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
	})
}
