package classify

import (
	"net/http"
	"strconv"
	"strings"
)

// APIError is an upstream's error response as a Go error: the status and
// what the body said. Its fields hold no secrets (see Redact).
type APIError struct {
	// StatusCode is the HTTP status, 0 when there was no response.
	StatusCode int
	// Code is the provider's error code or id, Type its error type.
	Code, Type string
	// Message is the provider's message.
	Message string
	// RequestID is the provider's request id, to quote to its support.
	RequestID string
	// Retryable reports whether the same request may succeed later.
	Retryable bool
}

// NewAPIError returns the APIError that d describes, its text redacted.
func NewAPIError(d Decision) *APIError {
	return &APIError{
		StatusCode: d.Status,
		Code:       Redact(d.Code),
		Type:       Redact(d.Type),
		Message:    Redact(d.Message),
		RequestID:  Redact(d.RequestID),
		Retryable:  d.Verdict == Retryable,
	}
}

// Error returns the status, the code (else the type, else the status text),
// the message and the request id, redacted, as in
// "429 rate_limited: Rate limit exceeded (request id 9f3c12a8)".
func (e *APIError) Error() string {
	var b strings.Builder
	if e.StatusCode != 0 {
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if what := firstOf(e.Code, e.Type, http.StatusText(e.StatusCode)); what != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(Redact(what))
	}
	if e.Message != "" {
		if b.Len() > 0 {
			b.WriteString(": ")
		}
		b.WriteString(Redact(e.Message))
	}
	if e.RequestID != "" {
		b.WriteString(" (request id ")
		b.WriteString(Redact(e.RequestID))
		b.WriteByte(')')
	}
	if b.Len() == 0 {
		return "classify: upstream error"
	}
	return b.String()
}

// ResponseError returns nil when c classifies resp as a Success, and else an
// *APIError describing it. resp.Body stays readable: the caller reads every
// byte the upstream sent.
func (c *Catalog) ResponseError(resp *http.Response) error {
	d := c.Classify(resp, nil)
	if d.Verdict == Success {
		return nil
	}
	return NewAPIError(d)
}

// ResponseError is Default().ResponseError(resp), without copying the
// default catalog.
func ResponseError(resp *http.Response) error {
	return defaultCatalog().ResponseError(resp)
}
