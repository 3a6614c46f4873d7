package rebound

import (
	"context"
	cryptorand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"runtime"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/gate"
	"github.com/rebound-http/rebound/internal/secret"
	"github.com/rebound-http/rebound/key"
	"github.com/rebound-http/rebound/retry"
)

// Transport is an http.RoundTripper that classifies, retries, breaks and
// paces the requests it sends through another RoundTripper. Build it with
// New. It is safe for concurrent use by multiple goroutines, and its
// configuration never changes after New.
type Transport struct {
	next       http.RoundTripper
	err        error // configuration error; every RoundTrip fails with it
	policy     retry.Policy
	classifier classify.Classifier
	gates      *gate.Set // per-key admission: breakers, pace, limits, budget
	keyFunc    KeyFunc   // nil: key.Append, its bytes looked up in gates
	costFunc   CostFunc  // nil: key.Cost
	obs        Observer
	idemHeader string
	attHeader  string
	tail       *tailRules // per-key first-event timeouts, fallbacks, hedges; nil for none

	// Time, injected by tests; time.Now and a timer otherwise. The gates
	// read the same clock, through clk: they do not point back at the
	// Transport, so that a Transport its user dropped can be collected
	// while its Store lives on (see New).
	clk   *clock
	sleep func(ctx context.Context, d time.Duration) error
	after func(d time.Duration, f func()) (stop func() bool) // time.AfterFunc
}

// clock is the Transport's clock, shared with its gates.
type clock struct{ now func() time.Time }

func (t *Transport) now() time.Time { return t.clk.now() }

// New returns a Transport that sends requests through next, or through
// http.DefaultTransport when next is nil.
//
// New(nil) with no options gives the defaults: 4 attempts in total;
// full-jitter exponential backoff from 0.5 s, capped at 8 s; server hints
// (Retry-After, retry-after-ms, x-ratelimit-reset-*) honoured up to 60 s and
// never retried earlier; a retry budget of 20% of recent calls plus 10 per
// 10 s, charged for every retry and refunded when it succeeds; responses
// classified by classify.Default(); per host and model, a circuit breaker
// that holds calls until its half-open verdict when their deadline leaves
// room, and a pace that follows what the provider accepts from its first
// 429 on; no stated rate limits. See retry.Policy, breaker.Settings and
// ratelimit.Limits for every setting.
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
	t := &Transport{next: next, clk: &clock{now: time.Now}, sleep: sleep, after: afterFunc, obs: c.observer,
		idemHeader: c.idemHeader, attHeader: c.attemptHeader, tail: newTailRules(&c)}
	var errs []error
	errs = append(errs, c.errs...)
	if err := c.policy.Validate(); err != nil {
		errs = append(errs, err)
	}
	t.policy = c.policy.WithDefaults()
	t.classifier = c.classifier
	if t.classifier == nil {
		t.classifier = classify.Default()
	}
	if cat, ok := t.classifier.(*classify.Catalog); ok {
		if err := cat.Validate(); err != nil {
			errs = append(errs, err)
		}
		peek := cat.MaxPeekTime // negative: no bound
		if peek == 0 {
			peek = classify.DefaultMaxPeekTime
		}
		if d := c.maxFirstEvent; d > 0 && peek > 0 && peek < d {
			// The peek must wait for the first event as long as the
			// first-event timeout lets it.
			cp := *cat
			cp.MaxPeekTime = d
			t.classifier = &cp
		}
	}
	t.keyFunc = c.keyFunc
	t.costFunc = c.costFunc
	clk := t.clk
	gc := gate.Config{
		Breaker: c.breaker,
		Limits:  c.limits,
		Budget:  retry.NewAccount(t.policy.Budget),
		MaxWait: t.policy.MaxHint,
		Now:     func() time.Time { return clk.now() },
	}
	if user := c.breaker.OnStateChange; user != nil || t.obs.OnBreakerChange != nil {
		onChange := t.obs.OnBreakerChange
		gc.OnBreakerChange = func(key string, from, to breaker.State) {
			if user != nil {
				user(key, from, to)
			}
			if onChange != nil {
				onChange(BreakerEvent{Key: key, From: from, To: to})
			}
		}
	}
	if c.store != nil {
		gc.Shared = storeAdapter{c.store}
		if h := t.obs.OnStore; h != nil {
			gc.OnSharedChange = func(up bool, err error) { h(StoreEvent{Up: up, Err: err}) }
		}
	}
	gates, err := gate.New(gc)
	if err == nil && c.store != nil && len(errs) == 0 {
		// The subscription ends when the Store is closed, or when the
		// Transport is no longer reachable: the Store holds the gates,
		// not the Transport.
		cancel := c.store.Subscribe(gates.Deadline)
		if cancel != nil {
			runtime.SetFinalizer(t, func(*Transport) { cancel() })
		}
	}
	if err != nil {
		errs = append(errs, err)
	}
	t.gates = gates
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
	// Keys is the state of each key's gate, in no particular order.
	Keys []KeyState
}

