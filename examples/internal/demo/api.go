package demo

import (
	"net/http"
	"time"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
)

// API describes an inference API as the fake upstream serves it: where the
// SDK's call lands and the answers, in that API's own shapes, that the demo
// and the tests script.
type API struct {
	// Preset is the rebound preset for the API.
	Preset rebound.Preset
	// BasePath is what the SDK's base URL adds to the server's URL: "/v1"
	// for OpenAI's SDKs, "" for Anthropic's.
	BasePath string
	// Path is the URL path the SDK's call is sent to.
	Path string

	// OK is a success from model that says text.
	OK func(model, text string) fakeupstream.Reply
	// RateLimited is a 429 asking the client to wait hint.
	RateLimited func(hint time.Duration) fakeupstream.Reply

	// Retryable is the API's retryable failure, with status RetryableStatus
	// and provider code RetryableCode (see SDK.APIError). RetryableName
	// names it in the demo's output.
	Retryable       func() fakeupstream.Reply
	RetryableStatus int
	RetryableCode   string
	RetryableName   string

	// Fatal is a 401 with provider code FatalCode: not retried.
	Fatal     func() fakeupstream.Reply
	FatalCode string
}

// OpenAI is OpenAI's chat completions API.
var OpenAI = API{
	Preset:          rebound.OpenAI,
	BasePath:        "/v1",
	Path:            "/v1/chat/completions",
	OK:              fakeupstream.OpenAIChat,
	RateLimited:     fakeupstream.OpenAIRateLimited,
	Retryable:       fakeupstream.OpenAIUnavailable,
	RetryableStatus: http.StatusServiceUnavailable,
	RetryableCode:   "", // "code":null
	RetryableName:   "503",
	Fatal:           fakeupstream.OpenAIInvalidKey,
	FatalCode:       "invalid_api_key",
}

// Anthropic is Anthropic's Messages API.
var Anthropic = API{
	Preset:          rebound.Anthropic,
	BasePath:        "",
	Path:            "/v1/messages",
	OK:              fakeupstream.AnthropicMessage,
	RateLimited:     fakeupstream.AnthropicRateLimited,
	Retryable:       fakeupstream.AnthropicOverloaded,
	RetryableStatus: 529,
	RetryableCode:   "overloaded_error",
	RetryableName:   "529 overloaded",
	Fatal:           fakeupstream.AnthropicUnauthorized,
	FatalCode:       "authentication_error",
}
