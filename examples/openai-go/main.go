// Command openai-go runs github.com/openai/openai-go/v3 on top of rebound
// against a local fake of the OpenAI API, and prints what happened.
//
//	go run ./openai-go
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

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/demo"
)

func main() {
	demo.Main(sdk, rebound.New(nil, rebound.WithPreset(rebound.OpenAI)))
}

// newClient returns an OpenAI client whose requests go through rt.
func newClient(baseURL string, rt http.RoundTripper) openai.Client {
	return openai.NewClient(
		option.WithBaseURL(baseURL), // omit to use https://api.openai.com/v1/
		option.WithAPIKey("sk-test"),
		option.WithHTTPClient(&http.Client{Transport: rt}),
		// rebound retries; the SDK must not retry on top of it
		// (3 SDK tries of 4 rebound attempts would be 12 requests).
		option.WithMaxRetries(0),
	)
}

// model is the model the examples ask.
const model = openai.ChatModelGPT5_4Mini

// ask sends one chat completion and returns the answer.
func ask(ctx context.Context, client openai.Client) (string, error) {
	resp, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{
		Model:    model,
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Say hello")},
	})
	if err != nil {
		return "", err
	}
	return resp.Choices[0].Message.Content, nil
}

// apiError reads the SDK's own error for an API error response.
func apiError(err error) (status int, code string, ok bool) {
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		return 0, "", false
	}
	return apiErr.StatusCode, apiErr.Code, true
}

// sdk describes openai-go to the demo and to the shared tests.
var sdk = demo.SDK[openai.Client]{
	API:       demo.OpenAI,
	Model:     model,
	ErrorType: "*openai.Error",
	NewClient: newClient,
	Ask:       ask,
	APIError:  apiError,
}
