package rebound

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
)

// memTransport answers every request with a canned 200 at once, reading and
// closing the request body as a real transport would.
type memTransport struct{ body []byte }

func (m *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
		Request:       r,
	}, nil
}

// chat1KiB is a chat request body of about 1 KiB with the model first.
var chat1KiB = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 80) + `"}]}`

// BenchmarkTransport compares the success path through rebound.New with the
// same request through the bare RoundTripper. Compare rt:bare with
// rt:rebound for the overhead (see README for figures).
func BenchmarkTransport(b *testing.B) {
	bare := &memTransport{body: []byte(`{"id":"chatcmpl-1","choices":[]}`)}
	rts := []struct {
		name string
		rt   http.RoundTripper
	}{
		{"bare", bare},
		{"rebound", New(bare)},
	}
	cases := []struct {
		name string
		req  func() *http.Request
	}{
		{"get", func() *http.Request {
			r, _ := http.NewRequest("GET", "http://api.example.com/v1/models", nil)
			return r
		}},
		{"post-1KiB", func() *http.Request {
			r, _ := http.NewRequest("POST", "http://api.example.com/v1/chat/completions", strings.NewReader(chat1KiB))
			return r
		}},
	}
	for _, c := range cases {
		for _, rt := range rts {
			b.Run("case:"+c.name+";rt:"+rt.name, func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					// Building the request costs the same for both; the
					// difference between rt:bare and rt:rebound is the overhead.
					resp, err := rt.rt.RoundTrip(c.req())
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			})
		}
	}
}
