// Package demo is the driver the example programs share: each program
// describes its SDK in an SDK value (how to build a client over rebound, how
// to make one call, how to read the SDK's typed error) and hands it to Main,
// which runs the same scenarios against a local fake upstream and prints
// one line for each.
//
// The SDK descriptions are also what the shared test suite,
// examples/internal/sdktest, runs over.
package demo

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
)

// SDK describes one SDK whose clients have type C.
type SDK[C any] struct {
	// API is the API the SDK calls.
	API API
	// Model is the model the SDK's calls ask.
	Model string
	// ErrorType is the Go type of the SDK's error for an API error
	// response, as the demo prints it: "*openai.Error".
	ErrorType string

	// NewClient returns a client that sends its requests to baseURL
	// through rt, with the SDK's own retries off.
	NewClient func(baseURL string, rt http.RoundTripper) C
	// Ask makes one call with client and returns the answer's text.
	Ask func(ctx context.Context, client C) (string, error)
	// APIError reports whether err holds the SDK's own typed error (found
	// with errors.As) and, if so, its HTTP status and the provider's error
	// code: OpenAI's error.code ("" for null), Anthropic's error.type.
	APIError func(err error) (status int, code string, ok bool)
}

// Main runs the demo on stdout for sdk over rt, against a fake upstream
// that it starts and stops, and exits the program if the demo fails.
func Main[C any](sdk SDK[C], rt http.RoundTripper) {
	up := fakeupstream.Start() // a local stand-in for the API
	client := sdk.NewClient(up.URL+sdk.API.BasePath, rt)
	err := Run(context.Background(), os.Stdout, up, sdk, client, time.Second)
	up.Close()
	if err != nil {
		log.Fatal(err)
	}
}

// Run runs four scenarios with client against up and prints one line for
// each to w. hint is how long the first one's 429 asks the client to wait.
func Run[C any](ctx context.Context, w io.Writer, up *fakeupstream.Server, sdk SDK[C], client C, hint time.Duration) error {
	api, path := sdk.API, sdk.API.Path
	ok := api.OK(sdk.Model, "Hello!")

	// A 429 with a hint: rebound waits it out, then retries.
	up.Script(path, api.RateLimited(hint), ok)
	answer, err := sdk.Ask(ctx, client)
	if err != nil {
		return err
	}
	reqs := up.Requests(path)
	gap := reqs[len(reqs)-1].At.Sub(reqs[0].At).Round(10 * time.Millisecond)
	fmt.Fprintf(w, "429 asking for %v, then 200: %q after %d requests, %v apart\n", hint, answer, len(reqs), gap)

	// A retryable failure: rebound retries after a jittered backoff.
	up.Script(path, api.Retryable(), ok)
	if answer, err = sdk.Ask(ctx, client); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s, then 200: %q after %d requests\n", api.RetryableName, answer, up.Count(path))

	// A fatal response is not retried; the SDK turns it into its own error.
	up.Script(path, api.Fatal())
	_, err = sdk.Ask(ctx, client)
	status, code, isAPIErr := sdk.APIError(err)
	if !isAPIErr {
		return fmt.Errorf("401: got %v, want an %s", err, sdk.ErrorType)
	}
	fmt.Fprintf(w, "401: %s %d %s after %d request\n", sdk.ErrorType, status, code, up.Count(path))

	// A hint longer than the time left is not waited on: the 429 comes back
	// at once; it holds no other caller.
	up.Script(path, api.RateLimited(time.Minute))
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = sdk.Ask(ctx, client)
	if status, _, isAPIErr = sdk.APIError(err); !isAPIErr {
		return fmt.Errorf("deadline: got %v, want an %s", err, sdk.ErrorType)
	}
	took := time.Since(start).Round(time.Microsecond)
	fmt.Fprintf(w, "429 asking for 1m with 2s left: %s %d, back in %v\n", sdk.ErrorType, status, took)

	return nil
}
