package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/failsafehttp"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"github.com/hashicorp/go-retryablehttp"
	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/ratelimit"
)

// client is one HTTP client under test. Every client is built over the same
// kind of base transport, so only its retry logic differs.
type client struct {
	// name is the short name used by the -clients flag and in the report.
	name string
	// config says how the client is set up, for the report.
	config string
	// attempts is the most requests the client sends for one call.
	attempts int
	// newWithStore, when set, builds the client sharing its gates through
	// st; it runs only with -redis.
	newWithStore func(base http.RoundTripper, up upstream, st rebound.Store) *http.Client
	// delays are the waits before attempts 2, 3, … (upper bounds when
	// jittered, server hints aside); they bound the attempts a call deadline
	// leaves room for.
	delays []time.Duration
	// retriesFatal says whether the client retries 4xx answers other than
	// 408 and 429.
	retriesFatal bool
	// new returns the client over base, for the upstream up.
	new func(base http.RoundTripper, up upstream) *http.Client
	// optional clients run only when -clients names them.
	optional bool
}

// Client names, in report order.
const (
	clientBare      = "bare"
	clientNaive     = "naive"
	clientRetryable = "retryablehttp"
	clientFailsafe  = "failsafe"
	clientRebound   = "rebound"

	// clientReboundFailFast is rebound with breaker.Settings{FailFast:
	// true}; it runs only when -clients names it.
	clientReboundFailFast = "rebound-failfast"
	// clientReboundFleet is rebound sharing its gates through Redis
	// (redisstore): with -replicas N, the replicas behave as one client.
	clientReboundFleet = "rebound-redis"
	// clientReboundStated is rebound told the provider's request limit
	// per model (WithRateLimits), as a user who knows it would; with
	// -replicas N and no store, each replica has the whole of it.
	// clientReboundStatedFleet adds the Store. They run only when -clients
	// names them, in scenarios with a limit (elsewhere they are rebound).
	clientReboundStated      = "rebound-stated"
	clientReboundStatedFleet = "rebound-stated-redis"

	// The tail options, each configured for the scenario it addresses
	// (slow-tail, outage, stall); elsewhere they are rebound's defaults.
	// They run only when -clients names them.
	clientReboundHedged     = "rebound-hedged"
	clientReboundFallback   = "rebound-fallback"
	clientReboundFirstEvent = "rebound-firstevent"
)

// upstream is what a client may be configured for: the scenario's models
// and their base URLs, in the same order, and the provider's request limit
// per model, per second (zero where the scenario has none).
type upstream struct {
	Models, URLs []string
	Limit        float64
	// Burst is the span of Limit a user states as its burst (0: none
	// stated, the library's default).
	Burst time.Duration
}

// statedLimits returns the rate limits of a user who knows up's limit.
func (up upstream) statedLimits() rebound.Option {
	if up.Limit <= 0 {
		return rebound.WithRateLimits(ratelimit.Limits{})
	}
	l := ratelimit.Limit{Rate: rate.Limit(up.Limit)}
	if up.Burst > 0 {
		l.Burst = max(1, int(up.Limit*up.Burst.Seconds()))
	}
	return rebound.WithRateLimits(ratelimit.Limits{Default: l})
}

// host returns the host:port of model's URL, or "" if up has no such model.
func (up upstream) host(model string) string {
	for i, m := range up.Models {
		if m == model && i < len(up.URLs) {
			return strings.TrimPrefix(up.URLs[i], "http://")
		}
	}
	return ""
}

// firstEventTimeout is rebound-firstevent's bound on a stream's first
// event: far above a normal first event (tens of milliseconds), far below
// the call deadline.
const firstEventTimeout = time.Second

// naiveDelay is the naive loop's fixed wait between attempts.
const naiveDelay = 500 * time.Millisecond