// KeyState is the state of one key's gate.
type KeyState struct {
	Key     string
	Breaker breaker.State
	// Rate is the pace the key is sent at, in requests per second, learnt
	// from its throttling answers or its rate-limit headers; zero when the
	// key is not paced.
	Rate float64
	// HoldUntil is when the key's spent quota resets; zero when it is not
	// held.
	HoldUntil time.Time
	// Quota is what the key's responses last told of its rate limits
	// (requests and tokens: limit, remaining, reset), and QuotaAt when it
	// was read; zero when none has. Headers are read on every response
	// while a window is near spent, and about once per 10 ms otherwise.
	Quota   classify.Quota
	QuotaAt time.Time
}

// Stats returns the Transport's counters as of now.
func (t *Transport) Stats() Stats {
	if t.gates == nil {
		return Stats{}
	}
	now := t.now()
	st := Stats{Budget: t.gates.Budget(now), Breakers: t.gates.Breakers()}
	for _, k := range t.gates.Keys(now) {
		st.Keys = append(st.Keys, KeyState(k))
	}
	return st
}

// gate returns the gate of req's key, whose Key is the key. The default key
// is built in a stack buffer and looked up as it is, so that a request to a
// known model allocates nothing for it.
func (t *Transport) gate(req *http.Request, body []byte, now time.Time) *gate.Gate {
	if t.keyFunc != nil {
		return t.gates.Get(t.keyFunc(req, body), now)
	}
	var buf [128]byte
	return t.gates.GetBytes(key.Append(buf[:0], req, body), now)
}

// key returns the key of req.
func (t *Transport) key(req *http.Request, body []byte) string {
	if t.keyFunc != nil {
		return t.keyFunc(req, body)
	}
	return key.Of(req, body)
}

// cost returns the estimated token cost of req, whose body is b (nil when
// not at hand, its first bytes when it is a one-shot body too long to
// buffer).
func (t *Transport) cost(req *http.Request, b []byte) int64 {
	var n int
	switch {
	case t.costFunc != nil:
		n = t.costFunc(req, b)
	case b != nil:
		n = key.Cost(b)
		if rest := req.ContentLength - int64(len(b)); rest > 0 {
			// The bytes past the buffered prefix are prompt too.
			n += int(min(rest/4, math.MaxInt32))
		}
	case req.ContentLength > 0:
		n = int(min(req.ContentLength/4, math.MaxInt32)) // the prompt, as key.Cost reckons it
	}
	return int64(max(n, 0))
}

// maxRuleKeys bounds the keys whose per-key options are resolved and held
// (see tailRules), as many as the gates; past it the least recently used
// are dropped (and simply resolved again if they return).
const maxRuleKeys = 4096

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

	rules    *keyRules     // the key's per-key options; nil for none
	chain    []Alternative // the fallbacks left to the call
	sub      bool          // the call of a fallback: not a new call
	extra    bool          // charge its first attempt to the retry budget
	share    *retry.Share  // of the retry budget: its key's, or for a fallback its call's
	attempts int           // requests sent, hedges and fallbacks included
	hedges   int           // hedges sent: each took an attempt header's number
}

// RoundTrip sends req, retrying as the policy allows, and returns the final
// response or, when there is none to give, an *Error. See the package
// documentation for the full contract.
//
// Each attempt is prepared, admitted by its key's gate (send, wait, or
// refuse), sent, classified and reported to the gate; the decision to try
// again is the retry policy's.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.err != nil {
		closeBody(req)
		return nil, &Error{Err: t.err, Reason: ReasonFatal}
	}
	c := call{t: t, req: req, ctx: req.Context(), sched: t.policy.Start()}
	resp, why, fall, err := c.run()
	if fall {
		return c.fallBack(resp, err, why)
	}
	return resp, err
}

