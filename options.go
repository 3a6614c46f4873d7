package rebound

import (
	"fmt"
	"net/http"
	"net/textproto"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// An Option configures a Transport in New.
type Option func(*config)

// KeyFunc names the upstream a request goes to; breakers and rate limits are
// kept per key. body is the request body when it is at hand (see below);
// a KeyFunc must not modify req or body.
//
// The body a KeyFunc or CostFunc is given: a body without GetBody is read
// into memory up to retry.Policy.MaxBodyBuffer bytes, and body is all of
// it, or, when it is longer (then sent once, never retried), the bytes
// read, MaxBodyBuffer and one (none when MaxBodyBuffer is negative); a
// body with GetBody is given whole when its
// ContentLength is known and within MaxBodyBuffer (and 1 MiB, unless the
// reader http.NewRequest wrapped can be read in place), and is nil
// otherwise. body is nil for a request without one.
type KeyFunc func(req *http.Request, body []byte) string

// CostFunc estimates the tokens a request will be charged against a token
// limit (a provider's TPM). body is the request body when it is at hand, or
// its first bytes (see KeyFunc); a CostFunc must not modify req or body,
// and a negative result counts as zero.
type CostFunc func(req *http.Request, body []byte) int

type config struct {
	store         Store
	costFunc      CostFunc
	policy        retry.Policy
	classifier    classify.Classifier
	breaker       breaker.Settings
	limits        ratelimit.Limits
	keyFunc       KeyFunc
	observer      Observer
	idemHeader    string
	attemptHeader string
	firstEvent    []durationRule
	maxFirstEvent time.Duration
	fallbacks     []chainRule
	hedges        []durationRule
	errs          []error
}

func (c *config) fail(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf(format, args...))
}

// WithRetry sets the retry policy. It replaces the whole policy: zero fields
// of p take their defaults (see retry.Policy), not the values of an earlier
// WithRetry. Invalid values make the Transport invalid.
func WithRetry(p retry.Policy) Option {
	return func(c *config) { c.policy = p }
}

// WithClassifier sets how responses are classified. The default is
// classify.Default(), for callers who do not say which service they talk
// to; pick a service's catalog (classify.OpenAI(), classify.Gateway(), …) or
// a Preset when you know it.
func WithClassifier(cl classify.Classifier) Option {
	return func(c *config) {
		if cl == nil {
			c.fail("WithClassifier(nil)")
			return
		}
		c.classifier = cl
	}
}

// WithBreaker sets the per-key circuit breakers' settings. Zero fields take
// their defaults (see breaker.Settings); Settings{Disabled: true} turns
// breakers off.
func WithBreaker(s breaker.Settings) Option {
	return func(c *config) { c.breaker = s }
}

// WithRateLimits sets client-side rate limits per key, applied on top of
// each key's adaptive pace. By default there are none.
func WithRateLimits(l ratelimit.Limits) Option {
	return func(c *config) { c.limits = l }
}

// WithKeyFunc sets how requests are grouped for breakers and rate limits.
// The default, key.Of, is the host plus the model named in the path
// (/models/{m}, /models/{owner}/{name}, /deployments/{m}, /model/{m}) or in
// the JSON body's "model".
func WithKeyFunc(f KeyFunc) Option {
	return func(c *config) {
		if f == nil {
			c.fail("WithKeyFunc(nil)")
			return
		}
		c.keyFunc = f
	}
}

// WithCostFunc sets how a request's token cost is estimated, for the token
// limits of WithRateLimits and those the provider's headers tell. The
// default, key.Cost, is the body's declared output cap (max_tokens and kin)
// plus a token per four bytes of body. It is called only for keys with a
// token limit.
func WithCostFunc(f CostFunc) Option {
	return func(c *config) {
		if f == nil {
			c.fail("WithCostFunc(nil)")
			return
		}
		c.costFunc = f
	}
}

// WithStore makes the Transport share its gates with the other Transports
// of a fleet through s (see Store): each key's request and token limits,
// its holds and its open breakers. Without it, the gates are the
// Transport's own.
func WithStore(s Store) Option {
	return func(c *config) {
		if s == nil {
			c.fail("WithStore(nil)")
			return
		}
		c.store = s
	}
}

// WithObserver sets the functions told about attempts, retries, give-ups and
// breaker state changes. Nil fields are skipped at no cost.
func WithObserver(o Observer) Option {
	return func(c *config) { c.observer = o }
}

// WithIdempotencyKey makes every call carry header (for example
// "Idempotency-Key") with one random value shared by all of the call's
// attempts, unless the caller's request already has that header.
func WithIdempotencyKey(header string) Option {
	return func(c *config) {
		if !validHeaderName(header) {
			c.fail("WithIdempotencyKey(%q): not a valid header name", header)
			return
		}
		c.idemHeader = textproto.CanonicalMIMEHeaderKey(header)
	}
}

// WithAttemptHeader makes every attempt carry header (for example
// "X-Rebound-Attempt") set to its number, 1 for the first; a hedge takes
// the next number, as a retry would. A fallback's attempts are numbered
// from 1 again: they go to another key.
func WithAttemptHeader(header string) Option {
	return func(c *config) {
		if !validHeaderName(header) {
			c.fail("WithAttemptHeader(%q): not a valid header name", header)
			return
		}
		c.attemptHeader = textproto.CanonicalMIMEHeaderKey(header)
	}
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if c <= ' ' || c >= 0x7f || c == ':' {
			return false
		}
	}
	return true
}