func clients() []client {
	return []client{
		{
			name: clientBare, config: "`http.Client`, no retry", attempts: 1,
			new: func(base http.RoundTripper, _ upstream) *http.Client { return &http.Client{Transport: base} },
		},
		{
			name: clientNaive, config: "loop: 3 attempts, any error or non-2xx retried after a fixed 500 ms", attempts: 3,
			delays: []time.Duration{naiveDelay, naiveDelay}, retriesFatal: true,
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				return &http.Client{Transport: &naiveRetry{next: base, attempts: 3, delay: naiveDelay}}
			},
		},
		{
			// The go-retryablehttp README: NewClient(), configured "as you
			// wish" (defaults here), then StandardClient().
			name: clientRetryable, config: "hashicorp/go-retryablehttp as its README shows: `NewClient()` defaults (5 attempts, backoff 1 s…30 s, Retry-After on 429/503), logger off, `StandardClient()`", attempts: 5,
			delays: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				c := retryablehttp.NewClient()
				c.Logger = nil
				c.HTTPClient = &http.Client{Transport: base}
				return c.StandardClient()
			},
		},
		{
			// failsafe-go.dev/http, "Retrying HTTP Failures": the retry policy
			// as shown there; its client example composes it with a circuit
			// breaker, left at the library's defaults (circuitbreaker docs).
			name: clientFailsafe, config: "failsafe-go as its HTTP docs (failsafe-go.dev/http) show: `failsafehttp.NewRoundTripper(base, retryPolicy, circuitbreaker.NewWithDefaults())` with " +
				"`retryPolicy = failsafehttp.NewRetryPolicyBuilder().WithBackoff(time.Second, 30*time.Second).WithMaxRetries(3).Build()` " +
				"(4 attempts, backoff 1 s…30 s, Retry-After on 429/503; the default breaker counts errors, not 5xx responses)", attempts: 4,
			delays: []time.Duration{time.Second, 2 * time.Second, 4 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				rp := failsafehttp.NewRetryPolicyBuilder().WithBackoff(time.Second, 30*time.Second).WithMaxRetries(3).Build()
				cb := circuitbreaker.NewWithDefaults[*http.Response]()
				return &http.Client{Transport: failsafehttp.NewRoundTripper(base, rp, cb)}
			},
		},
		{
			name: clientRebound, config: "`rebound.New(base)` defaults (4 attempts, full-jitter backoff 0.5 s…8 s, hints honoured, budget, breakers)", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				return &http.Client{Transport: rebound.New(base)}
			},
		},
		{
			name: clientReboundFleet, optional: true,
			config: "`rebound.New(base, rebound.WithStore(store))`, one `redisstore.Store` (and Redis client) per replica on the `-redis` server: defaults, the gates shared through Redis", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new:    func(http.RoundTripper, upstream) *http.Client { panic("rebound-redis needs a Store") },
			newWithStore: func(base http.RoundTripper, _ upstream, st rebound.Store) *http.Client {
				return &http.Client{Transport: rebound.New(base, rebound.WithStore(st))}
			},
		},
		{
			name: clientReboundStated, optional: true,
			config: "`rebound.New(base, rebound.WithRateLimits(ratelimit.Limits{Default: ratelimit.Limit{Rate: L}}))`, L the provider's request limit per model (and, with -stated-burst d, Burst: L·d): defaults, and the limit a user who knows it states", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, up upstream) *http.Client {
				return &http.Client{Transport: rebound.New(base, up.statedLimits())}
			},
		},
		{
			name: clientReboundStatedFleet, optional: true,
			config: "rebound-stated with `rebound.WithStore(store)`, one `redisstore.Store` (and Redis client) per replica on the `-redis` server: the stated limit shared through Redis", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new:    func(http.RoundTripper, upstream) *http.Client { panic("rebound-stated-redis needs a Store") },
			newWithStore: func(base http.RoundTripper, up upstream, st rebound.Store) *http.Client {
				return &http.Client{Transport: rebound.New(base, up.statedLimits(), rebound.WithStore(st))}
			},
		},
		{
			name: clientReboundFailFast, optional: true,
			config: "`rebound.New(base, rebound.WithBreaker(breaker.Settings{FailFast: true}))`: defaults, but a call that meets an open breaker fails at once instead of waiting for its verdict", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				return &http.Client{Transport: rebound.New(base, rebound.WithBreaker(breaker.Settings{FailFast: true}))}
			},
		},
		{
			name: clientReboundHedged, optional: true,
			config: "`rebound.New(base, rebound.WithHedging(0, \"*/m-slow\"))`: defaults, and the slow-tail model's first attempts hedged after its recent p95 latency", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				return &http.Client{Transport: rebound.New(base, rebound.WithHedging(0, "*/m-slow"))}
			},
		},
		{
			name: clientReboundFallback, optional: true,
			config: "`rebound.New(base, rebound.WithFallback(\"*/m-out-b\", rebound.Alternative{Host: <m-out-a's host>, Model: \"m-out-a\"}))`: defaults, and the outage's failing model falls back to another", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, up upstream) *http.Client {
				var opts []rebound.Option
				if h := up.host("m-out-a"); h != "" {
					opts = append(opts, rebound.WithFallback("*/m-out-b", rebound.Alternative{Host: h, Model: "m-out-a"}))
				}
				return &http.Client{Transport: rebound.New(base, opts...)}
			},
		},
		{
			name: clientReboundFirstEvent, optional: true,
			config: "`rebound.New(base, rebound.WithFirstEventTimeout(time.Second, \"*\"))`: defaults, and a stream that has sent no event 1 s after its headers abandoned and retried", attempts: 4,
			delays: []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second},
			new: func(base http.RoundTripper, _ upstream) *http.Client {
				return &http.Client{Transport: rebound.New(base, rebound.WithFirstEventTimeout(firstEventTimeout, "*"))}
			},
		},
	}
}

