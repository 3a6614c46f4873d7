package rebound

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rebound-http/rebound/ratelimit"
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
		// Breakers on (the default) and a generous limit on every key.
		{"rebound-limited", New(bare, WithRateLimits(ratelimit.Limits{Default: ratelimit.Limit{Rate: 1e9, Burst: 1 << 20}}))},
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

// TestSuccessPathAllocations holds the success path to its allocation budget
// over the bare RoundTripper: none for a GET (a closed breaker counts a
// success without gobreaker), +2 for a POST (GetBody's reader and its
// wrapper, used to find the model).
func TestSuccessPathAllocations(t *testing.T) {
	bare := &memTransport{body: []byte(`{}`)}
	tr := New(bare)
	for _, tc := range []struct {
		name  string
		extra float64
		req   func() *http.Request
	}{
		{"get", 0, func() *http.Request {
			r, _ := http.NewRequest("GET", "http://api.example.com/v1/models", nil)
			return r
		}},
		{"post-1KiB", 2, func() *http.Request {
			r, _ := http.NewRequest("POST", "http://api.example.com/v1/chat/completions", strings.NewReader(chat1KiB))
			return r
		}},
	} {
		run := func(rt http.RoundTripper) float64 {
			return testing.AllocsPerRun(200, func() {
				resp, err := rt.RoundTrip(tc.req())
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			})
		}
		run(tr) // intern the key, build the breaker
		if b, r := run(bare), run(tr); r-b > tc.extra {
			t.Errorf("%s: %v allocs/op through rebound, %v bare: %v extra, budget %v", tc.name, r, b, r-b, tc.extra)
		}
	}
}
