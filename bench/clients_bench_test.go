package main

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// memTransport answers every request with a canned 200 and a small JSON
// body, without a network: what is left is each client's own overhead.
type memTransport struct{}

const cannedBody = `{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}]}`

func (memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_, _ = io.Copy(io.Discard, req.Body)
		req.Body.Close()
	}
	return &http.Response{
		Status: "200 OK", StatusCode: http.StatusOK, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(strings.NewReader(cannedBody)),
		ContentLength: int64(len(cannedBody)),
		Request:       req,
	}, nil
}

// payload1KiB is a 1 KiB chat-completion request.
var payload1KiB = func() []byte {
	head, tail := `{"model":"gpt-4o","messages":[{"role":"user","content":"`, `"}]}`
	return []byte(head + strings.Repeat("a", 1024-len(head)-len(tail)) + tail)
}()

// BenchmarkClients measures each client's success path over the same
// in-memory transport: ns/op and allocs/op are the client's overhead per
// call (the request construction and the transport are the same for all).
func BenchmarkClients(b *testing.B) {
	const url = "http://api.example.test/v1/chat/completions"
	cases := []struct {
		name     string
		method   string
		body     []byte
		parallel bool
	}{
		{"get", http.MethodGet, nil, false},
		{"post-1KiB", http.MethodPost, payload1KiB, false},
		{"post-1KiB;goroutines:GOMAXPROCS", http.MethodPost, payload1KiB, true},
	}
	for _, c := range clients() {
		for _, tc := range cases {
			b.Run("client:"+c.name+";case:"+tc.name, func(b *testing.B) {
				hc := c.new(memTransport{}, upstream{})
				call := func(b *testing.B) {
					var body io.Reader
					if tc.body != nil {
						body = bytes.NewReader(tc.body)
					}
					req, err := http.NewRequest(tc.method, url, body)
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Content-Type", "application/json")
					resp, err := hc.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
				b.ReportAllocs()
				b.SetBytes(int64(len(tc.body)))
				if tc.parallel {
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							call(b)
						}
					})
					return
				}
				for i := 0; i < b.N; i++ {
					call(b)
				}
			})
		}
	}
}
