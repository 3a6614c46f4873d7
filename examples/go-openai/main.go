// Command go-openai runs github.com/sashabaranov/go-openai on top of rebound
// against a local fake of the OpenAI API, and prints what happened.
//
//	go run ./go-openai
//
// The client setup to copy is newClient: rebound is the transport of the
// *http.Client in ClientConfig.HTTPClient. go-openai has no retries of its
// own, so there is nothing to turn off. The scenarios themselves are in
// examples/internal/demo, shared by every SDK.
package main

import (
	"context"
	"errors"
	"net/http"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/demo"
	"github.com/sashabaranov/go-openai"
)

func main() {
	demo.Main(sdk, rebound.New(nil, rebound.WithPreset(rebound.OpenAI)))
}

// newClient returns a go-openai client whose requests go through rt.
func newClient(baseURL string, rt http.RoundTripper) *openai.Client {
	cfg := openai.DefaultConfig("sk-test")
	cfg.BaseURL = baseURL // omit to use https://api.openai.com/v1
	cfg.HTTPClient = &http.Client{Transport: rt}
	return openai.NewClientWithConfig(cfg)
}

// model is the model the examples ask.
const model = openai.GPT4oMini

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

// apiError reads the SDK's own error for an API error response. Its Code is
// an any: a string, or nil for "code":null.
func apiError(err error) (status int, code string, ok bool) {
	var apiErr *openai.APIError
	if !errors.As(err, &apiErr) {
		return 0, "", false
	}
	code, _ = apiErr.Code.(string)
	return apiErr.HTTPStatusCode, code, true
}

// sdk describes go-openai to the demo and to the shared tests.
var sdk = demo.SDK[*openai.Client]{
	API:       demo.OpenAI,
	Model:     model,
	ErrorType: "*openai.APIError",
	NewClient: newClient,
	Ask:       ask,
	APIError:  apiError,
}
