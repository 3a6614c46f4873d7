package classify

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// rewindable is a response body that a benchmark rewinds between runs.
type rewindable struct{ bytes.Reader }

func (*rewindable) Close() error { return nil }

// benchResponse returns a response whose body reset rewinds.
func benchResponse(status int, h http.Header, body string) (resp *http.Response, reset func()) {
	b, data := &rewindable{}, []byte(body)
	resp = &http.Response{StatusCode: status, Header: h, ContentLength: int64(len(body))}
	return resp, func() {
		b.Reset(data)
		resp.Body = b
	}
}

var benchCases = []struct {
	name   string
	status int
	h      http.Header
	body   string
}{
	{"case:200", 200, hdr("Content-Type", "application/json", "X-Request-Id", "req_1"), `{"id":"chatcmpl-1","choices":[]}`},
	{"case:429-json", 429, hdr("Content-Type", "application/json", "Retry-After", "2", "X-Request-Id", "req_1"),
		`{"error":{"message":"Rate limit reached for requests","type":"requests","param":null,"code":"rate_limit_exceeded"}}`},
	{"case:sse-first-event", 200, hdr("Content-Type", "text/event-stream"),
		"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hello\"}}]}\n\n" +
			"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" world\"}}]}\n\n"},
}

func BenchmarkClassify(b *testing.B) {
	c := OpenAI()
	for _, bc := range benchCases {
		b.Run(bc.name, func(b *testing.B) {
			resp, reset := benchResponse(bc.status, bc.h, bc.body)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				reset()
				if d := c.Classify(resp, nil); d.Status != bc.status {
					b.Fatal(d)
				}
			}
		})
	}
	b.Run("case:429-json;goroutines:all", func(b *testing.B) {
		bc := benchCases[1]
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			resp, reset := benchResponse(bc.status, bc.h, bc.body)
			for pb.Next() {
				reset()
				c.Classify(resp, nil)
			}
		})
	})
}

// TestClassify200NoAlloc holds the promise that classifying an ordinary
// success costs no allocation.
func TestClassify200NoAlloc(t *testing.T) {
	c := OpenAI()
	bc := benchCases[0]
	resp, reset := benchResponse(bc.status, bc.h, bc.body)
	reset()
	if n := testing.AllocsPerRun(1000, func() { c.Classify(resp, nil) }); n != 0 {
		t.Errorf("Classify(200) allocates %v times per call, want 0", n)
	}
	if got, _ := io.ReadAll(resp.Body); string(got) != bc.body {
		t.Errorf("body after Classify(200) = %q", got)
	}
}
