package classify

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestBodyShapes classifies every body shape the services use, with and
// without a JSON Content-Type, and bodies that must fall back to the status.
func TestBodyShapes(t *testing.T) {
	c := &Catalog{Name: "test", Codes: map[string]Verdict{
		"busy": Retryable, "denied": Fatal, "BUSY_ID": Retryable, "overloaded_error": Retryable,
	}}
	const nested = `{"error":{"code":"busy","type":"t","message":"m","request_id":"r1"}}`
	runRows(t, c, []row{
		{name: "nested error object", status: 400, body: nested,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Type: "t", Message: "m", RequestID: "r1"}},
		{name: "charset parameter", status: 400, header: hdr("Content-Type", "application/json; charset=utf-8"), body: nested,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Type: "t", Message: "m", RequestID: "r1"}},
		{name: "no Content-Type", status: 400, header: http.Header{"Content-Type": nil}, body: "\n  " + nested,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Type: "t", Message: "m", RequestID: "r1"}},
		{name: "text/plain", status: 400, header: hdr("Content-Type", "text/plain"), body: nested,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Type: "t", Message: "m", RequestID: "r1"}},
		{name: "byte order mark", status: 400, body: "\xef\xbb\xbf" + nested,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Type: "t", Message: "m", RequestID: "r1"}},
		{name: "error string and top-level code", status: 500,
			body: `{"error":"permission denied [denied]: no","code":"denied"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "denied", Message: "permission denied [denied]: no"}},
		{name: "top-level code and message", status: 500, body: `{"code":"denied","message":"nope","request_id":"r2"}`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "denied", Message: "nope", RequestID: "r2"}},
		{name: "errorId beats error.code", status: 400,
			body: `{"errorId":"BUSY_ID","message":"m","requestId":"r3","error":{"type":"t","code":"denied"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "BUSY_ID", Type: "t", Message: "m", RequestID: "r3"}},
		{name: "error_id", status: 400, body: `{"error_id":"BUSY_ID"}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "BUSY_ID"}},
		{name: "unknown errorId, known error.code", status: 400, body: `{"errorId":"NEW","error":{"code":"busy"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "NEW"}},
		{name: "unknown error.code, known type", status: 400,
			body: `{"type":"error","error":{"code":"nope","type":"overloaded_error","message":"o"},"request_id":"r4"}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "nope", Type: "overloaded_error", Message: "o", RequestID: "r4"}},
		{name: "top-level type", status: 400, body: `{"type":"overloaded_error","message":"o"}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "overloaded_error", Message: "o"}},
		{name: "nested requestId beats top-level", status: 400, body: `{"request_id":"outer","error":{"requestId":"inner"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, RequestID: "inner"}},
		{name: "body request id beats header", status: 400, header: hdr("X-Request-Id", "hdr"), body: `{"requestId":"body"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, RequestID: "body"}},
		{name: "x-amzn-requestid header", status: 400, header: hdr("X-Amzn-Requestid", "amzn"), body: `{}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, RequestID: "amzn"}},
		{name: "numeric code", status: 503, body: `{"error":{"code":503,"message":"unavailable","status":"UNAVAILABLE"}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Code: "503", Type: "UNAVAILABLE", Message: "unavailable"}},
		{name: "null code and type", status: 400, body: `{"error":{"code":null,"type":null,"message":"m"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "m"}},
		{name: "boolean and object members", status: 400, body: `{"error":{"code":true,"type":{"a":1},"message":["m"]}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "error is a number", status: 429, body: `{"error":429,"message":"slow down"}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus, Message: "slow down"}},
		{name: "top-level message beats the error string", status: 404, body: `{"statusCode":404,"error":"Not Found","message":"Route GET:/v1/x not found"}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Message: "Route GET:/v1/x not found"}},
		{name: "escaped strings", status: 400, body: `{"error":{"code":"bu\u0073y","message":"line\nbreak \"q\""}}`,
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "busy", Message: "line\nbreak \"q\""}},
		{name: "truncated JSON", status: 400, body: `{"error":{"code":"busy","mess`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus}},
		{name: "invalid JSON", status: 503, body: `{"error":{"code":"denied",}}`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "JSON array of error objects", status: 500, body: `[{"error":{"code":"denied"}},{"error":{"code":"busy"}}]`,
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "denied"}},
		{name: "JSON array of something else", status: 500, body: `["denied",{"error":{"code":"denied"}}]`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "empty JSON array", status: 500, body: `[]`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "HTML", status: 502, header: hdr("Content-Type", "text/html"), body: `<html><body>{"code":"denied"}</body></html>`,
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "empty body", status: 429, body: ``,
			want: Decision{Verdict: Retryable, Evidence: ByStatus}},
		{name: "codes are case-sensitive", status: 400, body: `{"error":{"code":"BUSY"}}`,
			want: Decision{Verdict: Fatal, Evidence: ByStatus, Code: "BUSY"}},
		{name: "error event stream at 503", status: 503, header: hdr("Content-Type", "text/event-stream"),
			body: "event: error\ndata: {\"error\":{\"code\":\"denied\"}}\n\nevent: more\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "denied"}},
	})
}

