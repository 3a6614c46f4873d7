// Command go-openai runs github.com/sashabaranov/go-openai on top of rebound
// against a local fake of the OpenAI API, and prints what happened.
//
//	go run ./go-openai
//
// The client setup to copy is newClient: rebound is the transport of the
// *http.Client in ClientConfig.HTTPClient. go-openai has no retries of its
// own, so there is nothing to turn off.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
	"github.com/sashabaranov/go-openai"
)

// model is the model the examples ask.
const model = openai.GPT4oMini

// path is where the chat completions of the fake upstream are served.
const path = "/v1/chat/completions"

func main() {
	up := fakeupstream.Start() // a local stand-in for https://api.openai.com
	defer up.Close()

	transport := rebound.New(nil, rebound.WithPreset(rebound.OpenAI))
	client := newClient(up.URL+"/v1", transport)

	if err := demo(context.Background(), os.Stdout, up, client, time.Second); err != nil {
		log.Fatal(err)
	}
}

// newClient returns a go-openai client whose requests go through rt.
func newClient(baseURL string, rt http.RoundTripper) *openai.Client {
	cfg := openai.DefaultConfig("sk-test")
	cfg.BaseURL = baseURL // omit to use https://api.openai.com/v1
	cfg.HTTPClient = &http.Client{Transport: rt}
	return openai.NewClientWithConfig(cfg)
}

// ask sends one chat completion and returns the answer.
func ask(ctx context.Context, client *openai.Client) (string, error) {
	resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model:    model,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Say hello"}},
	})
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content, nil
}

// demo runs four scenarios against up and prints one line for each. hint is
// how long the first one's 429 asks the client to wait.
func demo(ctx context.Context, w io.Writer, up *fakeupstream.Server, client *openai.Client, hint time.Duration) error {
	ok := fakeupstream.OpenAIChat(model, "Hello!")

	// A 429 with a hint: rebound waits it out, then retries.
	up.Script(path, fakeupstream.OpenAIRateLimited(hint), ok)
	answer, err := ask(ctx, client)
	if err != nil {
		return err
	}
	reqs := up.Requests(path)
	gap := reqs[len(reqs)-1].At.Sub(reqs[0].At).Round(10 * time.Millisecond)
	fmt.Fprintf(w, "429 asking for %v, then 200: %q after %d requests, %v apart\n", hint, answer, len(reqs), gap)

	// A retryable failure: rebound retries after a jittered backoff.
	up.Script(path, fakeupstream.OpenAIUnavailable(), ok)
	if answer, err = ask(ctx, client); err != nil {
		return err
	}
	fmt.Fprintf(w, "503, then 200: %q after %d requests\n", answer, up.Count(path))

	// A fatal response is not retried; the SDK turns it into its own error.
	up.Script(path, fakeupstream.OpenAIInvalidKey())
	_, err = ask(ctx, client)
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("401: got %v, want an *openai.APIError", err)
	}
	fmt.Fprintf(w, "401: *openai.APIError %d %v after %d request\n", apiErr.HTTPStatusCode, apiErr.Code, up.Count(path))

	// A hint longer than the time left is not waited on: the 429 comes back
	// at once, and the next call to the cooling-down model fails fast with
	// rebound's error, which errors.Is finds through the SDK's wrapping.
	up.Script(path, fakeupstream.OpenAIRateLimited(time.Minute))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = ask(ctx, client)
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("deadline: got %v, want an *openai.APIError", err)
	}
	took := time.Since(start).Round(time.Microsecond)
	fmt.Fprintf(w, "429 asking for 1m with 2s left: *openai.APIError %d, back in %v\n", apiErr.HTTPStatusCode, took)

	_, err = ask(ctx, client)
	var rerr *rebound.Error
	if !errors.Is(err, rebound.ErrWouldExceedDeadline) || !errors.As(err, &rerr) {
		return fmt.Errorf("cool-down: got %v, want rebound.ErrWouldExceedDeadline", err)
	}
	fmt.Fprintf(w, "next call while %s cools down: rebound.ErrWouldExceedDeadline, %d request sent in all\n",
		rerr.Key, up.Count(path))
	return nil
}
