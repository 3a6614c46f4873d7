package classify

import (
	"net/http"
	"strconv"
	"time"
)

// Verdict says what a response or transport error means for the request that
// produced it.
type Verdict uint8

const (
	// Success means the upstream answered and the answer is final and good
	// (1xx–3xx, or 2xx whose stream did not open with an error).
	Success Verdict = iota
	// Retryable means the same request may succeed if sent again later.
	Retryable
	// Fatal means sending the same request again cannot help.
	Fatal
)

// String returns "success", "retryable" or "fatal".
func (v Verdict) String() string {
	switch v {
	case Success:
		return "success"
	case Retryable:
		return "retryable"
	case Fatal:
		return "fatal"
	}
	return "verdict(" + strconv.Itoa(int(v)) + ")"
}

// Evidence says which piece of the response decided a Verdict.
type Evidence uint8

const (
	// ByStatus means the HTTP status code decided (no stronger evidence).
	ByStatus Evidence = iota
	// ByTransport means a transport error decided: there was no response.
	ByTransport
	// ByHeader means an explicit server header (x-should-retry) decided.
	ByHeader
	// ByBody means the provider's error code or type in the body decided.
	ByBody
)

// String returns "status", "transport", "header" or "body".
func (e Evidence) String() string {
	switch e {
	case ByStatus:
		return "status"
	case ByTransport:
		return "transport"
	case ByHeader:
		return "header"
	case ByBody:
		return "body"
	}
	return "evidence(" + strconv.Itoa(int(e)) + ")"
}

// Decision is what a Classifier concluded about one response or transport
// error. The zero value is a Success with status 0 and no hint.
//
// A 200 text/event-stream response whose first event reports an error gets
// Status 200 with a Retryable or Fatal Verdict: the stream opened, but it
// carries no answer.
type Decision struct {
	// Verdict is the conclusion.
	Verdict Verdict
	// Status is the HTTP status code, or 0 when there was no response.
	Status int
	// Code is the provider's machine-readable error code or id
	// ("rate_limited", "RATE_LIMIT_EXCEEDED", …) from the body, else the
	// type of Bedrock's x-amzn-errortype header ("ThrottlingException"),
	// redacted; empty when the response carried none.
	Code string
	// Type is the provider's error type ("overloaded_error",
	// "invalid_request_error", Gemini's error.status "RESOURCE_EXHAUSTED",
	// …), empty when the body carried none.
	Type string
	// Message is the provider's human-readable message with secrets
	// redacted (see Redact), or the transport error's text.
	Message string
	// RequestID is the provider's request id from the body or from the
	// x-request-id, request-id or x-amzn-requestid headers, redacted, empty
	// when none was sent. It is left empty for a plain success, whose
	// headers are not read.
	RequestID string
	// RetryAfter is how long the server asked the client to wait before
	// retrying, at most MaxHint: from its headers (see ParseRetryAfter),
	// else from a google.rpc.RetryInfo in its error body (Gemini); zero when
	// it gave no hint, a date in the past, or the status is below 400.
	RetryAfter time.Duration
	// Evidence says what decided the Verdict.
	Evidence Evidence
}

// Classifier turns the outcome of one round trip into a Decision.
// Exactly one of resp and err is non-nil. A Classifier may read at most a
// bounded prefix of resp.Body, but must leave resp.Body such that the caller
// reads every byte the upstream sent, and Close closes the upstream body.
// Implementations must be safe for concurrent use.
type Classifier interface {
	Classify(resp *http.Response, err error) Decision
}

// Func adapts an ordinary function to the Classifier interface.
type Func func(resp *http.Response, err error) Decision

// Classify calls f(resp, err).
func (f Func) Classify(resp *http.Response, err error) Decision { return f(resp, err) }
