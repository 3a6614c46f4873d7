package rebound

import (
	"errors"
	"strconv"
	"strings"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/secret"
	"github.com/rebound-http/rebound/ratelimit"
)

var (
	// ErrCircuitOpen matches (errors.Is) the error of a request refused
	// because its key's circuit breaker is open and its half-open verdict
	// would come after the deadline (or breaker.Settings.FailFast is set). It is breaker.ErrOpen.
	ErrCircuitOpen = breaker.ErrOpen

	// ErrWouldExceedDeadline matches the error of a request whose pace,
	// rate-limit or quota wait could not end, and the request be answered,
	// before its context's deadline. It is
	// ratelimit.ErrWouldExceedDeadline.
	ErrWouldExceedDeadline = ratelimit.ErrWouldExceedDeadline

	// ErrQuotaSpent matches the error of a request refused because its
	// key's quota, as the provider's headers told it, is spent until a
	// reset after the deadline, or further off than retry.Policy.MaxHint
	// (a per-day quota is never waited for). Its *ratelimit.QuotaError says
	// when the quota resets. It is ratelimit.ErrQuotaSpent.
	ErrQuotaSpent = ratelimit.ErrQuotaSpent

	// ErrCostTooLarge matches the error of a request whose estimated token
	// cost is larger than its key's whole token limit, configured or told
	// by the provider: no wait could let it through, and it is not sent.
	// It is ratelimit.ErrCostTooLarge.
	ErrCostTooLarge = ratelimit.ErrCostTooLarge

	// ErrAttemptTimeout is the error of an attempt that
	// retry.Policy.AttemptTimeout cut short before it was classified, while
	// the caller's context was still alive; an *Error wraps it when it was
	// the last attempt. It is a net.Error whose Timeout method reports
	// true, never context.Canceled.
	ErrAttemptTimeout error = attemptTimeout{}

	// ErrInvalidConfig matches the error of every request sent through a
	// Transport built with invalid options; Transport.Err reports it at once.
	ErrInvalidConfig = errors.New("rebound: invalid configuration")
)

// Error is the error RoundTrip returns when it has no response to give. It
// wraps the cause (a transport error, a *breaker.OpenError, a
// *ratelimit.WaitError, QuotaError or CostError, the context's error), so errors.Is and errors.As see
// through it. Its text never contains a credential.
type Error struct {
	// Key is the upstream key of the request (see KeyFunc).
	Key string
	// Attempts is how many attempts reached the inner transport.
	Attempts int
	// Last is the classification of the last attempt; its zero value when
	// no attempt was made.
	Last classify.Decision
	// RequestID is the provider's request id of the last answer, if any.
	RequestID string
	// Reason says why the call stopped.
	Reason Reason
	// Err is the cause.
	Err error

	secrets []string // the request's credentials, kept out of the text
}

// Error describes the failure, with secrets redacted.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("rebound: ")
	cause := "failed"
	if e.Err != nil {
		cause = e.Err.Error()
	}
	if e.Key != "" && !strings.Contains(cause, e.Key) { // breaker and limiter errors name it
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	if e.Attempts > 0 {
		b.WriteString(strconv.Itoa(e.Attempts))
		if e.Attempts == 1 {
			b.WriteString(" attempt")
		} else {
			b.WriteString(" attempts")
		}
		if e.Last.Status != 0 {
			b.WriteString(", last ")
			b.WriteString(strconv.Itoa(e.Last.Status))
			if c := e.Last.Code; c != "" {
				b.WriteByte(' ')
				b.WriteString(c)
			}
		}
		if e.RequestID != "" {
			b.WriteString(" (request id ")
			b.WriteString(e.RequestID)
			b.WriteByte(')')
		}
		b.WriteString(": ")
	}
	b.WriteString(cause)
	return classify.Redact(secret.Scrub(b.String(), e.secrets))
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// attemptTimeout is ErrAttemptTimeout's type: a net.Error that timed out.
type attemptTimeout struct{}

func (attemptTimeout) Error() string   { return "rebound: attempt timed out" }
func (attemptTimeout) Timeout() bool   { return true }
func (attemptTimeout) Temporary() bool { return true }
