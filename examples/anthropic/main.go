// Command anthropic runs github.com/anthropics/anthropic-sdk-go on top of
// rebound against a local fake of the Anthropic API, and prints what
// happened.
//
//	go run ./anthropic
//
// The client setup to copy is newClient: rebound is the transport of the
// *http.Client handed to option.WithHTTPClient, and option.WithMaxRetries(0)
// turns the SDK's own retries off so that the two layers do not multiply.
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

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
)

// model is the model the examples ask.
const model = anthropic.ModelClaudeSonnet4_6

// path is where the Messages API of the fake upstream is served.
const path = "/v1/messages"

func main() {
	up := fakeupstream.Start() // a local stand-in for https://api.anthropic.com
	defer up.Close()

	transport := rebound.New(nil, rebound.WithPreset(rebound.Anthropic))
	client := newClient(up.URL, transport)

	if err := demo(context.Background(), os.Stdout, up, client, time.Second); err != nil {
		log.Fatal(err)
	}
}

// newClient returns an Anthropic client whose requests go through rt.
func newClient(baseURL string, rt http.RoundTripper) anthropic.Client {
	return anthropic.NewClient(
		option.WithBaseURL(baseURL), // omit to use https://api.anthropic.com/
		option.WithAPIKey("sk-ant-test"),
		option.WithHTTPClient(&http.Client{Transport: rt}),
		// rebound retries; the SDK must not retry on top of it
		// (3 SDK tries of 4 rebound attempts would be 12 requests).
		option.WithMaxRetries(0),
	)
}

// ask sends one message and returns the answer.
func ask(ctx context.Context, client anthropic.Client) (string, error) {
	msg, err := client.Messages.New(ctx, anthropic.MessageNewParams{
		Model:     model,
		MaxTokens: 64,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Say hello"))},
	})
	if err != nil {
		return "", err
	}
	return msg.Content[0].Text, nil
}

// demo runs four scenarios against up and prints one line for each. hint is
// how long the first one's 429 asks the client to wait.
func demo(ctx context.Context, w io.Writer, up *fakeupstream.Server, client anthropic.Client, hint time.Duration) error {
	ok := fakeupstream.AnthropicMessage(string(model), "Hello!")

	// A 429 with a hint: rebound waits it out, then retries.
	up.Script(path, fakeupstream.AnthropicRateLimited(hint), ok)
	answer, err := ask(ctx, client)
	if err != nil {
		return err
	}
	reqs := up.Requests(path)
	gap := reqs[len(reqs)-1].At.Sub(reqs[0].At).Round(10 * time.Millisecond)
	fmt.Fprintf(w, "429 asking for %v, then 200: %q after %d requests, %v apart\n", hint, answer, len(reqs), gap)

	// A retryable failure: rebound retries after a jittered backoff.
	up.Script(path, fakeupstream.AnthropicOverloaded(), ok)
	if answer, err = ask(ctx, client); err != nil {
		return err
	}
	fmt.Fprintf(w, "529 overloaded, then 200: %q after %d requests\n", answer, up.Count(path))

	// A fatal response is not retried; the SDK turns it into its own error.
	up.Script(path, fakeupstream.AnthropicUnauthorized())
	_, err = ask(ctx, client)
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("401: got %v, want an *anthropic.Error", err)
	}
	fmt.Fprintf(w, "401: *anthropic.Error %d %s after %d request\n", apiErr.StatusCode, apiErr.Type(), up.Count(path))

	// A hint longer than the time left is not waited on: the 429 comes back
	// at once, and the next call to the cooling-down model fails fast with
	// rebound's error, which errors.Is finds through the SDK's wrapping.
	up.Script(path, fakeupstream.AnthropicRateLimited(time.Minute))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = ask(ctx, client)
	if !errors.As(err, &apiErr) {
		return fmt.Errorf("deadline: got %v, want an *anthropic.Error", err)
	}
	took := time.Since(start).Round(time.Microsecond)
	fmt.Fprintf(w, "429 asking for 1m with 2s left: *anthropic.Error %d, back in %v\n", apiErr.StatusCode, took)

	_, err = ask(ctx, client)
	var rerr *rebound.Error
	if !errors.Is(err, rebound.ErrWouldExceedDeadline) || !errors.As(err, &rerr) {
		return fmt.Errorf("cool-down: got %v, want rebound.ErrWouldExceedDeadline", err)
	}
	fmt.Fprintf(w, "next call while %s cools down: rebound.ErrWouldExceedDeadline, %d request sent in all\n",
		rerr.Key, up.Count(path))
	return nil
}
