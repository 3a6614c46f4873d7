package rebound

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/rebound-http/rebound/internal/glob"
	"github.com/rebound-http/rebound/internal/latency"
	"github.com/rebound-http/rebound/internal/registry"
)

// Per-key options for the tail of the latency distribution: a stream's
// first event, fallbacks, hedges. Each names the keys it applies to with
// patterns in which '*' matches any run of bytes ("*/gpt-4o*",
// "api.openai.com/*"), as ratelimit.Rule does; for each option the first
// rule whose pattern matches a key applies to it, in the order of the
// options given to New.

// WithFirstEventTimeout bounds how long a 200 text/event-stream answer to a
// key that matches one of patterns may take, from its headers, to deliver
// its first event. A stream that has not by then is abandoned (its body
// closed) and the attempt is retryable, as nothing of it has reached the
// caller; its error, when it is the last attempt, is ErrFirstEventTimeout.
//
// retry.Policy.AttemptTimeout bounds every attempt up to its headers and
// the classifier's peek, for every key and every kind of answer; a
// first-event timeout bounds only a stream's first event, once its headers
// have come, so it can be far tighter than an AttemptTimeout that must let
// a long non-streamed completion through. With both, an attempt ends at
// whichever comes first.
//
// The first event is waited for by the classifier's peek: with a
// *classify.Catalog (every preset, and the default) whose MaxPeekTime is
// shorter than d, the Transport uses a copy whose MaxPeekTime is d. A
// Classifier of another kind must read the first event itself for the
// bound to apply.
func WithFirstEventTimeout(d time.Duration, patterns ...string) Option {
	return func(c *config) {
		if d <= 0 {
			c.fail("WithFirstEventTimeout(%v): want a positive duration", d)
			return
		}
		pats, ok := c.patterns("WithFirstEventTimeout", patterns)
		if !ok {
			return
		}
		for _, p := range pats {
			c.firstEvent = append(c.firstEvent, durationRule{pat: p, d: d})
		}
		c.maxFirstEvent = max(c.maxFirstEvent, d)
	}
}

// An Alternative is one step of a fallback chain (see WithFallback): where
// a call goes when its own key cannot serve it. At least one field must be
// set.
type Alternative struct {
	// Model replaces the model the request names: in the URL path
	// (/models/{m}, /models/{owner}/{name}, /deployments/{m}, /model/{m})
	// when it names one there, else the "model" member of its JSON body.
	// Empty keeps the model. A request that names no model skips the
	// alternative.
	Model string
	// Host replaces the URL's host (and any Request.Host). Empty keeps it.
	Host string
	// Transport sends the rewritten request, as another rebound.Transport
	// configured for another provider. If nil, the Transport itself sends
	// it, through the gate of the alternative's own key.
	Transport http.RoundTripper
}

// WithFallback gives the keys that match pattern an ordered chain of
// alternatives, tried in turn when the key cannot serve a call:
//
//   - the key's circuit breaker is open, or its quota is spent: the call
//     goes to the alternative at once rather than waiting for the breaker's
//     verdict or the quota's reset;
//   - the key refuses the next attempt because it could not be answered
//     before the deadline (pace, rate limit);
//   - an answer is the model's fault and not the request's: overloaded or
//     unavailable (503, 529, model_overloaded, overloaded_error,
//     engine_overloaded, provider_unavailable, model_unavailable,
//     model_not_found, unknown_model): at once, without retrying the key;
//   - retries end on a retryable answer or error (attempts exhausted, a hint
//     longer than MaxHint, no time left for another backoff).
//
// A fatal answer caused by the request (400, 401, …), a spent retry
// budget, the caller's context ending and a body that cannot be replayed
// end the call as they would without a fallback.
//
// Each alternative is sent as a copy of the caller's request, rewritten
// (the request itself is never modified), with the caller's deadline; it is
// a call of its own, with its own key's gate and retries, and its first
// attempt is charged to the retry budget as a retry is when the call's
// earlier keys sent anything. When an alternative cannot serve either, the
// next is tried; when none can, the caller gets the last answer held, or the
// error of the call's own key. The response's Request is the rewritten
// request, AnsweredBy says which alternative answered, and
// Observer.OnFallback is told of each step.
func WithFallback(pattern string, chain ...Alternative) Option {
	return func(c *config) {
		pats, ok := c.patterns("WithFallback", []string{pattern})
		if !ok {
			return
		}
		if len(chain) == 0 {
			c.fail("WithFallback(%q): no alternative", pattern)
			return
		}
		for i, a := range chain {
			switch {
			case a == (Alternative{}):
				c.fail("WithFallback(%q): alternative %d sets no Model, Host or Transport", pattern, i+1)
				return
			case strings.ContainsAny(a.Host, "/?#@ "):
				c.fail("WithFallback(%q): alternative %d: Host %q is not a host[:port]", pattern, i+1, a.Host)
				return
			}
		}
		c.fallbacks = append(c.fallbacks, chainRule{pat: pats[0], chain: append([]Alternative(nil), chain...)})
	}
}

