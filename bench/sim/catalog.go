package sim

import (
	"fmt"
	"net/http"
)

// Hint says which header, if any, carries a fault's retry hint.
type Hint uint8

const (
	// NoHint means the response carries no retry hint.
	NoHint Hint = iota
	// RetryAfterSeconds means a Retry-After header in whole seconds.
	RetryAfterSeconds
	// RetryAfterMillis means a retry-after-ms header in milliseconds, as
	// OpenAI-compatible APIs send it.
	RetryAfterMillis
	// RetryAfterBoth means both: Retry-After in whole seconds (rounded up)
	// and the exact retry-after-ms, which is the hint retries are checked
	// against.
	RetryAfterBoth
)

// Fault is one error response as a seed service sends it. Faults are values
// of the package catalog and are never modified.
type Fault struct {
	// Service names the seed service whose catalog the fault comes from.
	Service string
	// Code is the service's machine-readable error code.
	Code string
	// Status is the HTTP status code.
	Status int
	// Retryable is what the service's documentation says about sending the
	// same request again.
	Retryable bool
	// Hint is the header the service uses for a retry hint, if any.
	Hint Hint
	// body is a fmt format with one %s verb for the request id.
	body string
}

// Body returns the JSON error body of f carrying requestID.
func (f *Fault) Body(requestID string) []byte {
	return []byte(fmt.Sprintf(f.body, requestID))
}

// The seed services.
const (
	InferenceKey = "inferencekey" // seed 000: SDK with control/data tokens
	InferKit     = "inferkit"     // seed 001: browser-SDK platform
	Infe         = "infe"         // seed 002: OpenAI-compatible API
	Gateway      = "gateway"      // seed 003: inference gateway with a Retryable column
	Skytells     = "skytells"     // seed 004: SDK with SCREAMING_CASE error ids
)

