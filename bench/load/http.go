package load

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/rebound-http/rebound/bench/sim"
)

// HTTPTarget sends calls as OpenAI chat-completion requests. Its fields are
// read-only once calls are under way.
type HTTPTarget struct {
	// Client sends the requests.
	Client *http.Client
	// URLs are the base URLs of the models, indexed by Call.Model.
	URLs []string
	// Models are the model names, indexed by Call.Model.
	Models []string
	// Stream asks for text/event-stream responses; a stream whose first
	// event is an error is a failed call.
	Stream bool
	// ErrKind names the failure a client error stands for. If nil, a
	// deadline is "deadline" and any other error "transport error".
	ErrKind func(error) string
}

// Do performs c; it satisfies Doer.
func (t *HTTPTarget) Do(ctx context.Context, c Call) string {
	body, _ := json.Marshal(chatRequest{
		Model:     t.Models[c.Model],
		Messages:  []message{{Role: "user", Content: Prompt(c.PromptTokens)}},
		Stream:    t.Stream,
		MaxTokens: c.MaxTokens,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URLs[c.Model]+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "bad request: " + err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(sim.CallHeader, strconv.FormatUint(c.ID, 10))
	resp, err := t.Client.Do(req)
	if err != nil {
		return t.errKind(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return t.errKind(err)
	}
	if resp.StatusCode != http.StatusOK {
		return "HTTP " + strconv.Itoa(resp.StatusCode)
	}
	if t.Stream && FirstEventIsError(b) {
		return "stream error event"
	}
	return ""
}

func (t *HTTPTarget) errKind(err error) string {
	if t.ErrKind != nil {
		return t.ErrKind(err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "deadline"
	}
	return "transport error"
}

type chatRequest struct {
	Model     string    `json:"model"`
	Messages  []message `json:"messages"`
	Stream    bool      `json:"stream"`
	MaxTokens int       `json:"max_tokens,omitempty"`
}

// DefaultPrompt is the prompt of a call whose PromptTokens is zero.
const DefaultPrompt = "Say hi."

// promptText is repeated to make prompts of a given size.
const promptText = "Summarize the following support ticket and suggest a reply. "

// Prompt returns the prompt of a call of the given size: tokens·4
// characters of text (the four-characters-a-token rule the upstream
// estimates prompts with), or DefaultPrompt when tokens is zero.
func Prompt(tokens int) string {
	if tokens <= 0 {
		return DefaultPrompt
	}
	n := 4 * tokens
	return strings.Repeat(promptText, n/len(promptText)+1)[:n]
}

type message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// FirstEventIsError reports whether the first event of the text/event-stream
// body is an error: an "event: error" field, or data that is a JSON object
// with an "error" member.
func FirstEventIsError(body []byte) bool {
	event, _, _ := bytes.Cut(bytes.ReplaceAll(body, []byte("\r\n"), []byte("\n")), []byte("\n\n"))
	for _, line := range bytes.Split(event, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("event:")); ok && string(bytes.TrimSpace(v)) == "error" {
			return true
		}
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			var obj map[string]json.RawMessage
			if json.Unmarshal(bytes.TrimSpace(v), &obj) == nil && obj["error"] != nil {
				return true
			}
		}
	}
	return false
}