// run makes the call's attempts to its own key. It returns the answer or
// the error for the caller, and fall set when the key could not serve the
// call and its fallback chain should be tried, why saying why.
func (c *call) run() (_ *http.Response, why Reason, fall bool, _ error) {
	// One deferred call and few returns: the defer is open-coded, which
	// the success path's budget needs (the attempts' loop is in attempt).
	defer func() {
		c.attempts += c.sched.Attempts()
		c.body.close(c.req, c.sent) // a zero replay (no body read) closes nothing
	}()
	var err error
	if c.body, err = prepareBody(c.req, c.t.policy.MaxBodyBuffer); err != nil {
		return nil, ReasonFatal, false, c.giveUp(fmt.Errorf("reading request body: %w", err), ReasonFatal)
	}
	return c.attempt()
}

// attempt makes run's attempts, its body prepared.
func (c *call) attempt() (_ *http.Response, why Reason, fall bool, _ error) {
	t, req := c.t, c.req
	now := t.now() // the only clock read of a call that succeeds at once
	var (
		g    *gate.Gate
		cost int64
	)
	c.key = c.body.keyBody(req, t.policy.MaxBodyBuffer, func(b []byte) string {
		if g = t.gate(req, b, now); t.gates.CostWanted(g) {
			cost = t.cost(req, b)
		}
		return g.Key()
	})
	if t.tail != nil {
		if c.rules = t.tail.get(c.key, now); c.rules != nil && !c.sub {
			c.chain = c.rules.chain
		}
	}
	if t.idemHeader != "" && req.Header.Get(t.idemHeader) == "" {
		c.idem = newIdempotencyKey()
	}
	if !c.sub {
		c.share = g.Share() // deposited in once the call sends
	}
	deadline, _ := c.ctx.Deadline()

	var (
		held      *http.Response // the last retryable answer, until discarded
		heldErr   error          // or the last retryable transport error
		notBefore time.Time      // the retry's backoff or hint ends
		fromHint  bool
		place     *gate.Place // in the key's queue for the fleet's limits
	)
	for {
		a := t.gates.Admit(g, now, gate.Request{Attempt: c.sched.Attempts() + 1, NotBefore: notBefore, Deadline: deadline, Cost: cost,
			Extra: c.extra && c.sched.Attempts() == 0, Place: place, Share: c.share})
		if place != nil && a.Place != place {
			t.gates.Leave(g, place) // the call holds it no longer
		}
		place = a.Place
		if (a.Verdict == gate.Wait && (a.Cause == gate.Breaker || a.Cause == gate.Hold) ||
			a.Verdict == gate.Send && a.Delay > 0 && a.Cause == gate.Hold) && c.canFall() {
			// The key cannot serve now, and another may: do not wait for
			// the breaker's verdict or the quota's reset (a spent window
			// gives the call a slot at its reset: a Send with a delay).
			if a.Verdict == gate.Send {
				t.gates.Cancel(&a.Ticket, now)
			}
			reason, cause := ReasonCircuitOpen, ErrCircuitOpen
			if a.Cause == gate.Hold {
				reason, cause = ReasonQuotaSpent, ErrQuotaSpent
			}
			if held != nil {
				return held, reason, true, nil
			}
			if heldErr != nil {
				cause = heldErr
			}
			return nil, reason, true, c.newError(cause, reason)
		}
		switch a.Verdict {
		case gate.Refuse:
			// The answer already held is never lost: the caller gets it
			// rather than the reason the next attempt could not go.
			reason := refusal(a.Cause)
			fall := a.Cause != gate.Budget && c.canFall()
			if held != nil {
				if !fall {
					c.observeGiveUp(reason, nil)
				}
				return held, reason, fall, nil
			}
			cause := a.Err
			if cause == nil {
				cause = heldErr
			}
			if cause == nil {
				cause = errors.New(reason.String())
			}
			if fall {
				return nil, reason, true, c.newError(cause, reason)
			}
			return nil, reason, false, c.giveUp(cause, reason)
		case gate.Wait:
			c.observeWait(a.Delay, waitCause(a.Cause, fromHint))
			if err := t.wait(c.ctx, a.Delay, a.Wake); err != nil {
				t.gates.Leave(g, place)
				if a.Cause == gate.Recovery {
					t.gates.StopWaiting(g, a.Wake, t.now()) // its slot goes to the next
				}
				discard(held)
				return nil, ReasonCanceled, false, c.giveUp(err, ReasonCanceled)
			}
			now = t.now()
			continue
		}
		if a.Delay > 0 {
			c.observeWait(a.Delay, waitCause(a.Cause, false))
			if err := t.sleep(c.ctx, a.Delay); err != nil {
				t.gates.Cancel(&a.Ticket, t.now())
				discard(held)
				return nil, ReasonCanceled, false, c.giveUp(err, ReasonCanceled)
			}
			if now = t.now(); g.Held(now) || !a.Ticket.Fits(now) {
				// The key's quota was found spent while this call waited
				// for its slot, or to have less left than the slot was
				// given from: ask again, to wait for the reset.
				t.gates.Cancel(&a.Ticket, now)
				continue
			}
			a.Ticket.Sending(now)
		}
		areq, err := c.request(c.sched.Attempts() + 1)
		if err != nil {
			// No fresh body for the attempt (GetBody failed): the answer
			// already held is still the caller's.
			t.gates.Cancel(&a.Ticket, t.now())
			if held != nil {
				c.observeGiveUp(ReasonNotReplayable, nil)
				return held, ReasonNotReplayable, false, nil
			}
			return nil, ReasonNotReplayable, false, c.giveUp(err, ReasonNotReplayable)
		}
		discard(held)
		held, heldErr = nil, nil
		n := c.sched.Attempted()
		if n == 1 && !c.extra {
			// A call the key refuses before it sends (an open breaker, a
			// limit past its deadline) pays for no retry: the budget
			// bounds retries by the requests that reached the upstream.
			// A fallback whose call sent nothing before is the call's
			// first request, and counts as the call.
			t.gates.Deposit(c.share, now)
		}
		c.sent = true
		var (
			r *http.Response
			d classify.Decision
		)
		if delay, ok := c.rules.hedgeDelay(); ok && n == 1 && c.body.replayable() {
			r, d, err = c.race(a.Ticket, areq, delay, g, deadline, cost)
		} else {
			r, d, err = c.send(&a.Ticket, areq, sendOpts{n: n})
		}
		c.last = d
		if d.Verdict != classify.Retryable {
			if err != nil {
				reason := ReasonFatal
				if c.ctx.Err() != nil {
					reason = ReasonCanceled // the caller's context ended mid-attempt
				}
				return nil, reason, false, c.giveUp(err, reason)
			}
			return r, ReasonFatal, d.Verdict == classify.Fatal && modelFault(d) && c.canFall(), nil
		}
		if modelFault(d) && c.canFall() {
			// Overloaded or unavailable: another model may answer now.
			return r, ReasonAttempts, true, nil
		}
		now = t.now()
		wait, stop := c.next(d, now, deadline)
		if stop != ReasonNone {
			fall := stop != ReasonNotReplayable && c.canFall()
			if err != nil {
				if fall {
					return nil, stop, true, c.newError(err, stop)
				}
				return nil, stop, false, c.giveUp(err, stop)
			}
			if !fall {
				c.observeGiveUp(stop, nil)
			}
			return r, stop, fall, nil
		}
		fromHint = d.RetryAfter > 0
		if h := t.obs.OnRetry; h != nil {
			h(RetryEvent{Context: c.ctx, Key: c.key, Attempt: c.sched.Attempts(), Wait: wait, FromHint: fromHint, Decision: d})
		}
		held, heldErr = keep(r), err
		notBefore = now.Add(wait)
	}
}

