package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"
)

// OpenAIChat returns a 200 chat completion from model whose only choice
// says text.
func OpenAIChat(model, text string) Reply {
	return Reply{Body: `{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":` +
		quote(model) + `,"choices":[{"index":0,"message":{"role":"assistant","content":` + quote(text) +
		`,"refusal":null},"logprobs":null,"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}`}
}

// OpenAIRateLimited returns OpenAI's 429 rate_limit_exceeded, asking the
// client to wait hint (see Hint for the headers).
func OpenAIRateLimited(hint time.Duration) Reply {
	return Reply{
		Status: http.StatusTooManyRequests,
		Header: Hint(hint),
		Body: `{"error":{"message":"Rate limit reached for requests per min (RPM). Please try again later.",` +
			`"type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
	}
}

// OpenAIUnavailable returns OpenAI's 503 server_error.
func OpenAIUnavailable() Reply {
	return Reply{
		Status: http.StatusServiceUnavailable,
		Body: `{"error":{"message":"The server is overloaded or not ready yet.",` +
			`"type":"server_error","param":null,"code":null}}`,
	}
}

// OpenAIInvalidKey returns OpenAI's 401 invalid_api_key.
func OpenAIInvalidKey() Reply {
	return Reply{
		Status: http.StatusUnauthorized,
		Body: `{"error":{"message":"Incorrect API key provided. You can find your API key in your dashboard.",` +
			`"type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
	}
}

// AnthropicMessage returns a 200 Messages API response from model whose only
// content block says text.
func AnthropicMessage(model, text string) Reply {
	return Reply{Body: `{"id":"msg_1","type":"message","role":"assistant","model":` + quote(model) +
		`,"content":[{"type":"text","text":` + quote(text) + `}],"stop_reason":"end_turn",` +
		`"stop_sequence":null,"usage":{"input_tokens":5,"output_tokens":2}}`}
}

// AnthropicOverloaded returns Anthropic's 529 overloaded_error.
func AnthropicOverloaded() Reply {
	return Reply{
		Status: 529,
		Body:   `{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}`,
	}
}

// AnthropicRateLimited returns Anthropic's 429 rate_limit_error, asking the
// client to wait hint (see Hint for the headers).
func AnthropicRateLimited(hint time.Duration) Reply {
	return Reply{
		Status: http.StatusTooManyRequests,
		Header: Hint(hint),
		Body: `{"type":"error","error":{"type":"rate_limit_error",` +
			`"message":"Number of request tokens has exceeded your per-minute rate limit."}}`,
	}
}

// AnthropicUnauthorized returns Anthropic's 401 authentication_error.
func AnthropicUnauthorized() Reply {
	return Reply{
		Status: http.StatusUnauthorized,
		Body:   `{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key"}}`,
	}
}

// Hint returns the headers a server sends to ask for a wait of d:
// retry-after-ms in milliseconds, and Retry-After in seconds when d is a
// whole number of seconds (so that the two never disagree).
func Hint(d time.Duration) http.Header {
	h := http.Header{}
	h.Set("Retry-After-Ms", strconv.FormatInt(d.Milliseconds(), 10))
	if d%time.Second == 0 {
		h.Set("Retry-After", strconv.FormatInt(int64(d/time.Second), 10))
	}
	return h
}

func quote(s string) string {
	b, _ := json.Marshal(s) // a string always marshals
	return string(b)
}