// WithHedging hedges the calls to keys that match one of patterns: when a
// call's first attempt has not been answered after delay, a second copy is
// sent, the first good answer (any answer that is not retryable) is
// returned, and the other attempt is cancelled and its body drained and
// closed. A delay of zero means the key's recent 95th percentile latency,
// from its headers and the classifier's peek, so that about one call in
// twenty is hedged; a key is hedged this way once 20 of its answers have
// been seen.
//
// Hedge only requests that are safe to send twice, as a chat completion
// that changes nothing is: both may be charged by the provider. A hedge is
// sent only if its key's gate would send it at once (no open breaker, no
// pace or limit delay), and only for a body that can be replayed; it is
// charged to the retry budget and never refunded, so that hedges, like
// retries, stay within the budget's share of the calls. Retries are not
// hedged. The cancelled attempt still holds the caller's request until its
// inner RoundTrip returns: closing the winner's body waits for that, so
// that the caller may reuse its request once it has closed the body.
func WithHedging(delay time.Duration, patterns ...string) Option {
	return func(c *config) {
		if delay < 0 {
			c.fail("WithHedging(%v): want zero (the key's p95) or a positive delay", delay)
			return
		}
		pats, ok := c.patterns("WithHedging", patterns)
		if !ok {
			return
		}
		for _, p := range pats {
			c.hedges = append(c.hedges, durationRule{pat: p, d: delay})
		}
	}
}

// AnsweredBy reports which alternative of a fallback chain answered resp,
// a response of a Transport: the alternative and its place in the chain, 1
// for the first; 0 when the call's own key answered.
func AnsweredBy(resp *http.Response) (Alternative, int) {
	if resp == nil || resp.Request == nil {
		return Alternative{}, 0
	}
	if a, ok := resp.Request.Context().Value(answeredKey{}).(*answered); ok {
		return a.alt, a.n
	}
	return Alternative{}, 0
}

// ErrFirstEventTimeout is the error of an attempt whose 200
// text/event-stream answer did not deliver its first event within the
// bound of WithFirstEventTimeout; an *Error wraps it when it was the last
// attempt. It is a net.Error whose Timeout method reports true.
var ErrFirstEventTimeout error = firstEventTimeout{}

type firstEventTimeout struct{}

func (firstEventTimeout) Error() string {
	return "rebound: no first event within the first-event timeout"
}
func (firstEventTimeout) Timeout() bool   { return true }
func (firstEventTimeout) Temporary() bool { return true }

// errLost is the error of an attempt abandoned because the other attempt of
// its hedged race answered first; no caller ever sees it.
var errLost = errors.New("rebound: hedged attempt lost its race")

type answeredKey struct{}

type answered struct {
	alt Alternative
	n   int
}

type durationRule struct {
	pat glob.Pattern
	d   time.Duration
}

type chainRule struct {
	pat   glob.Pattern
	chain []Alternative
}

