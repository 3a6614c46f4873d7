package key

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// chatBody returns a chat-completion request body of at least size bytes,
// marshalled as encoding/json (and openai-go, which puts "messages" before
// "model") does, with "model" first if modelFirst.
func chatBody(size int, modelFirst bool) []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	paragraphs := []string{
		"Summarize the following report in three bullet points.\n\nThe quarterly figures show a 12% rise in \"active\" users.",
		"Here is the code:\n```go\nfunc main() {\n\tfmt.Println(\"hello, 世界\")\n}\n```\nWhy does it print <nil> & exit?",
		"Sure! The function prints a greeting; the \\n escapes are newlines. Données: café, naïve, emoji 🚀.",
	}
	var msgs []message
	for n := 0; n < size; {
		p := paragraphs[len(msgs)%len(paragraphs)]
		role := "user"
		if len(msgs)%2 == 1 {
			role = "assistant"
		}
		msgs = append(msgs, message{role, p + " (" + strconv.Itoa(len(msgs)) + ")"})
		n += len(p) + 40
	}
	var body []byte
	if modelFirst {
		body, _ = json.Marshal(struct {
			Model       string    `json:"model"`
			Messages    []message `json:"messages"`
			Temperature float64   `json:"temperature"`
		}{"gpt-4o", msgs, 0.7})
	} else {
		body, _ = json.Marshal(struct {
			Messages    []message `json:"messages"`
			Model       string    `json:"model"`
			Temperature float64   `json:"temperature"`
		}{msgs, "gpt-4o", 0.7})
	}
	return body
}

func BenchmarkModelFromJSON(b *testing.B) {
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"case:100KiB;model:first", chatBody(100<<10, true)},
		{"case:100KiB;model:last", chatBody(100<<10, false)},
		{"case:1KiB;model:last", chatBody(1<<10, false)},
		// The model after a small array and before the messages: skipped
		// from the start, the array does not send the scan to the end.
		{"case:100KiB;model:after-stop", append([]byte(`{"stop":["\n\n"],`), chatBody(100<<10, true)[1:]...)},
		// The model after a longer array and before the messages: the
		// look at the end reads back through the messages first.
		{"case:100KiB;model:after-tools", append([]byte(`{"tools":[`+strings.Repeat(`{"type":"function","function":{"name":"f"}},`, 3)+`{}],`), chatBody(100<<10, true)[1:]...)},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for range b.N {
				if m, ok := ModelFromJSON(c.body); !ok || m != "gpt-4o" {
					b.Fatalf("got %q, %v", m, ok)
				}
			}
		})
	}
	// For comparison: what decoding the top level with encoding/json costs.
	body := chatBody(100<<10, false)
	b.Run("case:100KiB;model:last;impl:encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		b.ReportAllocs()
		for range b.N {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(body, &m); err != nil || !bytes.Equal(m["model"], []byte(`"gpt-4o"`)) {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkKey(b *testing.B) {
	get := httptest.NewRequest(http.MethodGet, "https://api.openai.com/v1/models", nil)
	post := httptest.NewRequest(http.MethodPost, "https://api.openai.com/v1/chat/completions", nil)
	gemini := httptest.NewRequest(http.MethodPost, "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent", nil)
	for _, c := range []struct {
		name string
		req  *http.Request
		body []byte
		want string
	}{
		{"case:get", get, nil, "api.openai.com"},
		{"case:post-1KiB", post, chatBody(1<<10, false), "api.openai.com/gpt-4o"},
		{"case:post-100KiB", post, chatBody(100<<10, false), "api.openai.com/gpt-4o"},
		{"case:post-gemini-path", gemini, chatBody(1<<10, false), "generativelanguage.googleapis.com/gemini-1.5-pro"},
	} {
		b.Run(c.name, func(b *testing.B) {
			if _, inPath := ModelFromPath(c.req.URL.Path); !inPath {
				b.SetBytes(int64(len(c.body))) // the body is scanned
			}
			b.ReportAllocs()
			for range b.N {
				if k := Of(c.req, c.body); k != c.want {
					b.Fatalf("Key = %q, want %q", k, c.want)
				}
			}
		})
	}
}
