package classify

import (
	"fmt"
	"testing"
)

// TestSeedGateway covers every row of seeds/003 (the inference gateway):
// the HTTP status list, sent with a code the catalog does not know so that
// the status decides; the example body; and every code of the four tables,
// whose Retryable column is the verdict. The statuses the codes come with
// are not in the seed and are chosen to fit; the stream codes are also sent
// as the first event of a 200 event stream, where the seed says they occur.
func TestSeedGateway(t *testing.T) {
	statuses := []struct {
		status  int
		verdict Verdict
	}{
		{400, Fatal}, {401, Fatal}, {403, Fatal}, {404, Fatal}, {409, Fatal},
		{429, Retryable}, {500, Retryable}, {502, Retryable}, {503, Retryable},
	}
	var rows []row
	for _, s := range statuses {
		rows = append(rows, row{
			name:   fmt.Sprintf("status %d", s.status),
			status: s.status,
			body:   `{"error":{"type":"http_error","code":"unlisted","message":"see status"}}`,
			want: Decision{Verdict: s.verdict, Evidence: ByStatus, Code: "unlisted", Type: "http_error",
				Message: "see status"},
		})
	}
	rows = append(rows, row{
		name:   "example body",
		status: 400,
		body:   `{"error":{"type":"bad_request","code":"invalid_argument","message":"Invalid 'temperature': decimal above maximum value. "}}`,
		want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "invalid_argument", Type: "bad_request",
			Message: "Invalid 'temperature': decimal above maximum value. "},
	})

	codes := []struct {
		status  int
		typ     string
		code    string
		verdict Verdict
	}{
		// Authentication.
		{401, "authentication", "missing_api_key", Fatal},
		{401, "authentication", "invalid_api_key", Fatal},
		{403, "authentication", "unauthorized", Fatal},
		// Client errors.
		{429, "rate_limit", "rate_limit_exceeded", Retryable},
		{400, "bad_request", "invalid_request", Fatal},
		{400, "bad_request", "invalid_argument", Fatal},
		{404, "bad_request", "not_found", Fatal},
		{404, "bad_request", "unknown_model", Fatal},
		{400, "bad_request", "invalid_content_media", Fatal},
		{400, "bad_request", "unavailable_content_media", Fatal},
		{400, "bad_request", "unsafe_content", Fatal},
		{404, "bad_request", "unknown_app", Fatal},
		{400, "bad_request", "invalid_app", Fatal},
		{400, "bad_request", "unsupported_interface", Fatal},
		// Gateway internal errors: not retryable, whatever the status says.
		{500, "gateway", "unknown_workspace", Fatal},
		{500, "gateway", "failed_request", Fatal},
		{500, "gateway", "internal_error", Fatal},
		// Model server errors.
		{502, "model", "model_server_error", Retryable},
		{503, "model", "model_overloaded", Retryable},
		{503, "model", "model_unavailable", Fatal},
		{504, "model", "model_timeout", Retryable},
		{500, "model", "stream_error", Retryable},
		{500, "model", "stream_terminated", Retryable},
	}
	for _, c := range codes {
		msg := "gateway says " + c.code
		rows = append(rows, row{
			name:   fmt.Sprintf("%d %s", c.status, c.code),
			status: c.status,
			body:   fmt.Sprintf(`{"error":{"type":%q,"code":%q,"message":%q}}`, c.typ, c.code, msg),
			want:   Decision{Verdict: c.verdict, Evidence: ByBody, Code: c.code, Type: c.typ, Message: msg},
		})
	}

	sse := hdr("Content-Type", "text/event-stream")
	rows = append(rows,
		row{
			name: "200 stream opening with stream_error", status: 200, header: sse,
			body: "event: error\ndata: {\"error\":{\"type\":\"model\",\"code\":\"stream_error\",\"message\":\"upstream reset\"}}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_error", Type: "model", Message: "upstream reset"},
		},
		row{
			name: "200 stream opening with stream_terminated, data only", status: 200, header: sse,
			body: "data: {\"error\":{\"type\":\"model\",\"code\":\"stream_terminated\",\"message\":\"terminated\"}}\r\n\r\ndata: [DONE]\r\n\r\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_terminated", Type: "model", Message: "terminated"},
		},
		row{
			name: "200 stream opening with an unknown error", status: 200, header: sse,
			body: "event: error\ndata: {\"error\":{\"code\":\"brand_new\",\"message\":\"?\"}}\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "brand_new", Message: "?"},
		},
		row{
			name: "200 stream with a normal first event", status: 200, header: sse,
			body: "data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DONE]\n\n",
			want: Decision{Verdict: Success, Evidence: ByStatus},
		},
	)
	runRows(t, Gateway(), rows)
}
