package fakeupstream

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// get sends one POST to path and returns the status, headers and body.
func get(t *testing.T, c *http.Client, s *Server, path string) (int, http.Header, string) {
	t.Helper()
	resp, err := c.Post(s.URL+path, "application/json", strings.NewReader(`{"model":"m"}`))
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func newClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func TestScriptOrderAndLastRepeats(t *testing.T) {
	s := Start()
	defer s.Close()
	c := newClient(t)
	s.Script("/a", OpenAIUnavailable(), OpenAIRateLimited(50*time.Millisecond), OpenAIChat("m", "hi"))

	for i, want := range []int{503, 429, 200, 200, 200} {
		if got, _, _ := get(t, c, s, "/a"); got != want {
			t.Errorf("request %d: status %d, want %d", i+1, got, want)
		}
	}
	if got := s.Count("/a"); got != 5 {
		t.Errorf("Count = %d, want 5", got)
	}
	reqs := s.Requests("/a")
	if len(reqs) != 5 || string(reqs[0].Body) != `{"model":"m"}` || reqs[0].Method != http.MethodPost {
		t.Errorf("Requests[0] = %+v", reqs[0])
	}
	for i := 1; i < len(reqs); i++ {
		if reqs[i].At.Before(reqs[i-1].At) {
			t.Errorf("request %d arrived before request %d", i+1, i)
		}
	}

	s.Script("/a", AnthropicOverloaded())
	if got := s.Count("/a"); got != 0 {
		t.Errorf("Count after Script = %d, want 0", got)
	}
	if got, _, _ := get(t, c, s, "/a"); got != 529 {
		t.Errorf("after rescript: status %d, want 529", got)
	}
}

func TestUnscriptedPathIs404(t *testing.T) {
	s := Start()
	defer s.Close()
	status, _, body := get(t, newClient(t), s, "/nope")
	if status != http.StatusNotFound || !strings.Contains(body, "/nope") {
		t.Errorf("got %d %s, want 404 naming the path", status, body)
	}
	if s.Count("/nope") != 1 {
		t.Errorf("Count = %d, want 1", s.Count("/nope"))
	}
}

func TestReplies(t *testing.T) {
	s := Start()
	defer s.Close()
	c := newClient(t)
	tests := []struct {
		name       string
		reply      Reply
		status     int
		errType    string // error.type in the body, "" for a success
		header     string // a header that must be present
		headerWant string
	}{
		{"openai-chat", OpenAIChat("gpt-4o-mini", `say "hi"`), 200, "", "X-Request-Id", "req_1"},
		{"openai-429", OpenAIRateLimited(1500 * time.Millisecond), 429, "requests", "Retry-After-Ms", "1500"},
		{"openai-429-seconds", OpenAIRateLimited(2 * time.Second), 429, "requests", "Retry-After", "2"},
		{"openai-503", OpenAIUnavailable(), 503, "server_error", "Content-Type", "application/json"},
		{"openai-401", OpenAIInvalidKey(), 401, "invalid_request_error", "", ""},
		{"anthropic-message", AnthropicMessage("claude-x", "hi"), 200, "", "Request-Id", "req_6"},
		{"anthropic-529", AnthropicOverloaded(), 529, "overloaded_error", "", ""},
		{"anthropic-429", AnthropicRateLimited(50 * time.Millisecond), 429, "rate_limit_error", "Retry-After-Ms", "50"},
		{"anthropic-401", AnthropicUnauthorized(), 401, "authentication_error", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.Script("/r", tt.reply)
			status, h, body := get(t, c, s, "/r")
			if status != tt.status {
				t.Errorf("status %d, want %d", status, tt.status)
			}
			var v struct {
				Error struct {
					Type string `json:"type"`
				} `json:"error"`
			}
			if err := json.Unmarshal([]byte(body), &v); err != nil {
				t.Fatalf("body is not JSON: %v\n%s", err, body)
			}
			if v.Error.Type != tt.errType {
				t.Errorf("error.type = %q, want %q", v.Error.Type, tt.errType)
			}
			if tt.header != "" && h.Get(tt.header) != tt.headerWant {
				t.Errorf("%s = %q, want %q", tt.header, h.Get(tt.header), tt.headerWant)
			}
		})
	}
}

func TestHintOmitsRetryAfterForFractionalSeconds(t *testing.T) {
	h := Hint(50 * time.Millisecond)
	if h.Get("Retry-After") != "" || h.Get("Retry-After-Ms") != "50" {
		t.Errorf("Hint(50ms) = %v", h)
	}
}