// storeAdapter is a Store seen by the gates.
type storeAdapter struct{ s Store }

func (a storeAdapter) Take(ctx context.Context, name string, l gate.SharedLimit, n int) (time.Duration, error) {
	return a.s.Take(ctx, name, StoreLimit{Rate: l.Rate, Burst: l.Burst, Period: l.Period}, n)
}
func (a storeAdapter) Raise(name string, until time.Time) { a.s.Raise(name, until) }
func (a storeAdapter) Members() int                       { return a.s.Members() }

// canFall reports whether the call has a fallback left to go to.
func (c *call) canFall() bool {
	return len(c.chain) > 0 && c.body.replayable() && c.ctx.Err() == nil
}

// refusal turns the gate's cause for refusing an attempt into a Reason.
func refusal(c gate.Cause) Reason {
	switch c {
	case gate.Budget:
		return ReasonBudget
	case gate.Breaker, gate.Recovery:
		return ReasonCircuitOpen
	case gate.Pace, gate.Limit:
		return ReasonRateLimited
	case gate.Hold:
		return ReasonQuotaSpent
	case gate.TooLarge:
		return ReasonTooLarge
	}
	return ReasonDeadline
}

// waitCause turns the gate's cause for a wait into a WaitCause.
func waitCause(c gate.Cause, fromHint bool) WaitCause {
	switch c {
	case gate.Breaker:
		return WaitBreaker
	case gate.Recovery:
		return WaitRecovery
	case gate.Pace:
		return WaitPace
	case gate.Limit:
		return WaitRateLimit
	case gate.Hold:
		return WaitQuota
	}
	if fromHint {
		return WaitHint
	}
	return WaitBackoff
}