// attemptsWithin returns how many attempts fit before a call deadline d,
// counting only the waits between them.
func (c client) attemptsWithin(d time.Duration) int {
	n, waited := 1, time.Duration(0)
	for _, w := range c.delays {
		if waited += w; waited >= d {
			break
		}
		n++
	}
	return min(n, c.attempts)
}

// naiveRetry is the retry loop people write first: a fixed number of
// attempts, a fixed delay, and every error or non-2xx answer retried.
type naiveRetry struct {
	next     http.RoundTripper
	attempts int
	delay    time.Duration
}

func (n *naiveRetry) RoundTrip(req *http.Request) (*http.Response, error) {
	for attempt := 1; ; attempt++ {
		r := req
		if attempt > 1 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			r = req.Clone(req.Context())
			r.Body = body
		}
		resp, err := n.next.RoundTrip(r)
		if attempt == n.attempts || err == nil && resp.StatusCode < 300 {
			return resp, err
		}
		if resp != nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
			resp.Body.Close()
		}
		t := time.NewTimer(n.delay)
		select {
		case <-t.C:
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		}
	}
}

// errKind names the failure a client error stands for.
func errKind(err error) string {
	switch {
	case errors.Is(err, rebound.ErrCircuitOpen):
		return "rebound: circuit open"
	case errors.Is(err, rebound.ErrWouldExceedDeadline):
		return "rebound: wait would exceed deadline"
	case errors.Is(err, rebound.ErrQuotaSpent):
		return "rebound: quota spent"
	case errors.Is(err, circuitbreaker.ErrOpen):
		return "failsafe: circuit open"
	case errors.Is(err, retrypolicy.ErrExceeded):
		return "failsafe: retries exceeded"
	case strings.Contains(err.Error(), "giving up after"):
		return "retryablehttp: gave up"
	case errors.Is(err, context.DeadlineExceeded):
		return "deadline"
	}
	return "transport error"
}
