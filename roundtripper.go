package rebound

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/registry"
	"github.com/rebound-http/rebound/key"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// Transport is an http.RoundTripper that classifies, retries, breaks and
// limits the requests it sends through another RoundTripper. Build it with
// New. It is safe for concurrent use by multiple goroutines, and its
// configuration never changes after New.
type Transport struct {
	next       http.RoundTripper
	err        error // configuration error; every RoundTrip fails with it
	policy     retry.Policy
	classifier classify.Classifier
	budget     *retry.Account        // nil: no budget
	breakers   *breaker.Set          // nil: breakers off
	limits     *ratelimit.Set        // always set: cool-downs work without limits
	keyFunc    KeyFunc               // nil: key.Of, interned in keys
	keys       *registry.Map[string] // interned default keys
	obs        Observer
	idemHeader string
	attHeader  string

	// Time, injected by tests; time.Now and a timer otherwise.
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New returns a Transport that sends requests through next, or through
// http.DefaultTransport when next is nil.
//
// New(nil) with no options gives the defaults: 4 attempts in total;
// full-jitter exponential backoff from 0.5 s, capped at 8 s; server hints
// (Retry-After, retry-after-ms, x-ratelimit-reset-*) honoured up to 60 s and
// never retried earlier; a retry budget of 20% of recent calls plus 10 per
// 10 s (retries that wait out a server's hint are not charged to it: the
// server paced them); responses classified by classify.Default(); a circuit breaker per
// host and model; no rate limits, but a shared cool-down per model after a
// server's hint. See retry.Policy, breaker.Settings and ratelimit.Limits for
// every setting.
//
// Invalid options do not panic: Err reports them, and every RoundTrip of the
// Transport fails with an error matching ErrInvalidConfig without sending
// anything. Check Err when options come from outside the program.
func New(next http.RoundTripper, opts ...Option) *Transport {
	if next == nil {
		next = http.DefaultTransport
	}
	c := config{}
	for _, o := range opts {
		if o == nil {
			c.fail("nil Option")
			continue
		}
		o(&c)
	}
	t := &Transport{next: next, now: time.Now, sleep: sleep, obs: c.observer,
		idemHeader: c.idemHeader, attHeader: c.attemptHeader}
	var errs []error
	errs = append(errs, c.errs...)
	if err := c.policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	t.policy = c.policy.WithDefaults()
	t.budget = retry.NewAccount(t.policy.Budget)
	t.classifier = c.classifier
	if t.classifier == nil {
		t.classifier = classify.Default()
	}
	t.keyFunc = c.keyFunc
	if t.keyFunc == nil {
		t.keys = registry.New(maxInternedKeys, 10*time.Minute, func(k string) string { return k })
	}
	if !c.breaker.Disabled {
		bs := c.breaker
		if user := bs.OnStateChange; user != nil || t.obs.OnBreakerChange != nil {
			onChange := t.obs.OnBreakerChange
			bs.OnStateChange = func(key string, from, to breaker.State) {
				if user != nil {
					user(key, from, to)
				}
				if onChange != nil {
					onChange(BreakerEvent{Key: key, From: from, To: to})
				}
			}
		}
		set, err := breaker.New(bs)
		if err != nil {
			errs = append(errs, err)
		}
		t.breakers = set
	}
	limits, err := ratelimit.New(c.limits)
	if err != nil {
		errs = append(errs, err)
	}
	t.limits = limits
	if len(errs) > 0 {
		t.err = fmt.Errorf("%w: %w", ErrInvalidConfig, errors.Join(errs...))
	}
	return t
}

// Err reports why the Transport's configuration is invalid, or nil.
func (t *Transport) Err() error { return t.err }

// Stats are a Transport's counters.
type Stats struct {
	// Budget is the retry budget's view (zero when the budget is disabled).
	Budget retry.BudgetStats
	// Breakers is how many per-key circuit breakers are held.
	Breakers int
}

// Stats returns the Transport's counters as of now.
func (t *Transport) Stats() Stats {
	s := Stats{Budget: t.budget.Stats(t.now())}
	if t.breakers != nil {
		s.Breakers = t.breakers.Len()
	}
	return s
}

// key returns the key of req. The default key is built in a stack buffer and
// interned, so that a request to a known model allocates nothing for it.
func (t *Transport) key(req *http.Request, body []byte, now time.Time) string {
	if t.keyFunc != nil {
		return t.keyFunc(req, body)
	}
	var buf [128]byte
	return t.keys.GetBytes(key.Append(buf[:0], req, body), now)
}

// maxProbeJitter spreads the retries that wait for a half-open breaker, so
// that its probes go first.
const maxProbeJitter = 250 * time.Millisecond

// maxInternedKeys bounds the interned default keys; past it the least
// recently used are dropped (and simply allocated again if they return).
const maxInternedKeys = 4096

// call is the state of one RoundTrip.
type call struct {
	t     *Transport
	req   *http.Request
	ctx   context.Context
	key   string
	body  replay
	sched retry.Schedule
	idem  string
	sent  bool // the caller's body reached the inner transport
	last  classify.Decision
}

// RoundTrip sends req, retrying as the policy allows, and returns the final
// response or, when there is none to give, an *Error. See the package
// documentation for the full contract.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		closeBody(req)
		return nil, &Error{Err: t.err}
	}
	c := call{t: t, req: req, ctx: req.Context(), sched: t.policy.Start()}
	var err error
	if c.body, err = prepareBody(req, t.policy.MaxBodyBuffer); err != nil {
		return nil, &Error{Err: fmt.Errorf("rebound: reading request body: %w", err)}
	}
	defer func() { c.body.close(req, c.sent) }()
	now := t.now() // the only clock read of a call that succeeds at once
	c.key = c.body.keyBody(req, t.policy.MaxBodyBuffer, func(b []byte) string { return t.key(req, b, now) })
	if t.idemHeader != "" && req.Header.Get(t.idemHeader) == "" {
		c.idem = newIdempotencyKey()
	}
	t.budget.Deposit(now)

	var (
		resp *http.Response // the previous attempt's answer, until discarded
		wait time.Duration  // the backoff or hint before this attempt
	)
	for {
		if c.sched.Attempts() > 0 {
			now = t.now()
		}
		// Admit the attempt before discarding the previous answer: when the
		// attempt cannot go, the caller gets that answer rather than an error.
		done, res, delay, aerr := c.admit(wait, now)
		if aerr != nil {
			if resp != nil {
				c.observeGiveUp(aerr.Error(), nil)
				return resp, nil
			}
			return nil, c.giveUp(aerr, aerr.Error())
		}
		discard(resp)
		resp = nil
		if delay > 0 {
			// Hold no breaker slot while asleep (a half-open breaker has only
			// a few): give it back and ask again when the wait is over.
			done.Done(breaker.Excluded)
			if err := t.sleep(c.ctx, delay); err != nil {
				res.Cancel(t.now())
				return nil, c.giveUp(err, "context done while waiting")
			}
			if t.breakers != nil {
				var err error
				if done, err = t.breakers.Allow(c.key, t.now()); err != nil {
					return nil, c.giveUp(err, err.Error())
				}
			}
		}
		r, d, err := c.send(done)
		if d.Verdict != classify.Retryable {
			if err != nil {
				return nil, c.giveUp(err, "fatal transport error")
			}
			return r, nil
		}
		if d.RetryAfter > 0 {
			now := t.now()
			t.limits.CoolDown(c.key, now, now.Add(d.RetryAfter))
		}
		var stop string
		if wait, stop = c.next(d); stop != "" {
			if err != nil {
				return nil, c.giveUp(err, stop)
			}
			c.observeGiveUp(stop, nil)
			return r, nil
		}
		if h := t.obs.OnRetry; h != nil {
			h(RetryEvent{Key: c.key, Attempt: c.sched.Attempts(), Wait: wait, FromHint: d.RetryAfter > 0, Decision: d})
		}
		resp = r
	}
}