// wait sleeps for d, or until wake is closed, or until ctx is done; only the
// last is an error.
func (t *Transport) wait(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	if wake == nil {
		return t.sleep(ctx, d)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-wake:
			cancel()
		case <-wctx.Done():
		}
	}()
	if err := t.sleep(wctx, d); err != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	return nil
}

// sendOpts say how send makes an attempt.
type sendOpts struct {
	n     int          // the attempt's number, 1 for the first
	hedge bool         // the second copy of a hedged attempt
	lost  *atomic.Bool // set when the attempt lost its hedged race
	// cancel cancels the attempt's context, which the caller made; nil
	// when send makes it if it needs one.
	cancel context.CancelFunc
}

// send makes one attempt and classifies its outcome, reporting it to the
// key's gate through tk. A Retryable decision always comes with a response
// or an error. It changes nothing of c, so that the two attempts of a
// hedged race may run it at once.
func (c *call) send(tk *gate.Ticket, areq *http.Request, o sendOpts) (*http.Response, classify.Decision, error) {
	t := c.t
	var start time.Time
	hist := c.rules != nil && c.rules.hedge && c.rules.hedgeAfter == 0 && !o.hedge
	if t.obs.OnAttempt != nil || hist {
		start = t.now()
	}
	cancel := o.cancel
	if cancel == nil && (t.policy.AttemptTimeout > 0 || c.rules.ownContext()) {
		var ctx context.Context
		ctx, cancel = context.WithCancel(c.ctx)
		*areq = *areq.WithContext(ctx) // areq is the attempt's own copy
	}
	var attemptStop func() bool
	if d := t.policy.AttemptTimeout; d > 0 {
		attemptStop = t.after(d, cancel)
	}
	resp, err := t.next.RoundTrip(areq)
	if err != nil && o.lost != nil && o.lost.Load() {
		// Cut off because the other attempt of its race answered first.
		if attemptStop != nil {
			attemptStop()
		}
		cancel()
		t.gates.Abandon(tk)
		return nil, classify.Decision{}, errLost
	}
	var firstEventStop func() bool
	if fe := c.rules.firstEventTimeout(); fe > 0 && err == nil && isEventStream(resp) {
		firstEventStop = t.after(fe, cancel)
	}
	var d classify.Decision
	if err == nil || cancel == nil || areq.Context().Err() == nil {
		d = t.classifier.Classify(resp, err)
	} else {
		// The attempt's own context was cancelled: by our bound (the switch
		// below says so) or by the caller's context, which ends the call.
		// The user's classifier is not asked about our cancellation.
		d = classify.ClassifyError(err)
	}
	if d.Verdict != classify.Success {
		scrubSent(&d, c.req) // whatever classified it, and a transport error's text
	}
	// Whether our own bounds ran out before the answer was classified.
	attemptOut := attemptStop != nil && !attemptStop()
	firstEventOut := firstEventStop != nil && !firstEventStop()
	switch {
	case (attemptOut || firstEventOut) && c.ctx.Err() == nil:
		// Our per-attempt bound ran out, not the caller's context, before
		// the attempt was classified: whatever arrived is cut off.
		discard(resp)
		resp, err = nil, ErrAttemptTimeout
		msg := "attempt timed out after " + t.policy.AttemptTimeout.String()
		if firstEventOut {
			err, msg = ErrFirstEventTimeout, "no first event within "+c.rules.firstEvent.String()
		}
		d = classify.Decision{Verdict: classify.Retryable, Evidence: classify.ByTransport, Message: msg}
		cancel()
	case cancel != nil && resp == nil:
		cancel()
	case cancel != nil:
		// The body lives as long as the caller's context, or until closed.
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
	}
	if resp != nil && areq != c.req {
		resp.Request = c.req
	}
	var end time.Time
	if tk.Timed() || t.obs.OnAttempt != nil || hist || d.Status == http.StatusTooManyRequests {
		end = t.now()
	}
	if resp != nil && (d.Status == http.StatusTooManyRequests || tk.QuotaDue()) {
		// What the provider tells of the key's quota paces it, and a
		// window that is spent holds every caller of the key until its
		// reset: the one case where holding them all is right.
		if end.IsZero() {
			end = t.now()
		}
		tk.Observe(classify.ParseQuota(resp.Header, end), end, d.Status == http.StatusTooManyRequests)
	}
	t.gates.Report(tk, d, err, c.ctx.Err() != nil, end)
	if hist && d.Verdict == classify.Success && (o.lost == nil || !o.lost.Load()) {
		c.rules.lat.Observe(end.Sub(start))
	}
	if h := t.obs.OnAttempt; h != nil {
		h(AttemptEvent{Context: c.ctx, Key: c.key, Attempt: o.n, Decision: d, Duration: end.Sub(start), Hedge: o.hedge})
	}
	if d.Verdict == classify.Retryable && resp == nil && err == nil {
		d.Verdict = classify.Fatal // a classifier bug; nothing to retry with
	}
	return resp, d, err
}

