//go:build !plan9

package classify

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
)

// skytellsBody is an error body in Skytells' shape.
func skytellsBody(id, message, typ, code string) string {
	return fmt.Sprintf(`{"errorId":%q,"message":%q,"details":{"category":"inference"},"requestId":"req_sky_42","error":{"type":%q,"code":%q}}`,
		id, message, typ, code)
}

// TestSeedSkytells covers the API-level rows of seeds/004 (Skytells): the
// errorId decides, and is the Decision's Code.
func TestSeedSkytells(t *testing.T) {
	seed := []struct {
		status  int
		id      string
		verdict Verdict
	}{
		{401, "UNAUTHORIZED", Fatal},
		{403, "FORBIDDEN", Fatal},
		{404, "MODEL_NOT_FOUND", Fatal},
		{429, "RATE_LIMIT_EXCEEDED", Retryable},
		{422, "INVALID_INPUT", Fatal},
		{402, "INSUFFICIENT_CREDITS", Fatal},
		{451, "CONTENT_POLICY_VIOLATION", Fatal},
		{500, "INFERENCE_ERROR", Retryable},
		{500, "INTERNAL_ERROR", Retryable},
		// Named in the seed's prose and handling patterns.
		{402, "PAYMENT_REQUIRED", Fatal},
		{429, "INFERENCE_RATE_LIMITED", Retryable},
	}
	var rows []row
	for _, s := range seed {
		typ, code := "invalid_request_error", strings.ToLower(s.id)
		if s.status == 429 || s.status >= 500 {
			typ, code = "server_error", "service_error"
		}
		msg := "skytells: " + strings.ToLower(strings.ReplaceAll(s.id, "_", " "))
		rows = append(rows, row{
			name:   fmt.Sprintf("%d %s", s.status, s.id),
			status: s.status,
			body:   skytellsBody(s.id, msg, typ, code),
			want: Decision{Verdict: s.verdict, Evidence: ByBody, Code: s.id, Type: typ,
				Message: msg, RequestID: "req_sky_42"},
		})
	}
	rows = append(rows,
		row{
			// "The API may return error IDs not listed": the error object's
			// type speaks for an id the catalog does not know.
			name: "503 unknown errorId, server_error type", status: 503,
			body: skytellsBody("QUEUE_SATURATED", "busy", "server_error", "service_error"),
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "QUEUE_SATURATED", Type: "server_error",
				Message: "busy", RequestID: "req_sky_42"},
		},
		row{
			name: "409 unknown errorId, no error object", status: 409,
			body: `{"errorId":"PREDICTION_ALREADY_RUNNING","message":"already running","requestId":"req_sky_43"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Code: "PREDICTION_ALREADY_RUNNING",
				Message: "already running", RequestID: "req_sky_43"},
		},
		row{
			name: "401 with an sk- key echoed", status: 401,
			body: skytellsBody("UNAUTHORIZED", "API key sk-sky-0123456789abcdef has been revoked.", "invalid_request_error", "invalid_api_key"),
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "UNAUTHORIZED", Type: "invalid_request_error",
				Message: "API key sk-… has been revoked.", RequestID: "req_sky_42"},
		},
	)
	runRows(t, Skytells(), rows)
}

// TestSeedSkytellsClientSide covers the SDK-level and network-level rows of
// seeds/004 (httpStatus 0): they never reach the server, so each is tested as
// what a Go client meets in its place.
func TestSeedSkytellsClientSide(t *testing.T) {
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	ioTimeout := &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
	errs := []struct {
		name string
		err  error
		want Verdict
	}{
		// NETWORK_ERROR: fetch() threw, DNS failure, connection refused.
		{"NETWORK_ERROR: connection refused", refused, Retryable},
		{"NETWORK_ERROR: DNS name not found", &net.DNSError{Err: "no such host", Name: "api.skytells.invalid", IsNotFound: true}, Fatal},
		{"NETWORK_ERROR: DNS server failure", &net.DNSError{Err: "server misbehaving", Name: "api.skytells.ai", IsTemporary: true}, Retryable},
		// REQUEST_TIMEOUT: the client's own timer, an i/o timeout of this attempt.
		{"REQUEST_TIMEOUT: i/o timeout", ioTimeout, Retryable},
		// ABORTED: the caller's AbortSignal, a cancelled context.
		{"ABORTED: context cancelled", context.Canceled, Fatal},
		// WAIT_TIMEOUT: wait() exceeded maxWait, the caller's deadline.
		{"WAIT_TIMEOUT: context deadline", context.DeadlineExceeded, Fatal},
	}
	for _, e := range errs {
		if d := ClassifyError(e.err); d.Verdict != e.want || d.Evidence != ByTransport {
			t.Errorf("%s: ClassifyError(%v) = %v by %v, want %v by transport", e.name, e.err, d.Verdict, d.Evidence, e.want)
		}
	}

	runRows(t, Skytells(), []row{
		// INVALID_JSON: the body was not JSON; the status decides.
		{name: "INVALID_JSON at 502", status: 502, header: hdr("Content-Type", "text/html"),
			body: "<html>Bad Gateway</html>", want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "INVALID_JSON at 400, truncated", status: 400,
			body: `{"errorId":"INVALID_INP`, want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		// PREDICTION_FAILED: a 200 whose prediction failed is an answer; the
		// body of a 200 is never read.
		{name: "PREDICTION_FAILED in a 200", status: 200,
			body: `{"id":"p1","status":"failed","error":"prediction failed"}`, want: Decision{Verdict: Success}},
		// SDK_ERROR and WEBHOOK_SIGNATURE_INVALID are raised inside the SDK
		// (a missing key, an inbound webhook); should a server send them,
		// they are unknown ids and the status decides.
		{name: "SDK_ERROR as a 400 body", status: 400,
			body: `{"errorId":"SDK_ERROR","message":"orchestratorApiKey not set"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Code: "SDK_ERROR", Message: "orchestratorApiKey not set"}},
		{name: "WEBHOOK_SIGNATURE_INVALID as a 401 body", status: 401,
			body: `{"errorId":"WEBHOOK_SIGNATURE_INVALID","message":"HMAC mismatch"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Code: "WEBHOOK_SIGNATURE_INVALID", Message: "HMAC mismatch"}},
	})
}
