// Package gate is the one place that decides whether an attempt to a key may
// go: it owns each key's circuit breaker, its adaptive pace, its hold and its
// configured rate limit, and the Transport's retry budget. Per attempt, Admit
// answers send (perhaps after a delay), wait and ask again, or refuse with a
// typed cause; Report takes the attempt's outcome.
//
// The rules, in words:
//   - Never earlier than the server said: a retry's NotBefore (its backoff or
//     the server's hint) is waited out first, and a wait that would end past
//     the deadline is refused at once.
//   - Hold only on evidence that the key is spent: an open breaker holds a
//     call until its half-open verdict when the deadline leaves room (probes
//     first; once it closes, waiting calls are released through a window that
//     grows as answers come back); a quota spent until a reset holds it until
//     then.
//   - Otherwise pace: from a key's first throttling answer on, its send rate
//     follows what the provider accepts, and calls that cannot be sent within
//     their deadline are refused locally without being sent.
//   - Every retry is charged to the budget when it is sent; a retry that
//     succeeds is refunded.
package gate

import (
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/registry"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// Config configures a Set.
type Config struct {
	// Breaker configures the per-key breakers; it must have been validated.
	Breaker breaker.Settings
	// Limits configures the stated rate limits; it must have been validated.
	Limits ratelimit.Limits
	// Budget is the retry budget; nil means none.
	Budget *retry.Account
	// OnBreakerChange, if not nil, is told of every breaker change after
	// the gate has taken it into account.
	OnBreakerChange func(key string, from, to breaker.State)
	// MaxWait bounds the waits of a call without a deadline for an open
	// breaker or a spent quota; longer ones are refused.
	MaxWait time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Shared, if not nil, is the state shared with the fleet's other
	// members; OnSharedChange is told when it stops answering (up false)
	// and when it answers again.
	Shared         Shared
	OnSharedChange func(up bool, err error)
}

// Set holds the gate of every key, created on first use and bounded in
// number. It is safe for concurrent use.
type Set struct {
	breakers    *breaker.Set
	limits      *ratelimit.Set
	budget      *retry.Account
	failFast    bool
	tokenLimits bool // a configured limit counts tokens
	maxWait     time.Duration
	openTimeout time.Duration
	probes      int32
	now         func() time.Time
	onChange    func(key string, from, to breaker.State)
	gates       *registry.Map[*Gate]
	shared      *sharedState // nil: none
	jitter      func(n int64) int64
}

// Bounds of the gates held; the breakers and limiters have their own.
const (
	maxGates = 4096
	gateIdle = 10 * time.Minute
)

// New returns a Set for c, or the error of building its breakers or limits.
func New(c Config) (*Set, error) {
	s := &Set{budget: c.Budget, now: c.Now, onChange: c.OnBreakerChange, failFast: c.Breaker.FailFast, maxWait: c.MaxWait,
		tokenLimits: c.Limits.Tokens()}
	if s.now == nil {
		s.now = time.Now
	}
	bs := c.Breaker
	bs.OnStateChange = s.breakerChanged
	var err error
	if s.breakers, err = breaker.New(bs); err != nil {
		return nil, err
	}
	d := c.Breaker.WithDefaults()
	s.openTimeout, s.probes = d.OpenTimeout, int32(min(d.HalfOpenProbes, math.MaxInt32))
	if s.limits, err = ratelimit.New(c.Limits); err != nil {
		return nil, err
	}
	s.gates = registry.New(maxGates, gateIdle, func(key string) *Gate {
		g := &Gate{key: key, changed: make(chan struct{}), set: s, budget: s.budget.NewShare()}
		g.pace.init()
		return g
	})
	s.jitter = rand.Int64N
	if c.Shared != nil {
		s.shared = &sharedState{s: c.Shared, onChange: c.OnSharedChange}
	}
	return s, nil
}

// Get returns the gate of key, creating it if needed.
func (s *Set) Get(key string, now time.Time) *Gate { return s.gates.Get(key, now) }

// GetBytes is Get for a key held in a byte slice: finding an existing gate
// allocates nothing.
func (s *Set) GetBytes(key []byte, now time.Time) *Gate { return s.gates.GetBytes(key, now) }

// Key returns g's key.
func (g *Gate) Key() string { return g.key }

// Breakers returns how many breakers the Set holds.
func (s *Set) Breakers() int { return s.breakers.Len() }

// Budget returns the retry budget's counters as of now.
func (s *Set) Budget(now time.Time) retry.BudgetStats { return s.budget.Stats(now) }

// KeyState is one key's gate as of a moment.
type KeyState struct {
	Key     string
	Breaker breaker.State
	// Rate is the key's pace in requests per second; zero when it is not
	// paced.
	Rate float64
	// HoldUntil is when the key's spent quota resets; zero for none.
	HoldUntil time.Time
	// Quota is what the key's responses last told of its rate limits, and
	// QuotaAt when; zero when none has.
	Quota   classify.Quota
	QuotaAt time.Time
}

// Keys returns the state of every key the Set holds, as of now.
func (s *Set) Keys(now time.Time) []KeyState {
	var gs []*Gate
	s.gates.Range(func(_ string, g *Gate) bool {
		gs = append(gs, g)
		return true
	})
	out := make([]KeyState, 0, len(gs))
	for _, g := range gs {
		st := KeyState{Key: g.key, Breaker: s.breakers.State(g.key)}
		st.Rate, _ = g.Rate()
		st.Quota, st.QuotaAt, _ = g.Quota()
		if h := g.hold.Load(); h > now.UnixNano() {
			st.HoldUntil = time.Unix(0, h)
		}
		out = append(out, st)
	}
	return out
}

// Deposit records one call at now in the retry budget, and in share (a
// gate's Share, the call's key's) when it is not nil.
func (s *Set) Deposit(share *retry.Share, now time.Time) { s.budget.Deposit(share, now) }

// Share returns g's share of the retry budget: the calls of its key, and
// the retries they pay for wherever they go (a fallback's attempts are its
// call's); nil when there is no budget.
func (g *Gate) Share() *retry.Share { return g.budget }

// Gate is one key's admission state.
type Gate struct {
	key    string
	budget *retry.Share // the key's share of the retry budget

	// changed is closed, and replaced, when a waiting call may now go: a
	// breaker changed state, or a recovery slot came free.
	mu         sync.Mutex
	changed    chan struct{}
	changes    atomic.Uint32 // counts the wakes of changed, for a call that reads it after the breaker refused it
	openUntil  time.Time     // on the Set's clock, while the breaker is open
	recovering atomic.Bool
	window     int32         // recovery: how many calls may be in flight
	inflight   int32         // recovery: how many are
	queue      []waiter      // recovery: the callers waiting for a slot, first first
	ssthresh   int32         // recovery: past it the window grows by one per window of successes
	acked      int32         // recovery: successes since the window last grew, past ssthresh
	minLat     time.Duration // recovery: the fastest answer since it began
	slotGen    uint32        // recovery: counts the recoveries, so that a slot of an earlier one is not given back to this one

	// The calls waiting for the fleet's limits, first first, and when the
	// fleet's limits said the next slot comes (Unix ns); fleetWaiting is
	// len(fleetQ), for the calls that find it empty without the lock.
	fleetQ       []*Place
	fleetUntil   deadline
	fleetWaiting atomic.Int32
	// tokFull is the Unix ns since which the fleet's token limit has
	// refused every call that asked, with calls of this member waiting
	// for it all along (0: it was not seen full): the fleet then sends
	// what the limit lets through, which what the provider counts
	// meanwhile measures the estimates by (see learnFleetScale).
	tokFull atomic.Int64

	hold       deadline // Unix nanoseconds until which the key is spent; 0: none
	remoteOpen deadline // until which a fleet member found the key's breaker open
	set        *Set
	share      share // the local share of the fleet's limits, while the shared state is down

	pace  pacer
	quota quota
}

// deadline is a time, in Unix nanoseconds, that only ever moves later.
type deadline struct{ atomic.Int64 }

// extend moves d to u if u is later, and reports whether it did.
func (d *deadline) extend(u int64) bool {
	for {
		old := d.Load()
		if u <= old {
			return false
		}
		if d.CompareAndSwap(old, u) {
			return true
		}
	}
}

// wake lets every waiting call ask again. g.mu must be held.
func (g *Gate) wakeLocked() {
	close(g.changed)
	g.changed = make(chan struct{})
	g.changes.Add(1)
}

// woken is a closed channel: a Wake for a call that missed a wake.
var woken = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// breakerChanged is the breakers' OnStateChange: it runs without any
// breaker lock held.
func (s *Set) breakerChanged(key string, from, to breaker.State) {
	if g, ok := s.gates.Peek(key); ok {
		var raise time.Time
		g.mu.Lock()
		switch to {
		case breaker.Open:
			g.openUntil = s.now().Add(s.openTimeout)
			g.recovering.Store(false)
			raise = g.openUntil
		case breaker.Closed:
			if from == breaker.HalfOpen {
				// Release the calls held meanwhile gradually: as many as
				// the probes at first, one more per answer that comes back.
				g.window, g.inflight, g.ssthresh, g.acked, g.minLat = s.probes, 0, 0, 0, 0
				g.slotGen++ // the slots still out are the last recovery's
				g.recovering.Store(true)
			}
		}
		g.wakeLocked()
		g.wakeQueueLocked(s.now())
		g.mu.Unlock()
		if !raise.IsZero() {
			s.raise(openPrefix, g, raise) // without g.mu: the fleet's answer may come at once
		}
	}
	if s.onChange != nil {
		s.onChange(key, from, to)
	}
}

// Verdict is what Admit decided.
type Verdict uint8

const (
	// Send means: wait Admission.Delay (often zero), then send.
	Send Verdict = iota
	// Wait means: wait Admission.Delay, or until Admission.Wake is closed,
	// then call Admit again.
	Wait
	// Refuse means: do not send; Admission.Cause says why.
	Refuse
)

// Cause says why an attempt waits or is refused.
type Cause uint8

// The causes.
const (
	None     Cause = iota
	Backoff        // the retry's own backoff or the server's hint
	Breaker        // the key's breaker is open or half-open
	Recovery       // the breaker just closed; calls are released gradually
	Pace           // the key's adaptive pace
	Limit          // a stated rate limit
	Hold           // the key's quota is spent until a reset
	Budget         // the retry budget is spent
	Deadline       // the wait would end after the deadline
	TooLarge       // the request costs more tokens than the key's whole token limit
)

// Request is what one attempt asks of its gate.
type Request struct {
	// Attempt is the attempt's number, 1 for the first.
	Attempt int
	// NotBefore is when the retry's backoff or the server's hint ends;
	// zero for none.
	NotBefore time.Time
	// Deadline is the call's deadline; zero for none.
	Deadline time.Time
	// Cost is the request's estimated token cost; zero when not known
	// (see Set.CostWanted).
	Cost int64
	// Extra charges a first attempt to the retry budget as a retry is
	// (refunded if it succeeds): a fallback sent after its call's first key
	// was tried.
	Extra bool
	// Hedge charges the attempt to the retry budget for good: a hedge
	// doubles a request that may well succeed, and is never refunded.
	Hedge bool
	// Place is the call's place in its key's queue for the fleet's limits,
	// as the last Admission gave it; nil for none.
	Place *Place
	// Share is the share of the retry budget a retry is charged to: its
	// call's key's (see Gate.Share), which a fallback's is not; nil for the
	// budget's bound alone.
	Share *retry.Share
}

// Admission is the answer of Admit.
type Admission struct {
	Verdict Verdict
	// Delay is, for Send, how long to wait before sending (a slot is
	// reserved meanwhile; Cancel gives it back), and for Wait how long at
	// most to wait before asking again.
	Delay time.Duration
	// Wake, for Wait, is closed when the call may ask again sooner; nil
	// when only Delay matters.
	Wake <-chan struct{}
	// Cause says why the call waits, is delayed or is refused.
	Cause Cause
	// Err is, for Refuse, the error to report when the call has no answer
	// to return: a *breaker.OpenError, a *ratelimit.WaitError, or nil for a
	// spent budget.
	Err error
	// Place, for Wait, is the call's place in its key's queue for the
	// fleet's limits: pass it in the next Request, or to Leave when the
	// call gives up waiting. Nil when the call holds none.
	Place *Place

	Ticket Ticket
}

// Ticket is what an admitted attempt reports its outcome through.
type Ticket struct {
	g        *Gate
	breaker  breaker.Ticket
	limit    ratelimit.Reservation
	pace     paceReservation
	quota    quotaReservation
	delay    time.Duration // the admission's delay before sending
	retry    bool          // charged to the budget
	share    *retry.Share  // and to this share of it
	hedge    bool          // a hedge: the charge is never refunded once sent
	slot     bool          // holds a recovery slot
	slotGen  uint32        // of this recovery (Gate.slotGen)
	at       time.Time
	measured bool // the attempt's latency is wanted (Report's end)
	// quotaRefused says the attempt's 429 was the told quota's (see
	// Observe).
	quotaRefused bool
	counted      bool // the request was counted as sent, for the pace
}

// Timed reports whether Report wants the time the attempt ended.
func (t *Ticket) Timed() bool { return t.measured }

// waitGuard is kept between the end of a wait of unknown length (for
// probes in flight, or a recovery slot) and the deadline, so that a call
// that must then give up still has time to return its answer.
const waitGuard = 10 * time.Millisecond

// Admit decides about one attempt to g's key at now.
func (s *Set) Admit(g *Gate, now time.Time, r Request) (adm Admission) {
	hasDeadline := !r.Deadline.IsZero()
	if r.NotBefore.After(now) {
		if hasDeadline && !r.NotBefore.Before(r.Deadline) {
			return Admission{Verdict: Refuse, Cause: Deadline}
		}
		return Admission{Verdict: Wait, Delay: r.NotBefore.Sub(now), Cause: Backoff}
	}
	if h := g.hold.Load(); h > now.UnixNano() {
		until := time.Unix(0, h)
		if wait := until.Sub(now); wait > s.maxWait || hasDeadline && !until.Before(r.Deadline) {
			// Never hold a key for hours (a per-day quota), nor past the
			// deadline: say when the quota resets instead.
			return Admission{Verdict: Refuse, Cause: Hold, Err: &ratelimit.QuotaError{Key: g.key, Until: until, Wait: wait}}
		}
		if h != g.quota.spent.Load() {
			return Admission{Verdict: Wait, Delay: until.Sub(now), Cause: Hold}
		}
		// A told window is spent: the told quota gives the call a slot in
		// the next one, in the order calls came. Those the fleet's limits
		// let through go at the reset, not when let through.
		if g.tokFull.Load() != 0 {
			g.tokFull.Store(0)
		}
	}
	if ro := g.remoteOpen.Load(); ro > now.UnixNano() {
		return s.remoteOpenWait(g, now, r, time.Unix(0, ro))
	}
	// The ticket is built in place: an Admission is large, and the
	// success path copies it once less.
	t := &adm.Ticket
	t.g, t.at = g, now
	if g.recovering.Load() {
		if a, ok := s.recoverySlot(g, now, r, t); !ok {
			return a
		}
	}
	changes := g.changes.Load() // before the breaker is asked: a change after it wakes this call
	bt, err := s.breakers.Allow(g.key, now)
	if err != nil {
		s.releaseSlot(t, breaker.Excluded, 0)
		return s.breakerWait(g, now, r, err, changes)
	}
	t.breaker = bt
	var delay time.Duration
	var cause Cause
	if q := &g.quota; r.Cost > 0 && q.tokTracked.Load() {
		// Larger than the whole told window: it can never go.
		if c, cost := q.tokenCapacity(now), q.scaled(r.Cost); c > 0 && cost > c {
			s.Cancel(t, now)
			return Admission{Verdict: Refuse, Cause: TooLarge, Err: costError(g.key, cost, c)}
		}
	}
	if s.shared != nil {
		// The fleet's limits first: a call told to wait for them must not
		// have taken the local slots meanwhile. A call that can never go
		// must not be charged to them.
		if r.Cost > 0 && s.limits.Enabled() {
			if _, b := s.limits.LimitOf(g.key).Bursts(); b > 0 && r.Cost > int64(b) {
				s.Cancel(t, now)
				return Admission{Verdict: Refuse, Cause: TooLarge, Err: &ratelimit.CostError{Key: g.key, Tokens: int(min(r.Cost, math.MaxInt32)), Burst: b}}
			}
		}
		a, d, ok := s.takeShared(g, now, r, t)
		if !ok {
			return a
		}
		delay, cause = d, Limit
		if d == 0 {
			cause = None
		}
	}
	if g.pace.active.Load() {
		t.pace = g.pace.reserve(now)
		t.measured = true
		if d := t.pace.delay; d > delay {
			delay, cause = d, Pace
		}
	}
	if s.limits.Enabled() {
		var err error
		if t.limit, err = s.limits.ReserveCost(g.key, now, int(min(r.Cost, math.MaxInt32))); err != nil {
			s.Cancel(t, now)
			return Admission{Verdict: Refuse, Cause: TooLarge, Err: err}
		}
		if d := t.limit.Delay(); d > delay {
			delay, cause = d, Limit
		}
	}
	if q := &g.quota; q.tracked.Load() {
		cost := q.scaled(r.Cost) // as the provider is expected to count it
		var fit int64
		if hasDeadline {
			// The answer must come by the deadline: a slow answer's time
			// (see slowAnswer), and a margin for timers that fire late,
			// since a slot taken by a call that then misses its deadline
			// is lost to the calls behind it.
			fit = r.Deadline.Add(-g.pace.slowAnswer() - quotaFitMargin).UnixNano()
		}
		t.quota = q.reserve(now, cost, fit)
		if t.quota.late {
			d := t.quota.delay
			s.Cancel(t, now)
			return Admission{Verdict: Refuse, Cause: Pace, Err: &ratelimit.WaitError{Key: g.key, Wait: d, Left: r.Deadline.Sub(now)}}
		}
		if reset := t.quota.reset; reset > 0 {
			// The slot lies past the window's reset: wait for the reset
			// and ask again, with what the new window tells.
			s.Cancel(t, now)
			if hasDeadline && !now.Add(reset).Before(r.Deadline) {
				return Admission{Verdict: Refuse, Cause: Pace, Err: &ratelimit.WaitError{Key: g.key, Wait: reset, Left: r.Deadline.Sub(now)}}
			}
			return Admission{Verdict: Wait, Delay: reset, Cause: Pace}
		}
		// Less than quotaSlack early is not worth a timer: the provider's
		// window has that much room.
		if d := t.quota.delay; d >= quotaSlack && d > delay {
			delay, cause = d, Pace
			if t.quota.next {
				cause = Hold // at the reset of a spent window
			}
		}
	}

	if delay > 0 && s.shared != nil && g.tokFull.Load() != 0 {
		// Let through by the fleet's limits, it waits for another: the
		// fleet does not send what they let through.
		g.tokFull.Store(0)
	}
	if delay > 0 && hasDeadline {
		// Refuse what cannot be answered before the deadline: the wait,
		// and the time an answer usually takes, must fit; behind the
		// silent pace, the time a slow answer takes (see slowAnswer).
		// The told quota's slots have their own margin.
		lat := g.pace.latency()
		if cause == Pace && !g.quota.tracked.Load() {
			lat = g.pace.slowAnswer()
		}
		if left := r.Deadline.Sub(now); delay+lat >= left {
			s.Cancel(t, now)
			return Admission{Verdict: Refuse, Cause: cause, Err: &ratelimit.WaitError{Key: g.key, Wait: delay, Left: left}}
		}
	}
	if r.Attempt > 1 || r.Extra || r.Hedge {
		if !s.budget.Withdraw(r.Share, now) {
			s.Cancel(t, now)
			return Admission{Verdict: Refuse, Cause: Budget}
		}
		t.retry, t.hedge, t.share = true, r.Hedge, r.Share
	}
	t.delay = delay
	if delay == 0 {
		g.pace.sending(now) // else when the call, its wait over, says it is Sending
		t.counted = true
	}
	adm.Verdict, adm.Delay, adm.Cause = Send, delay, cause
	return adm
}

// breakerWait turns a breaker's rejection into a wait for its verdict, or a
// refusal when the wait cannot fit the deadline or the caller asked to fail
// fast.
func (s *Set) breakerWait(g *Gate, now time.Time, r Request, err error, changes uint32) Admission {
	refuse := Admission{Verdict: Refuse, Cause: Breaker, Err: err}
	if s.failFast {
		return refuse
	}
	g.mu.Lock()
	wake, until := g.changed, g.openUntil
	if g.changes.Load() != changes {
		wake = woken // the breaker changed since it refused: ask again at once
	}
	g.mu.Unlock()
	var wait time.Duration
	if until.After(now) {
		wait = until.Sub(now) // open: until it lets probes through
	} else {
		// Half-open with every probe out (or open by the wall clock a
		// little longer): until the probes report, or an open timeout.
		wait = s.openTimeout
		if hasDeadline := !r.Deadline.IsZero(); hasDeadline {
			wait = min(wait, r.Deadline.Sub(now)-waitGuard)
		}
	}
	if wait <= 0 || r.Deadline.IsZero() && wait > s.maxWait || !r.Deadline.IsZero() && !now.Add(wait).Before(r.Deadline) {
		return refuse
	}
	return Admission{Verdict: Wait, Delay: wait, Wake: wake, Cause: Breaker}
}

// recoverySlot takes one of the recovery window's slots for t, or says how
// to wait for one. It reports whether the attempt may go on.
func (s *Set) recoverySlot(g *Gate, now time.Time, r Request, t *Ticket) (Admission, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.recovering.Load() {
		return Admission{}, true
	}
	if g.inflight < g.window {
		g.inflight++
		t.slot, t.measured, t.slotGen = true, true, g.slotGen
		return Admission{}, true
	}
	wait := s.openTimeout
	if !r.Deadline.IsZero() {
		wait = min(wait, r.Deadline.Sub(now)-waitGuard)
		if wait <= 0 {
			return Admission{Verdict: Refuse, Cause: Recovery, Err: &ratelimit.WaitError{Key: g.key, Wait: s.openTimeout, Left: r.Deadline.Sub(now)}}, false
		}
	}
	wake := make(chan struct{})
	g.queue = append(g.queue, waiter{wake: wake, until: now.Add(wait).UnixNano()})
	return Admission{Verdict: Wait, Delay: wait, Wake: wake, Cause: Recovery}, false
}

// wakeQueueLocked wakes, at now, the callers waiting for a recovery slot:
// as many as there are free slots, first come first, or all of them once
// the recovery is over. A woken caller that has gone meanwhile leaves its
// slot to the next to ask. g.mu must be held.
func (g *Gate) wakeQueueLocked(now time.Time) {
	// A caller whose wait has ended no longer waits on its channel: it has
	// asked again (and waits on a new one) or given up. Woken, it would
	// take the slot of one still waiting, and under a long overload the
	// queue would grow by every wait that ended.
	live := g.queue[:0]
	for _, w := range g.queue {
		if w.until > now.UnixNano() {
			live = append(live, w)
		}
	}
	clear(g.queue[len(live):])
	n := len(live)
	if g.recovering.Load() {
		n = min(n, int(max(g.window-g.inflight, 0)))
	}
	for _, w := range live[:n] {
		close(w.wake)
	}
	g.queue = append(live[:0], live[n:]...)
}

// StopWaiting tells g that the call told to Wait on wake for a recovery
// slot (Cause Recovery) has given up, at now: it leaves the queue, and when
// it had been woken already, the slot it was woken for goes to the next
// caller still waiting.
func (s *Set) StopWaiting(g *Gate, wake <-chan struct{}, now time.Time) {
	if wake == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, w := range g.queue {
		if w.wake == wake {
			g.queue = slices.Delete(g.queue, i, i+1)
			return
		}
	}
	select {
	case <-wake: // woken for a slot it will not take: pass it on
		g.wakeQueueLocked(now)
	default:
	}
}

// waiter is a caller waiting for a recovery slot: closing wake wakes it,
// and it waits until until (Unix ns) at most.
type waiter struct {
	wake  chan struct{}
	until int64
}

// releaseSlot gives t's recovery slot back. As in TCP, each success widens
// the window by one (it doubles per round trip) until the first failure,
// which halves it, down to the probes' number; from then on it grows by one
// per window of successes. An answer slower than twice the fastest since
// the recovery began does not widen it: the upstream is queueing.
func (s *Set) releaseSlot(t *Ticket, o breaker.Outcome, lat time.Duration) {
	if !t.slot {
		return
	}
	t.slot = false
	g := t.g
	g.mu.Lock()
	if t.slotGen != g.slotGen {
		// A slot of a recovery that has ended (the breaker opened again
		// and closed since): it is none of this one's.
		g.mu.Unlock()
		return
	}
	g.inflight--
	if o == breaker.Success && lat > 0 && (g.minLat == 0 || lat < g.minLat) {
		// Only an answer tells the upstream's time: an attempt cut short by
		// its caller's deadline, or a transport error, would set a floor
		// no answer reaches, and the window would never widen again.
		g.minLat = lat
	}
	switch o {
	case breaker.Success:
		if lat > 2*g.minLat {
			break // queueing at the upstream: more in flight only adds delay (TCP Vegas)
		}
		if g.ssthresh == 0 || g.window < g.ssthresh {
			g.window++ // slow start
		} else if g.acked++; g.acked >= g.window {
			g.window, g.acked = g.window+1, 0 // congestion avoidance
		}
	case breaker.Failure:
		g.window = max(s.probes, g.window/2)
		g.ssthresh = g.window
	}
	g.wakeQueueLocked(s.now())
	if g.recovering.Load() && len(g.queue) == 0 && g.inflight < g.window/2 {
		g.recovering.Store(false) // no backlog, and the window no longer binds: recovered
	}
	g.mu.Unlock()
}

// breakerDone reports o for t's breaker ticket and clears it. A half-open
// breaker's probe that comes back Excluded frees its place for another:
// the calls waiting for the probes' verdict are woken to take it.
func (s *Set) breakerDone(t *Ticket, o breaker.Outcome) {
	probe := o == breaker.Excluded && t.breaker.Probe()
	t.breaker.Done(o)
	t.breaker = breaker.Ticket{}
	if probe && t.g != nil {
		t.g.mu.Lock()
		t.g.wakeLocked()
		t.g.mu.Unlock()
	}
}

// Cancel gives back what an admitted attempt that will not be sent holds:
// its slots, its breaker ticket and its budget charge.
func (s *Set) Cancel(t *Ticket, now time.Time) {
	if t.counted && t.g != nil {
		t.g.pace.sent.Add(t.at, -1) // counted as sent at its admission, and not sent
		t.counted = false
	}
	s.breakerDone(t, breaker.Excluded)
	t.limit.Cancel(now)
	t.limit = ratelimit.Reservation{}
	t.pace.cancel(now)
	t.pace = paceReservation{}
	if t.g != nil {
		t.g.quota.cancel(&t.quota, now)
	}
	if t.retry {
		s.budget.Refund(t.share, t.at) // where it was charged (see Report)
		t.retry = false
	}
	s.releaseSlot(t, breaker.Excluded, 0)
}

// Abandon releases an attempt that was sent and then given up by its call
// before it was answered (the hedge that lost its race, or the attempt it
// beat): its outcome counts neither for the breaker nor for the pace, and a
// budget charge stays spent, since the request did reach the upstream.
func (s *Set) Abandon(t *Ticket) {
	s.breakerDone(t, breaker.Excluded)
	if t.g != nil {
		t.g.quota.done(&t.quota)
	}
	s.releaseSlot(t, breaker.Excluded, 0)
}

// Withdraw charges one extra request that does not go through a gate (a
// fallback sent through another RoundTripper) to the retry budget at now,
// and to share, the call's, and reports whether the budget allows it.
func (s *Set) Withdraw(share *retry.Share, now time.Time) bool { return s.budget.Withdraw(share, now) }

// Refund gives back, at now, a charge of Withdraw whose request succeeded.
func (s *Set) Refund(share *retry.Share, now time.Time) { s.budget.Refund(share, now) }

// Report takes the outcome of an admitted attempt: d is its classification,
// err its transport error, callerDone whether the caller's context had ended,
// and end when it ended (zero unless t.Timed()).
func (s *Set) Report(t *Ticket, d classify.Decision, err error, callerDone bool, end time.Time) {
	o := Outcome(d, err, callerDone)
	s.breakerDone(t, o)
	g := t.g
	g.quota.done(&t.quota)
	if !t.counted {
		g.pace.sending(t.at.Add(t.delay)) // sent without saying so: when its slot was
	}
	g.pace.report(t, Throttled(d) && !t.quotaRefused, end)
	if t.retry && !t.hedge && d.Verdict == classify.Success {
		s.budget.Refund(t.share, t.at)
	}
	var lat time.Duration
	if !end.IsZero() {
		lat = end.Sub(t.at) - t.delay
	}
	s.releaseSlot(t, o, lat)
}

// Throttled reports whether d is the provider saying the caller is over its
// limit: a retryable 429. It starts and steers the key's pace. Overload
// answers (503 model_overloaded, 529) are the breaker's evidence instead:
// they say the provider is short of capacity for everyone, and pacing on
// them as well drew the pace down under random overload answers in the
// bench's flaky scenario.
func Throttled(d classify.Decision) bool {
	return d.Verdict == classify.Retryable && d.Status == http.StatusTooManyRequests
}

// Outcome says what an attempt means for its key's circuit breaker: server
// failures count against it; 4xx answers (429 included) and the caller's own
// cancellation count neither way.
func Outcome(d classify.Decision, err error, callerDone bool) breaker.Outcome {
	switch {
	case err != nil && callerDone:
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

// QuotaDue reports whether the answer to t should have its rate-limit
// headers read (see Gate.QuotaDue), as of the attempt's admission.
func (t *Ticket) QuotaDue() bool { return t.g != nil && t.g.QuotaDue(t.at) }

// Held reports whether g's key is held at now: its quota is spent until a
// reset still to come.
func (g *Gate) Held(now time.Time) bool { return g.hold.Load() > now.UnixNano() }

// HoldUntil holds g's key until until (the quota is spent until a reset):
// a later time extends the hold, an earlier one leaves it. A hold that
// moves is raised to the fleet, when there is one.
func (g *Gate) HoldUntil(until time.Time) {
	if g.hold.extend(until.UnixNano()) && g.set != nil {
		g.set.raise(holdPrefix, g, until)
	}
}