// next decides about a retry after the retryable decision d at now: the wait
// before it, or the Reason to stop. Whether the retry may then go (breaker,
// pace, budget, deadline) is the gate's to say.
func (c *call) next(d classify.Decision, now, deadline time.Time) (time.Duration, Reason) {
	if !c.body.replayable() {
		return 0, ReasonNotReplayable
	}
	left := time.Duration(-1)
	if !deadline.IsZero() {
		left = max(deadline.Sub(now), 0)
	}
	wait, s := c.sched.Next(d.RetryAfter, left)
	switch s {
	case retry.Continue:
		return wait, ReasonNone
	case retry.StopAttempts:
		return 0, ReasonAttempts
	case retry.StopHintTooLong:
		return 0, ReasonHintTooLong
	}
	return 0, ReasonDeadline
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
	if body == c.req.Body && !headers && t.policy.AttemptTimeout == 0 && !c.rules.ownContext() {
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
			r.Header.Set(t.attHeader, strconv.Itoa(n+c.hedges)) // a hedge took a number
		}
	}
	return r, nil
}

// giveUp builds the error returned when there is no response to give, and
// tells the observer.
func (c *call) giveUp(err error, reason Reason) error {
	e := c.newError(err, reason)
	c.observeGiveUp(reason, e)
	return e
}

// newError builds the error returned when there is no response to give.
func (c *call) newError(err error, reason Reason) error {
	return &Error{Key: c.key, Attempts: c.sched.Attempts(), Last: c.last, RequestID: c.last.RequestID, Reason: reason, Err: err,
		secrets: secret.Values(c.req)}
}

// scrubSent cuts the credentials req carries out of d's text.
func scrubSent(d *classify.Decision, req *http.Request) {
	v := secret.Values(req)
	if v == nil {
		return
	}
	d.Code, d.Type = secret.Scrub(d.Code, v), secret.Scrub(d.Type, v)
	d.Message, d.RequestID = secret.Scrub(d.Message, v), secret.Scrub(d.RequestID, v)
}

func (c *call) observeGiveUp(reason Reason, err error) {
	if h := c.t.obs.OnGiveUp; h != nil {
		h(GiveUpEvent{Context: c.ctx, Key: c.key, Attempts: c.sched.Attempts(), Reason: reason, Decision: c.last, Err: err})
	}
}

func (c *call) observeWait(d time.Duration, cause WaitCause) {
	if h := c.t.obs.OnWait; h != nil {
		h(WaitEvent{Context: c.ctx, Key: c.key, Attempt: c.sched.Attempts() + 1, Wait: d, Cause: cause})
	}
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
