// Command anthropic runs github.com/anthropics/anthropic-sdk-go on top of
// rebound against a local fake of the Anthropic API, and prints what
// happened.
//
//	go run ./anthropic
//
// The client setup to copy is newClient: rebound is the transport of the
// *http.Client handed to option.WithHTTPClient, and option.WithMaxRetries(0)
// turns the SDK's own retries off so that the two layers do not multiply.
// The scenarios themselves are in examples/internal/demo, shared by every
// SDK.
package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/anthropics/anthropic-sdk-go"
	"github.com/anthropics/anthropic-sdk-go/option"
	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/demo"
)

func main() {
	demo.Main(sdk, rebound.New(nil, rebound.WithPreset(rebound.Anthropic)))
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

// model is the model the examples ask.
const model = anthropic.ModelClaudeSonnet4_6

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

// apiError reads the SDK's own error for an API error response; Anthropic's
// error code is its error type ("overloaded_error", …).
func apiError(err error) (status int, code string, ok bool) {
	var apiErr *anthropic.Error
	if !errors.As(err, &apiErr) {
		return 0, "", false
	}
	return apiErr.StatusCode, string(apiErr.Type()), true
}

// sdk describes anthropic-sdk-go to the demo and to the shared tests.
var sdk = demo.SDK[anthropic.Client]{
	API:       demo.Anthropic,
	Model:     string(model),
	ErrorType: "*anthropic.Error",
	NewClient: newClient,
	Ask:       ask,
	APIError:  apiError,
}
