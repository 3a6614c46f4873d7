// Command openai-go-fallback runs github.com/openai/openai-go/v3 on top of
// rebound with a fallback model, against a local fake of the OpenAI API
// that is overloaded for the model asked, and prints which model answered.
//
//	go run ./openai-go-fallback
//
// The setup to copy is newTransport: rebound.WithFallback gives the model's
// key an ordered chain of alternatives. The SDK is unchanged: it asks
// gpt-5.4, and when gpt-5.4 is overloaded rebound sends a copy of the
// request naming gpt-5.4-mini instead; the completion the SDK returns says
// which model wrote it.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
)

// The model asked, and the one that stands in for it.
const (
	model    = openai.ChatModelGPT5_4
	fallback = openai.ChatModelGPT5_4Mini
)

// newTransport returns rebound with gpt-5.4 falling back to gpt-5.4-mini at
// the same host; obs is told of each fallback.
func newTransport(obs rebound.Observer) *rebound.Transport {
	return rebound.New(nil,
		rebound.WithPreset(rebound.OpenAI),
		rebound.WithFallback("*/"+model, rebound.Alternative{Model: fallback}),
		rebound.WithObserver(obs))
}

// newClient returns an OpenAI client whose requests go through rt, with the
// SDK's own retries off (rebound retries and falls back).
func newClient(baseURL string, rt http.RoundTripper) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(baseURL),
		option.WithAPIKey("sk-test"),
		option.WithHTTPClient(&http.Client{Transport: rt}),
		option.WithMaxRetries(0),
	)
}

// ask sends one chat completion and returns the model that answered and
// its text.
func ask(ctx context.Context, client openai.Client) (string, string, error) {
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	})
	if err != nil {
		return "", "", err
	}
	return resp.Model, resp.Choices[0].Message.Content, nil
}

// run asks once against a fake API whose gpt-5.4 is overloaded, and
// prints what happened.
func run() error {
	up := fakeupstream.Start()
	defer up.Close()
	// The first request (gpt-5.4) meets a 503; the next (gpt-5.4-mini) an
	// answer.
	up.Script("/v1/chat/completions", fakeupstream.OpenAIUnavailable(), fakeupstream.OpenAIChat(fallback, "Hello!"))

	obs := rebound.Observer{OnFallback: func(e rebound.FallbackEvent) {
		_, from, _ := strings.Cut(e.Key, "/") // a key is host/model
		_, to, _ := strings.Cut(e.To, "/")
		fmt.Printf("%d from %s: fallback to %s\n", e.Decision.Status, from, to)
	}}
	client := newClient(up.URL+"/v1", newTransport(obs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, text, err := ask(ctx, client)
	if err != nil {
		return err
	}
	fmt.Printf("%q from %s after %d requests\n", text, m, up.Count("/v1/chat/completions"))
	return nil
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
