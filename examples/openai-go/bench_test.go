package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"
	"github.com/rebound-http/rebound"
)

// memUpstream answers every request with a canned chat completion at once,
// reading the request's body as a real transport would.
type memUpstream struct{ header http.Header }

var completion = []byte(`{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-5.4-mini","choices":[{"index":0,"message":{"role":"assistant","content":"Hello!"},"finish_reason":"stop"}],"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`)

func (m memUpstream) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        m.header.Clone(),
		Body:          io.NopCloser(bytes.NewReader(completion)),
		ContentLength: int64(len(completion)),
		Request:       r,
	}, nil
}

// conversation is about 1 KiB of chat, which openai-go sends before the
// model.
var conversation = []openai.ChatCompletionMessageParamUnion{
	openai.SystemMessage("You are a careful assistant. Answer in plain English; cite the \"source\" when you can."),
	openai.UserMessage("Summarize the report below in three bullet points.\n\n" + strings.Repeat("Q3 <draft>: active users rose 12% & churn fell to 3.1%. ", 12)),
	openai.AssistantMessage("Sure! Here is the summary:\n- Users: +12%\n- Churn: 3.1%\n- Revenue: flat (see \"notes\")."),
	openai.UserMessage("Thanks. Now in one sentence."),
}

// BenchmarkChatCompletion makes one chat completion through openai-go on an
// in-memory upstream, bare and through rebound as newClient sets it up:
// what rebound adds to a call as the SDK makes it, beside what the SDK
// itself costs. In the headers:openai cases every answer carries OpenAI's
// six rate-limit headers, which rebound reads and paces on.
func BenchmarkChatCompletion(b *testing.B) {
	openAIHeaders := http.Header{
		"Content-Type":                   {"application/json"},
		"X-Ratelimit-Limit-Requests":     {"30000"},
		"X-Ratelimit-Limit-Tokens":       {"150000000"},
		"X-Ratelimit-Remaining-Requests": {"29999"},
		"X-Ratelimit-Remaining-Tokens":   {"149999390"},
		"X-Ratelimit-Reset-Requests":     {"2ms"},
		"X-Ratelimit-Reset-Tokens":       {"0s"},
	}
	for _, h := range []struct {
		name   string
		header http.Header
	}{{"", http.Header{"Content-Type": {"application/json"}}}, {";headers:openai", openAIHeaders}} {
		up := memUpstream{h.header}
		var keys atomic.Value
		observed := rebound.New(up, rebound.WithPreset(rebound.OpenAI), rebound.WithObserver(rebound.Observer{
			OnAttempt: func(e rebound.AttemptEvent) { keys.Store(e.Key) },
		}))
		for _, rt := range []struct {
			name string
			rt   http.RoundTripper
		}{{"bare", up}, {"rebound", rebound.New(up, rebound.WithPreset(rebound.OpenAI))}, {"rebound-observed", observed}} {
			b.Run("case:chat-1KiB"+h.name+";rt:"+rt.name, func(b *testing.B) {
				client := newClient("http://api.example.com/v1/", rt.rt)
				params := openai.ChatCompletionNewParams{Model: model, Messages: conversation}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
						b.Fatal(err)
					}
				}
				if rt.name == "rebound-observed" {
					if got, want := keys.Load(), "api.example.com/"+model; got != want {
						b.Fatalf("key %q, want %q", got, want)
					}
				}
			})
		}
	}
}