// The catalog. Bodies follow each seed's documented error shape:
// InferKit {"error":{"code","message","request_id"}}, Infe (OpenAI-style)
// {"error":{"message","type","code"}} with x-request-id, the gateway
// {"error":{"type","code","message"}}, Skytells' top-level errorId.
var (
	inferkitRateLimited = &Fault{Service: InferKit, Code: "rate_limited", Status: http.StatusTooManyRequests, Retryable: true, Hint: RetryAfterSeconds,
		body: `{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"%s"}}`}
	infeRateLimited = &Fault{Service: Infe, Code: "rate_limit_exceeded", Status: http.StatusTooManyRequests, Retryable: true, Hint: RetryAfterMillis,
		body: `{"error":{"message":"Rate limit exceeded: too many requests per minute (request %s)","type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}`}
	infeServerError = &Fault{Service: Infe, Code: "api_error", Status: http.StatusInternalServerError, Retryable: true,
		body: `{"error":{"message":"An unexpected error occurred on our servers (request %s)","type":"api_error","code":"api_error"}}`}
	infeBadGateway = &Fault{Service: Infe, Code: "api_error", Status: http.StatusBadGateway, Retryable: true,
		body: `{"error":{"message":"The upstream inference provider returned an error (request %s)","type":"api_error","code":"api_error"}}`}
	inferkitProviderUnavailable = &Fault{Service: InferKit, Code: "provider_unavailable", Status: http.StatusServiceUnavailable, Retryable: true,
		body: `{"error":{"code":"provider_unavailable","message":"Service temporarily unavailable","request_id":"%s"}}`}
	gatewayModelOverloaded = &Fault{Service: Gateway, Code: "model_overloaded", Status: http.StatusServiceUnavailable, Retryable: true,
		body: `{"error":{"type":"model_error","code":"model_overloaded","message":"Model is currently overloaded and could not handle the request (request %s)."}}`}
	// infeRequestQuota and infeTokenQuota are the quota and tokens
	// scenarios' refusals, sent with the x-ratelimit-* headers.
	infeRequestQuota = &Fault{Service: Infe, Code: "rate_limit_exceeded", Status: http.StatusTooManyRequests, Retryable: true, Hint: RetryAfterBoth,
		body: `{"error":{"message":"Rate limit reached for requests per minute (request %s). Please try again after the reset.","type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}`}
	infeTokenQuota = &Fault{Service: Infe, Code: "rate_limit_exceeded", Status: http.StatusTooManyRequests, Retryable: true, Hint: RetryAfterBoth,
		body: `{"error":{"message":"Rate limit reached for tokens per minute (request %s). Please try again after the reset.","type":"rate_limit_exceeded","code":"rate_limit_exceeded"}}`}
	// gatewayModelOverloadedHinted is model_overloaded with a
	// retry-after-ms hint, as the storm scenario sends it.
	gatewayModelOverloadedHinted = &Fault{Service: Gateway, Code: "model_overloaded", Status: http.StatusServiceUnavailable, Retryable: true, Hint: RetryAfterMillis,
		body: gatewayModelOverloaded.body}
	gatewayStreamError = &Fault{Service: Gateway, Code: "stream_error", Status: http.StatusOK, Retryable: true,
		body: `{"error":{"type":"model_error","code":"stream_error","message":"An error was encountered while streaming a response from the model (request %s)."}}`}

	gatewayInvalidArgument = &Fault{Service: Gateway, Code: "invalid_argument", Status: http.StatusBadRequest,
		body: `{"error":{"type":"bad_request","code":"invalid_argument","message":"Invalid 'temperature': decimal above maximum value. (request %s)"}}`}
	infeInvalidRequest = &Fault{Service: Infe, Code: "invalid_request_error", Status: http.StatusBadRequest,
		body: `{"error":{"message":"Missing 'messages' field (request %s)","type":"invalid_request_error","code":"invalid_request_error"}}`}
	inferkitInvalidAPIKey = &Fault{Service: InferKit, Code: "invalid_api_key", Status: http.StatusUnauthorized,
		body: `{"error":{"code":"invalid_api_key","message":"Missing or invalid API key","request_id":"%s"}}`}
	inferkitQuotaExceeded = &Fault{Service: InferKit, Code: "quota_exceeded", Status: http.StatusPaymentRequired,
		body: `{"error":{"code":"quota_exceeded","message":"Monthly token cap reached","request_id":"%s"}}`}
	skytellsInsufficientCredits = &Fault{Service: Skytells, Code: "INSUFFICIENT_CREDITS", Status: http.StatusPaymentRequired,
		body: `{"errorId":"INSUFFICIENT_CREDITS","message":"Account out of credits","httpStatus":402,"requestId":"%s"}`}
)

// retryableFaults are the flaky scenario's retryable errors: 429, 500, 502,
// 503 and the gateway's model_overloaded, one kind in five each (the two 429
// flavours share their fifth).
var retryableFaults = []*Fault{inferkitRateLimited, infeRateLimited, infeServerError, infeServerError,
	infeBadGateway, infeBadGateway, inferkitProviderUnavailable, inferkitProviderUnavailable,
	gatewayModelOverloaded, gatewayModelOverloaded}

// fatalFaults are the flaky scenario's fatal errors: 400, 401 and 402.
var fatalFaults = []*Fault{gatewayInvalidArgument, infeInvalidRequest, inferkitInvalidAPIKey,
	inferkitQuotaExceeded, skytellsInsufficientCredits}

// Catalog returns a copy of every fault the simulator can send.
func Catalog() []Fault {
	all := []*Fault{inferkitRateLimited, infeRateLimited, infeRequestQuota, infeTokenQuota, infeServerError, infeBadGateway,
		inferkitProviderUnavailable, gatewayModelOverloaded, gatewayModelOverloadedHinted, gatewayStreamError,
		gatewayInvalidArgument, infeInvalidRequest, inferkitInvalidAPIKey,
		inferkitQuotaExceeded, skytellsInsufficientCredits}
	out := make([]Fault, len(all))
	for i, f := range all {
		out[i] = *f
	}
	return out
}