// TestStatusRules checks StatusVerdict and a nil Catalog, which knows no
// codes and overrides no status.
func TestStatusRules(t *testing.T) {
	want := map[int]Verdict{
		100: Success, 200: Success, 204: Success, 304: Success, 399: Success,
		400: Fatal, 401: Fatal, 402: Fatal, 403: Fatal, 404: Fatal, 405: Fatal, 408: Retryable,
		409: Fatal, 413: Fatal, 422: Fatal, 429: Retryable, 451: Fatal, 499: Fatal,
		500: Retryable, 501: Fatal, 502: Retryable, 503: Retryable, 504: Retryable, 505: Fatal,
		507: Retryable, 511: Fatal, 520: Retryable, 529: Retryable, 599: Retryable, 600: Fatal, 999: Fatal,
	}
	var nilCatalog *Catalog
	for status, v := range want {
		if got := StatusVerdict(status); got != v {
			t.Errorf("StatusVerdict(%d) = %v, want %v", status, got, v)
		}
		resp, _ := response(status, nil, `{"error":{"code":"rate_limit_exceeded"}}`)
		if got := nilCatalog.Classify(resp, nil).Verdict; got != v {
			t.Errorf("(*Catalog)(nil).Classify(%d) = %v, want %v", status, got, v)
		}
	}
}

// TestPeekPutsBack checks that the caller reads exactly what the upstream
// sent after a peek, whatever its size, and that Close reaches it.
func TestPeekPutsBack(t *testing.T) {
	big := `{"error":{"code":"x","message":"` + strings.Repeat("a", 300) + `"}}`
	for _, tc := range []struct {
		name    string
		maxPeek int64
		body    string
		cl      int64 // Content-Length; -2 means len(body)
	}{
		{"small", 0, `{"error":{"code":"x"}}`, -2},
		{"larger than MaxPeek", 16, big, -2},
		{"exactly MaxPeek", int64(len(big)), big, -2},
		{"unknown length", 0, big, -1},
		{"length too small", 0, big, 10},
		{"length too large", 0, big, 1 << 40},
		{"MaxPeek negative", -1, big, -2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, u := response(500, nil, tc.body)
			if tc.cl != -2 {
				resp.ContentLength = tc.cl
			}
			c := &Catalog{MaxPeek: tc.maxPeek}
			c.Classify(resp, nil)
			if tc.maxPeek > 0 && u.read > tc.maxPeek {
				t.Errorf("Classify read %d bytes, MaxPeek is %d", u.read, tc.maxPeek)
			}
			if tc.maxPeek < 0 && u.read != 0 {
				t.Errorf("Classify read %d bytes with a negative MaxPeek", u.read)
			}
			checkBody(t, resp, u, tc.body)
		})
	}
}

// TestPeekReadError checks that a read error during the peek reaches the
// caller after the bytes read before it.
func TestPeekReadError(t *testing.T) {
	boom := errors.New("connection reset mid-body")
	u := &upstream{r: io.MultiReader(strings.NewReader(`{"error":{"co`), errReader{boom})}
	resp := &http.Response{StatusCode: 503, Header: http.Header{}, Body: u, ContentLength: -1}
	d := Default().Classify(resp, nil)
	if d.Verdict != Retryable || d.Evidence != ByStatus {
		t.Errorf("Classify = %v by %v, want retryable by status", d.Verdict, d.Evidence)
	}
	got, err := io.ReadAll(resp.Body)
	if string(got) != `{"error":{"co` || !errors.Is(err, boom) {
		t.Errorf("ReadAll = %q, %v; want the peeked bytes, then %v", got, err, boom)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, boom) {
		t.Errorf("Read after the error = %v, want %v again", err, boom)
	}
	resp.Body.Close()
	if !u.closed {
		t.Error("Close did not reach the upstream body")
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// endless is a body of left bytes that are never in memory at once (their
// values are whatever p held); it counts what was read.
type endless struct {
	left, read int64
}

func (e *endless) Read(p []byte) (int, error) {
	if e.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > e.left {
		n = e.left
	}
	e.left -= n
	e.read += n
	return int(n), nil
}

func (e *endless) Close() error { return nil }

// TestHugeBody checks that a 1 GiB error body is read no further than
// MaxPeek during Classify, whatever its Content-Length says, and that an SSE
// stream that never ends an event is bounded too.
func TestHugeBody(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name    string
		status  int
		ctype   string
		cl      int64
		maxPeek int64
	}{
		{"error, length known", 500, "application/json", gib, 0},
		{"error, length unknown", 500, "application/json", -1, 0},
		{"error, length lies", 500, "application/json", 10, 0},
		{"error, small MaxPeek", 500, "application/json", -1, 1000},
		{"event stream", 200, "text/event-stream", -1, 0},
		{"error event stream", 500, "text/event-stream", -1, 0},
		{"success", 200, "application/json", gib, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &endless{left: gib}
			resp := &http.Response{StatusCode: tc.status, Header: hdr("Content-Type", tc.ctype), Body: e, ContentLength: tc.cl}
			(&Catalog{MaxPeek: tc.maxPeek}).Classify(resp, nil)
			limit := tc.maxPeek
			if limit == 0 {
				limit = DefaultMaxPeek
			}
			if tc.status == 200 && tc.ctype != "text/event-stream" {
				limit = 0
			}
			if e.read > limit {
				t.Errorf("Classify read %d bytes, want at most %d", e.read, limit)
			}
			// The caller still gets every byte: the peeked ones, then the rest.
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != gib {
				t.Errorf("caller read %d bytes, %v; want %d", n, err, gib)
			}
		})
	}
}

