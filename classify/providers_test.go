package classify

import (
	"testing"
	"time"
)

// TestOpenAI covers OpenAI's error bodies, its 409 rule, its hint headers and
// x-should-retry.
func TestOpenAI(t *testing.T) {
	const rid = "req_8f7e6d5c4b3a"
	runRows(t, OpenAI(), []row{
		{
			name: "401 invalid_api_key, key redacted", status: 401, header: hdr("X-Request-Id", rid),
			body: `{"error":{"message":"Incorrect API key provided: sk-proj-AbCdEf0123456789. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_api_key", Type: "invalid_request_error", RequestID: rid,
				Message: "Incorrect API key provided: sk-proj-…. You can find your API key at https://platform.openai.com/account/api-keys."},
		},
		{
			name: "400 invalid_request_error without code", status: 400,
			body: `{"error":{"message":"'messages' is a required property","type":"invalid_request_error","param":"messages","code":null}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Type: "invalid_request_error", Message: "'messages' is a required property"},
		},
		{
			name: "404 model_not_found", status: 404,
			body: `{"error":{"message":"The model 'gpt-9' does not exist","type":"invalid_request_error","param":null,"code":"model_not_found"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "model_not_found", Type: "invalid_request_error", Message: "The model 'gpt-9' does not exist"},
		},
		{
			name: "429 insufficient_quota fails at once", status: 429, header: hdr("Retry-After", "20"),
			body: `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "insufficient_quota", Type: "insufficient_quota", RetryAfter: 20 * time.Second,
				Message: "You exceeded your current quota, please check your plan and billing details."},
		},
		{
			name: "429 rate_limit_exceeded with retry-after-ms and resets", status: 429,
			header: hdr("Retry-After-Ms", "1500", "Retry-After", "2",
				"X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "6m0s"),
			body: `{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limit_exceeded", Type: "requests",
				Message: "Rate limit reached for requests", RetryAfter: 2 * time.Second}, // the larger explicit hint
		},
		{
			name: "429 rate_limit_exceeded with reset headers only", status: 429,
			header: hdr("X-Ratelimit-Remaining-Requests", "59", "X-Ratelimit-Reset-Requests", "1s",
				"X-Ratelimit-Remaining-Tokens", "0", "X-Ratelimit-Reset-Tokens", "1m30.5s"),
			body: `{"error":{"message":"Rate limit reached for tokens","type":"tokens","param":null,"code":"rate_limit_exceeded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "rate_limit_exceeded", Type: "tokens",
				Message: "Rate limit reached for tokens", RetryAfter: 90*time.Second + 500*time.Millisecond},
		},
		{
			name: "500 server_error", status: 500,
			body: `{"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "server_error", Message: "The server had an error while processing your request."},
		},
		{
			name: "503 engine_overloaded", status: 503,
			body: `{"error":{"message":"The engine is currently overloaded, please try again later","type":"server_error","param":null,"code":"engine_overloaded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "engine_overloaded", Type: "server_error",
				Message: "The engine is currently overloaded, please try again later"},
		},
		{
			// Groq (OpenAI-compatible): the flex tier at capacity; its docs
			// say to back off and retry (console.groq.com/docs/flex-processing).
			name: "498 capacity_exceeded (Groq flex)", status: 498,
			body: `{"error":{"message":"Flex tier capacity exceeded. Please try again later.","type":"invalid_request_error","code":"capacity_exceeded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "capacity_exceeded", Type: "invalid_request_error",
				Message: "Flex tier capacity exceeded. Please try again later."},
		},
		{
			name: "409 is retried, as OpenAI's SDKs do", status: 409,
			body: `{"error":{"message":"conflict","type":"invalid_request_error"}}`,
			// invalid_request_error is Fatal: the body is stronger than the status.
			want: Decision{Verdict: Fatal, Evidence: ByBody, Type: "invalid_request_error", Message: "conflict"},
		},
		{
			name: "409 without a code", status: 409, body: `{"error":{"message":"lock timeout"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Message: "lock timeout"},
		},
		{
			name: "x-should-retry false overrides a 500 server_error", status: 500, header: hdr("X-Should-Retry", "false"),
			body: `{"error":{"message":"boom","type":"server_error"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByHeader, Type: "server_error", Message: "boom"},
		},
		{
			name: "x-should-retry true overrides a 400", status: 400, header: hdr("X-Should-Retry", "true"),
			body: `{"error":{"message":"try again","type":"invalid_request_error"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByHeader, Type: "invalid_request_error", Message: "try again"},
		},
	})
}

// TestAnthropic covers every error type of Anthropic's API, its request-id
// header and its 529.
func TestAnthropic(t *testing.T) {
	const rid = "req_011CSHoEeqs5C35K2UUqR7Fy"
	seed := []struct {
		status  int
		typ     string
		verdict Verdict
	}{
		{400, "invalid_request_error", Fatal},
		{401, "authentication_error", Fatal},
		{402, "billing_error", Fatal},
		{403, "permission_error", Fatal},
		{404, "not_found_error", Fatal},
		{413, "request_too_large", Fatal},
		{429, "rate_limit_error", Retryable},
		{500, "api_error", Retryable},
		{504, "timeout_error", Retryable},
		{529, "overloaded_error", Retryable},
	}
	var rows []row
	for _, s := range seed {
		rows = append(rows, row{
			name: s.typ, status: s.status, header: hdr("Request-Id", "req_header_only"),
			body: `{"type":"error","error":{"type":"` + s.typ + `","message":"about ` + s.typ + `"},"request_id":"` + rid + `"}`,
			want: Decision{Verdict: s.verdict, Evidence: ByBody, Type: s.typ, Message: "about " + s.typ, RequestID: rid},
		})
	}
	rows = append(rows,
		row{
			name: "request id from the request-id header", status: 529, header: hdr("Request-Id", rid, "X-Should-Retry", "true"),
			body: `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByHeader, Type: "overloaded_error", Message: "Overloaded", RequestID: rid},
		},
		row{
			name: "409 is retried, as Anthropic's SDKs do", status: 409, body: `{"type":"error","error":{"message":"lock"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Message: "lock"},
		},
		row{
			name: "stream opening with overloaded_error", status: 200, header: hdr("Content-Type", "text/event-stream; charset=utf-8", "Request-Id", rid),
			body: "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "overloaded_error", Message: "Overloaded", RequestID: rid},
		},
		row{
			name: "stream opening with message_start", status: 200, header: hdr("Content-Type", "text/event-stream", "Request-Id", rid),
			body: "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"content\":[]}}\n\nevent: ping\ndata: {\"type\": \"ping\"}\n\n",
			want: Decision{Verdict: Success, Evidence: ByStatus, RequestID: rid},
		},
	)
	runRows(t, Anthropic(), rows)
}