// admit lets the next attempt through the key's circuit breaker (unless it
// must wait first: a retry's breaker was consulted by next) and rate limiter,
// and returns how long to wait before sending it: the longer of wait and the
// limiter's delay. It fails at once when the breaker is open or the wait
// would end after the deadline. On success the caller must report the
// attempt's outcome through the Ticket and, if it does not send,
// give the reservation back.
func (c *call) admit(wait time.Duration, now time.Time) (breaker.Ticket, ratelimit.Reservation, time.Duration, error) {
	t := c.t
	var done breaker.Ticket
	if t.breakers != nil && wait == 0 { // after a wait, the ticket is taken when it ends
		var err error
		if done, err = t.breakers.Allow(c.key, now); err != nil {
			return done, ratelimit.Reservation{}, 0, err
		}
	}
	res := t.limits.Reserve(c.key, now)
	d := max(wait, res.Delay()) // Delay spreads the callers a cool-down held
	if dl, ok := c.ctx.Deadline(); ok && d > 0 && now.Add(d).After(dl) {
		res.Cancel(now)
		done.Done(breaker.Excluded)
		return breaker.Ticket{}, ratelimit.Reservation{}, 0, &ratelimit.WaitError{Key: c.key, Wait: d, Left: dl.Sub(now)}
	}
	return done, res, d, nil
}

// send makes one attempt and classifies its outcome, reporting it to the
// breaker through done. A Retryable decision always comes with a response or
// an error.
func (c *call) send(done breaker.Ticket) (*http.Response, classify.Decision, error) {
	t := c.t
	n := c.sched.Attempted()
	areq, err := c.request(n)
	if err != nil {
		done.Done(breaker.Excluded)
		return nil, classify.Decision{Verdict: classify.Fatal, Message: err.Error()}, err
	}
	var start time.Time
	if t.obs.OnAttempt != nil {
		start = t.now()
	}
	actx, stopTimer := c.attemptContext(areq)
	resp, err := t.next.RoundTrip(areq)
	c.sent = true
	var d classify.Decision
	if err != nil && actx != nil && c.ctx.Err() == nil && actx.Err() != nil {
		// Our per-attempt timeout fired, not the caller's context: retryable.
		d = classify.Decision{Verdict: classify.Retryable, Evidence: classify.ByTransport,
			Message: "attempt timed out after " + t.policy.AttemptTimeout.String()}
	} else {
		d = t.classifier.Classify(resp, err)
	}
	if stopTimer != nil {
		stopTimer(resp)
	}
	if resp != nil && areq != c.req {
		resp.Request = c.req
	}
	c.last = d
	done.Done(outcome(c.ctx, d, err))
	if h := t.obs.OnAttempt; h != nil {
		h(AttemptEvent{Key: c.key, Attempt: n, Decision: d, Duration: t.now().Sub(start)})
	}
	if d.Verdict == classify.Retryable && resp == nil && err == nil {
		d.Verdict = classify.Fatal // a classifier bug; nothing to retry with
	}
	return resp, d, err
}

