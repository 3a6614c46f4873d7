package classify

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestEventStream classifies the first event of 200 event streams.
func TestEventStream(t *testing.T) {
	c := &Catalog{Name: "test", Codes: map[string]Verdict{"stream_error": Retryable, "overloaded_error": Retryable, "bad": Fatal}}
	sse := hdr("Content-Type", "text/event-stream")
	const chunk = `data: {"id":"c1","choices":[{"delta":{"content":"an \"error\" in prose"}}]}`
	runRows(t, c, []row{
		{name: "normal first event", status: 200, header: sse, body: chunk + "\n\n" + chunk + "\n\ndata: [DONE]\n\n",
			want: Decision{}},
		{name: "done at once", status: 200, header: sse, body: "data: [DONE]\n\n", want: Decision{}},
		{name: "ends before its first event", status: 200, header: sse, body: ": keep-alive\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByTransport, Message: "event stream ended before its first event"}},
		{name: "empty stream", status: 200, header: sse, body: "",
			want: Decision{Verdict: Retryable, Evidence: ByTransport, Message: "event stream ended before its first event"}},
		{name: "null error member", status: 200, header: sse, body: "data: {\"error\":null,\"id\":\"c1\"}\n\n", want: Decision{}},
		{name: "error event, nested", status: 200, header: sse,
			body: "event: error\ndata: {\"error\":{\"code\":\"stream_error\",\"message\":\"reset\"}}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_error", Message: "reset"}},
		{name: "error event, top-level code", status: 200, header: sse,
			body: "event: error\ndata: {\"code\":\"stream_error\",\"message\":\"reset\"}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_error", Message: "reset"}},
		{name: "error member without the event name", status: 200, header: sse,
			body: "data: {\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Type: "overloaded_error", Message: "Overloaded"}},
		{name: "unknown code is fatal", status: 200, header: sse,
			body: "data: {\"error\":{\"code\":\"what\",\"message\":\"?\"}}\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "what", Message: "?"}},
		{name: "error event with text data", status: 200, header: sse,
			body: "event: error\ndata: upstream died, key sk-abcdef\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Message: "upstream died, key sk-…"}},
		{name: "error event without data", status: 200, header: sse, body: "event: error\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody}},
		{name: "CRLF line endings", status: 200, header: sse,
			body: "event: error\r\ndata: {\"error\":{\"code\":\"bad\"}}\r\n\r\ndata: more\r\n\r\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "bad"}},
		{name: "CR line endings", status: 200, header: sse,
			body: "event: error\rdata: {\"error\":{\"code\":\"stream_error\"}}\r\rdata: more\r\r",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_error"}},
		{name: "comments, retry and blank lines before the first event", status: 200, header: sse,
			body: ": keep-alive\n\n\nretry: 3000\n\n: processing\nevent: error\ndata: {\"error\":{\"code\":\"bad\"}}\n\n",
			want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "bad"}},
		{name: "data split over lines", status: 200, header: sse,
			body: "event: error\ndata: {\"error\":\ndata:{\"code\":\"stream_error\"}}\n\n",
			want: Decision{Verdict: Retryable, Evidence: ByBody, Code: "stream_error"}},
		{name: "error after a normal first event is the caller's", status: 200, header: sse,
			body: chunk + "\n\nevent: error\ndata: {\"error\":{\"code\":\"bad\"}}\n\n", want: Decision{}},
		{name: "stream ends without a blank line", status: 200, header: sse,
			body: "event: error\ndata: {\"error\":{\"code\":\"bad\"}}", want: Decision{Verdict: Fatal, Evidence: ByBody, Code: "bad"}},
		{name: "not a stream: 200 JSON body unread", status: 200,
			body: `{"error":{"code":"bad"}}`, want: Decision{}},
	})
}

// chunks is a body that returns one chunk per Read and fails the test if
// read past the last one before the test is done with Classify.
type chunks struct {
	t      *testing.T
	parts  []string
	strict bool // reading past the parts is an error
	closed bool
}

func (c *chunks) Read(p []byte) (int, error) {
	if len(c.parts) == 0 {
		if c.strict {
			c.t.Error("Classify read past the first event")
			return 0, errors.New("read past the first event")
		}
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	if c.parts[0] = c.parts[0][n:]; c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

func (c *chunks) Close() error { c.closed = true; return nil }

// TestEventStreamStopsAtFirstEvent checks that the peek reads no further
// than the read that completes the first event, so that a stream whose next
// event is minutes away does not hold up the caller.
func TestEventStreamStopsAtFirstEvent(t *testing.T) {
	for _, parts := range [][]string{
		{"data: {\"id\":1}\n\n"},
		{"data: {\"id\"", ":1}\n", "\n"},
		{": ping\n\n", "event: error\n", "data: {\"error\":{\"code\":\"x\"}}\r\n\r", "\n"},
		{"data: {\"id\":1}\r\n\r"}, // a lone CR ends the blank line
		{"event: error\n\n"},       // an error event needs no data
	} {
		body := &chunks{t: t, parts: append([]string(nil), parts...), strict: true}
		resp := &http.Response{StatusCode: 200, Header: hdr("Content-Type", "text/event-stream"), Body: body, ContentLength: -1}
		Default().Classify(resp, nil)
		peeked, _ := resp.Body.(*peekedBody)
		if peeked == nil {
			t.Fatalf("%q: body not peeked", parts)
		}
		body.strict = false
		got, err := io.ReadAll(resp.Body)
		if want := strings.Join(parts, ""); string(got) != want || err != nil {
			t.Errorf("caller read %q, %v; want %q", got, err, want)
		}
	}
}

// TestEventStreamOneByteReads feeds a stream one byte per Read, with line
// endings split across reads.
func TestEventStreamOneByteReads(t *testing.T) {
	const stream = ": hi\r\n\r\nevent: error\r\ndata: {\"error\":{\"code\":\"stream_error\"}}\r\n\r\ndata: next\r\n\r\n"
	var parts []string
	for i := range stream {
		parts = append(parts, stream[i:i+1])
	}
	body := &chunks{t: t, parts: parts}
	resp := &http.Response{StatusCode: 200, Header: hdr("Content-Type", "text/event-stream"), Body: body, ContentLength: -1}
	d := Gateway().Classify(resp, nil)
	if d.Verdict != Retryable || d.Code != "stream_error" {
		t.Errorf("Classify = %+v, want retryable stream_error", d)
	}
	// The CR of the blank line's CRLF already ends the event: its LF and
	// the next event stay unread.
	if left := strings.Join(body.parts, ""); left != "\ndata: next\r\n\r\n" {
		t.Errorf("left unread %q, want the rest after the first event's last CR", left)
	}
	checkBody(t, resp, nil, stream)
	if !body.closed {
		t.Error("Close did not reach the upstream body")
	}
}

// TestEventStreamBound checks that a first event larger than MaxPeek stops
// the peek at MaxPeek.
func TestEventStreamBound(t *testing.T) {
	stream := "event: error\ndata: {\"error\":{\"code\":\"x\",\"message\":\"" + strings.Repeat("m", 5000) + "\"}}\n\n"
	resp, u := response(200, hdr("Content-Type", "text/event-stream"), stream)
	d := (&Catalog{MaxPeek: 100}).Classify(resp, nil)
	if u.read != 100 {
		t.Errorf("Classify read %d bytes, want MaxPeek = 100", u.read)
	}
	if d.Verdict != Fatal || d.Evidence != ByBody {
		t.Errorf("Classify = %+v, want a fatal error event (truncated)", d)
	}
	checkBody(t, resp, u, stream)

	resp, u = response(200, hdr("Content-Type", "text/event-stream"), stream)
	if d := (&Catalog{MaxPeek: -1}).Classify(resp, nil); d.Verdict != Success || u.read != 0 {
		t.Errorf("MaxPeek -1: Classify = %+v after reading %d bytes, want success and nothing read", d, u.read)
	}
}

func TestIsEventStream(t *testing.T) {
	for ct, want := range map[string]bool{
		"text/event-stream":                  true,
		"Text/Event-Stream":                  true,
		" text/event-stream ; charset=utf-8": true,
		"text/event-stream;charset=utf-8":    true,
		"text/event-streams":                 false,
		"text/event":                         false,
		"application/json":                   false,
		"":                                   false,
	} {
		if got := isEventStream(ct); got != want {
			t.Errorf("isEventStream(%q) = %v, want %v", ct, got, want)
		}
	}
}