// patterns compiles the patterns of the option named name, failing the
// configuration when there are none or one is empty.
func (c *config) patterns(name string, ps []string) ([]glob.Pattern, bool) {
	if len(ps) == 0 {
		c.fail("%s: no key pattern (\"*\" matches every key)", name)
		return nil, false
	}
	out := make([]glob.Pattern, len(ps))
	for i, p := range ps {
		if p == "" {
			c.fail("%s: empty key pattern", name)
			return nil, false
		}
		out[i] = glob.Compile(p)
	}
	return out, true
}

// keyRules is what the per-key options say of one key, resolved on the
// key's first call.
type keyRules struct {
	firstEvent time.Duration // zero: none
	chain      []Alternative
	hedge      bool
	hedgeAfter time.Duration     // zero: the key's recent p95
	lat        latency.Histogram // the key's latencies, for a p95 delay
}

// minHedgeSamples is how many answers a key must have had before its p95
// is trusted as a hedge delay.
const minHedgeSamples = 20

// hedgeDelay returns when to hedge the key's first attempt, if at all.
func (r *keyRules) hedgeDelay() (time.Duration, bool) {
	if r == nil || !r.hedge {
		return 0, false
	}
	if r.hedgeAfter > 0 {
		return r.hedgeAfter, true
	}
	if r.lat.Count() < minHedgeSamples {
		return 0, false
	}
	return r.lat.Quantile(0.95), true
}

// firstEventTimeout returns the key's first-event timeout, zero for none.
func (r *keyRules) firstEventTimeout() time.Duration {
	if r == nil {
		return 0
	}
	return r.firstEvent
}

// ownContext reports whether the key's attempts need a context of their
// own (to be cut by a first-event timeout, or cancelled by a race).
func (r *keyRules) ownContext() bool { return r != nil && (r.firstEvent > 0 || r.hedge) }

// tailRules holds the per-key options; nil when none is set.
type tailRules struct {
	firstEvent []durationRule
	fallbacks  []chainRule
	hedges     []durationRule
	keys       *registry.Map[*keyRules]
}

func newTailRules(c *config) *tailRules {
	if len(c.firstEvent) == 0 && len(c.fallbacks) == 0 && len(c.hedges) == 0 {
		return nil
	}
	r := &tailRules{firstEvent: c.firstEvent, fallbacks: c.fallbacks, hedges: c.hedges}
	r.keys = registry.New(maxRuleKeys, 10*time.Minute, r.resolve)
	return r
}

// resolve finds the rules of key.
func (r *tailRules) resolve(key string) *keyRules {
	k := &keyRules{}
	for _, x := range r.firstEvent {
		if x.pat.Match(key) {
			k.firstEvent = x.d
			break
		}
	}
	for _, x := range r.fallbacks {
		if x.pat.Match(key) {
			k.chain = x.chain
			break
		}
	}
	for _, x := range r.hedges {
		if x.pat.Match(key) {
			k.hedge, k.hedgeAfter = true, x.d
			break
		}
	}
	if k.firstEvent == 0 && k.chain == nil && !k.hedge {
		return nil
	}
	return k
}

// get returns the rules of key, nil when none applies.
func (r *tailRules) get(key string, now time.Time) *keyRules {
	if r == nil {
		return nil
	}
	return r.keys.Get(key, now)
}

// isEventStream reports whether resp is a 200 text/event-stream.
func isEventStream(resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusOK && eventStream(resp.Header)
}

// eventStream reports whether h's Content-Type is text/event-stream.
func eventStream(h http.Header) bool {
	ct := h.Get("Content-Type")
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.EqualFold(strings.TrimSpace(ct), "text/event-stream")
}

// afterFunc is the Transport's timer hook outside tests: f runs after d
// unless stop, which reports whether it stopped f in time, is called first.
func afterFunc(d time.Duration, f func()) (stop func() bool) {
	return time.AfterFunc(d, f).Stop
}

// withAnswered returns ctx marked as the context of alternative n.
func withAnswered(ctx context.Context, alt Alternative, n int) context.Context {
	return context.WithValue(ctx, answeredKey{}, &answered{alt: alt, n: n})
}