// next decides about a retry after the retryable decision d: the wait before
// it, or a non-empty reason to stop.
func (c *call) next(d classify.Decision) (time.Duration, string) {
	t := c.t
	if !c.body.replayable() {
		return 0, "request body cannot be replayed"
	}
	left := time.Duration(-1)
	now := t.now()
	if dl, ok := c.ctx.Deadline(); ok {
		left = max(dl.Sub(now), 0)
	}
	wait, s := c.sched.Next(d.RetryAfter, left)
	if s != retry.Continue {
		return 0, s.String()
	}
	if t.breakers != nil {
		// The key's breaker is open: wait for its probes rather than give
		// up, when that fits, spread so the probes go first.
		if until, open := t.breakers.OpenUntil(c.key); open {
			w := until.Sub(now) + time.Duration(rand.Int64N(int64(maxProbeJitter)+1))
			if w > t.policy.MaxHint || left >= 0 && w > left {
				return 0, "circuit open"
			}
			wait = max(wait, w)
		}
	}
	// A retry that waits out the server's own hint is not charged: the server
	// paced it, and the shared cool-down holds every caller of the key
	// meanwhile. The budget bounds the retries the client alone decides on.
	if d.RetryAfter == 0 && !t.budget.Withdraw(now) {
		return 0, retry.StopBudget.String()
	}
	return wait, ""
}

// request builds attempt n's request: the caller's own for a first attempt
// that needs nothing changed, else a shallow copy with a fresh body.
func (c *call) request(n int) (*http.Request, error) {
	t := c.t
	body, err := c.body.body(c.req, n)
	if err != nil {
		return nil, err
	}
	headers := t.attHeader != "" || c.idem != ""
	if body == c.req.Body && !headers && t.policy.AttemptTimeout == 0 {
		return c.req, nil
	}
	r := c.req.WithContext(c.ctx) // a shallow copy
	r.Body = body
	if headers {
		r.Header = c.req.Header.Clone()
		if r.Header == nil {
			r.Header = make(http.Header)
		}
		if c.idem != "" {
			r.Header.Set(t.idemHeader, c.idem)
		}
		if t.attHeader != "" {
			r.Header.Set(t.attHeader, strconv.Itoa(n))
		}
	}
	return r, nil
}

// attemptContext gives r its own context when the policy bounds attempts.
// The returned stop function ends the bound once the response has been
// classified; the response body then lives as long as the caller's context.
func (c *call) attemptContext(r *http.Request) (context.Context, func(*http.Response)) {
	d := c.t.policy.AttemptTimeout
	if d <= 0 {
		return nil, nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	timer := time.AfterFunc(d, cancel)
	*r = *r.WithContext(ctx)
	return ctx, func(resp *http.Response) {
		if !timer.Stop() || resp == nil {
			cancel()
			return
		}
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
}

// giveUp builds the error returned when there is no response to give.
func (c *call) giveUp(err error, reason string) error {
	e := &Error{Key: c.key, Attempts: c.sched.Attempts(), Last: c.last, RequestID: c.last.RequestID, Err: err}
	c.observeGiveUp(reason, e)
	return e
}

func (c *call) observeGiveUp(reason string, err error) {
	if h := c.t.obs.OnGiveUp; h != nil {
		h(GiveUpEvent{Key: c.key, Attempts: c.sched.Attempts(), Reason: reason, Decision: c.last, Err: err})
	}
}

// outcome says what an attempt means for the key's circuit breaker: server
// failures count against it; 4xx answers (429 included) and the caller's own
// cancellation count neither way.
func outcome(ctx context.Context, d classify.Decision, err error) breaker.Outcome {
	switch {
	case err != nil && ctx.Err() != nil:
		return breaker.Excluded
	case err != nil, d.Status >= 500:
		return breaker.Failure
	case d.Verdict == classify.Retryable && d.Evidence == classify.ByBody && d.Status != http.StatusTooManyRequests:
		return breaker.Failure // model_overloaded and kin, whatever the status
	case d.Status >= 400:
		return breaker.Excluded
	}
	return breaker.Success
}

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (b *cancelOnClose) Close() error {
	err := b.ReadCloser.Close()
	b.cancel()
	return err
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

func newIdempotencyKey() string {
	var b [16]byte
	cryptorand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
