package rebound

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rebound-http/rebound/ratelimit"
)

// memTransport answers every request with a canned 200 at once, reading and
// closing the request body as a real transport would.
type memTransport struct {
	body   []byte
	header http.Header // nil: Content-Type only
}

func (m *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	h := m.header
	if h == nil {
		h = http.Header{"Content-Type": {"application/json"}}
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
		Request:       r,
	}, nil
}

// chat1KiB is a chat request body of about 1 KiB with the model first, as
// go-openai orders its members.
var chat1KiB = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 80) + `"}]}`

// sdkChat1KiB is a chat request body of about 1 KiB as openai-go and
// anthropic-sdk-go order theirs, the model after the messages, marshalled by
// encoding/json: the text's newlines, quotes and HTML characters escaped.
var sdkChat1KiB = func() []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	text := []string{
		"You are a careful assistant. Answer in plain English; cite the \"source\" when you can.",
		"Summarize the report below in three bullet points.\n\nQ3 <draft>: active users rose 12% & churn fell to 3.1%.",
		"Sure! Here is the summary:\n- Users: +12%\n- Churn: 3.1%\n- Revenue: flat (see \"notes\").",
	}
	var msgs []message
	for n := 0; n < 900; n += len(text[len(msgs)%len(text)]) + 30 {
		role := "system"
		if len(msgs) > 0 {
			role = [...]string{"user", "assistant"}[(len(msgs)-1)%2]
		}
		msgs = append(msgs, message{role, text[len(msgs)%len(text)]})
	}
	b, err := json.Marshal(struct {
		Messages            []message `json:"messages"`
		Model               string    `json:"model"`
		MaxCompletionTokens int       `json:"max_completion_tokens"`
		Temperature         float64   `json:"temperature"`
	}{msgs, "gpt-4o-mini", 256, 0.7})
	if err != nil {
		panic(err)
	}
	return b
}()

// BenchmarkTransport compares the success path through rebound.New with the
// same request through the bare RoundTripper. Compare rt:bare with
// rt:rebound for the overhead (see README for figures).
//
// In the headers:openai cases every answer carries OpenAI's six rate-limit
// headers (x-ratelimit-{limit,remaining,reset}-{requests,tokens}), far from
// spent: rebound reads them, paces on them, and costs each POST in tokens.
func BenchmarkTransport(b *testing.B) {
	body := []byte(`{"id":"chatcmpl-1","choices":[]}`)
	type rt struct {
		name string
		rt   http.RoundTripper
	}
	over := func(bare *memTransport) []rt {
		return []rt{
			{"bare", bare},
			{"rebound", New(bare)},
			// Breakers on (the default) and a generous limit on every key.
			{"rebound-limited", New(bare, WithRateLimits(ratelimit.Limits{Default: ratelimit.Limit{Rate: 1e9, Burst: 1 << 20}}))},
		}
	}
	plain := over(&memTransport{body: body})
	openai := over(&memTransport{body: body, header: openAIHeaders})
	cases := successRequests
	for _, h := range []struct {
		name string
		rts  []rt
	}{{"", plain}, {";headers:openai", openai}} {
		for _, c := range cases {
			for _, rt := range h.rts {
				b.Run("case:"+c.name+h.name+";rt:"+rt.name, func(b *testing.B) {
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
}

// successRequests are the requests of the success path's cases.
var successRequests = []struct {
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
	{"post-1KiB-model-last", func() *http.Request {
		r, _ := http.NewRequest("POST", "http://api.example.com/v1/chat/completions", bytes.NewReader(sdkChat1KiB))
		return r
	}},
}

// TestSuccessPathAllocationsOverBare holds BenchmarkTransport's cases to the
// allocations the README states over the bare transport: none, for a GET and
// for a POST whose body http.NewRequest made (the key is read in place),
// with or without OpenAI's six rate-limit headers. The budget is +3.
func TestSuccessPathAllocationsOverBare(t *testing.T) {
	body := []byte(`{"id":"chatcmpl-1","choices":[]}`)
	for _, h := range []http.Header{nil, openAIHeaders} {
		bare := &memTransport{body: body, header: h}
		tr := New(bare)
		for _, c := range successRequests {
			run := func(rt http.RoundTripper) float64 {
				return testing.AllocsPerRun(200, func() {
					resp, err := rt.RoundTrip(c.req())
					if err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				})
			}
			run(tr) // the key's gate, the told quota
			plain, through := run(bare), run(tr)
			if through > plain {
				t.Errorf("%s, headers %v: %v allocs/op through rebound, %v bare; want no more", c.name, h != nil, through, plain)
			}
		}
	}
}

// openAIHeaders are the headers of an OpenAI answer at a high usage tier
// (30,000 requests and 150M tokens a minute), far from spent: its six
// rate-limit headers and its usual others.
var openAIHeaders = http.Header{
	"Content-Type":                   {"application/json"},
	"Openai-Processing-Ms":           {"312"},
	"X-Request-Id":                   {"req_8f2d0c1a"},
	"X-Ratelimit-Limit-Requests":     {"30000"},
	"X-Ratelimit-Limit-Tokens":       {"150000000"},
	"X-Ratelimit-Remaining-Requests": {"29999"},
	"X-Ratelimit-Remaining-Tokens":   {"149999390"},
	"X-Ratelimit-Reset-Requests":     {"2ms"},
	"X-Ratelimit-Reset-Tokens":       {"0s"},
}