// TestSuccessUntouched checks that Classify leaves the body of a success
// alone: same reader, nothing read.
func TestSuccessUntouched(t *testing.T) {
	for _, status := range []int{200, 201, 204, 301, 304} {
		resp, u := response(status, hdr("X-Request-Id", "r"), `{"error":{"code":"x"}}`)
		d := Default().Classify(resp, nil)
		if d != (Decision{Status: status}) { // success reads no header: the hot path
			t.Errorf("Classify(%d) = %+v", status, d)
		}
		if resp.Body != io.ReadCloser(u) || u.read != 0 {
			t.Errorf("Classify(%d) touched the body: %d bytes read", status, u.read)
		}
	}
}

// TestNoResponseNoError checks the broken-contract case of Classify(nil, nil).
func TestNoResponseNoError(t *testing.T) {
	if d := Default().Classify(nil, nil); d.Verdict != Fatal || d.Evidence != ByTransport {
		t.Errorf("Classify(nil, nil) = %+v, want fatal by transport", d)
	}
}

// TestBodyLongerThanPeek: an error body longer than MaxPeek is cut in the
// middle of its JSON, yet the members before the cut decide.
func TestBodyLongerThanPeek(t *testing.T) {
	filler := strings.Repeat("x", 100<<10)
	for _, tc := range []struct {
		name    string
		maxPeek int64
		body    string
		want    Decision
	}{
		{"100 KiB 429, code first", 0,
			`{"error":{"code":"insufficient_quota","type":"insufficient_quota","message":"` + filler + `"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "insufficient_quota", Type: "insufficient_quota"}},
		{"message before the cut, code after it", 0,
			`{"error":{"message":"quota","param":"` + filler + `","code":"insufficient_quota"}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Message: "quota"}},
		{"cut inside the code", 20,
			`{"error":{"code":"insufficient_quota"}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus}},
		{"cut right after the code", 37,
			`{"error":{"code":"insufficient_quota"}}`,
			Decision{Verdict: Fatal, Evidence: ByBody, Code: "insufficient_quota"}},
		{"cut inside a number", 19,
			`{"error":{"code":4291}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus}},
		{"Gemini array, cut", 80,
			`[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"` + filler + `"}}]`,
			Decision{Verdict: Retryable, Evidence: ByStatus, Code: "429", Type: "RESOURCE_EXHAUSTED"}},
		{"malformed before the cut", 30,
			`{"error":{"code":"insufficient_quota",,"message":"` + filler + `"}}`,
			Decision{Verdict: Retryable, Evidence: ByStatus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, u := response(429, nil, tc.body)
			c := OpenAI()
			c.MaxPeek = tc.maxPeek
			want := tc.want
			want.Status = 429
			if d := c.Classify(resp, nil); d != want {
				t.Errorf("Classify = %+v\nwant %+v", d, want)
			}
			checkBody(t, resp, u, tc.body)
		})
	}
}

// TestReadErrorAfterCode: a connection reset after the code leaves a cut
// body whose code still decides.
func TestReadErrorAfterCode(t *testing.T) {
	boom := errors.New("connection reset mid-body")
	u := &upstream{r: io.MultiReader(strings.NewReader(`{"error":{"code":"insufficient_quota","mess`), errReader{boom})}
	resp := &http.Response{StatusCode: 429, Header: http.Header{}, Body: u, ContentLength: -1}
	if d := OpenAI().Classify(resp, nil); d.Verdict != Fatal || d.Code != "insufficient_quota" {
		t.Errorf("Classify = %+v, want fatal insufficient_quota", d)
	}
}
