package gate

import (
	"context"
	"math"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/ratelimit"
)

// Shared is the state a fleet's gates share (see rebound.Store): limits
// enforced across the fleet, and deadlines (holds, open breakers) raised
// by any member.
type Shared interface {
	Take(ctx context.Context, name string, l SharedLimit, n int) (time.Duration, error)
	Raise(name string, until time.Time)
	Members() int
}

// SharedLimit is Rate units per Period, Burst at once.
type SharedLimit struct {
	Rate, Burst int
	Period      time.Duration
}

// Names of the shared state of a key.
const (
	holdPrefix     = "hold/"
	openPrefix     = "open/"
	requestsPrefix = "requests/"
	tokensPrefix   = "tokens/"
)

// Bounds of the calls to the shared state.
const (
	// sharedTimeout bounds one Take: past it the gate decides locally.
	sharedTimeout = 50 * time.Millisecond
	// sharedRetry is how long the gate keeps to its local state after the
	// shared state failed to answer, before it asks again.
	sharedRetry = 100 * time.Millisecond
	// sharedSlack is how late an ask for a slot of the fleet's request
	// limit may come without losing it: twice the jitter, and a round
	// trip (see sharedRequestBurst).
	sharedSlack = 2*sharedJitter + 10*time.Millisecond
	// sharedJitter spreads the retries of callers told to wait for the
	// same slot, so that they do not all ask again at once.
	sharedJitter = 5 * time.Millisecond
)

// sharedState is a Set's side of its Shared.
type sharedState struct {
	s        Shared
	onChange func(up bool, err error)

	mu   sync.Mutex
	down bool  // the shared state last failed to answer
	next int64 // Unix ns before which it is not asked again, while down
}

// usable reports whether the shared state may be asked at now.
func (sh *sharedState) usable(now time.Time) bool {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	return !sh.down || now.UnixNano() >= sh.next
}

// result records the outcome of asking the shared state at now, telling
// onChange of a transition.
func (sh *sharedState) result(now time.Time, err error) {
	sh.mu.Lock()
	was := sh.down
	if err != nil {
		sh.down, sh.next = true, now.Add(sharedRetry).UnixNano()
	} else {
		sh.down = false
	}
	changed := was != sh.down
	sh.mu.Unlock()
	if changed && sh.onChange != nil {
		sh.onChange(err == nil, err)
	}
}

// Deadline applies a deadline raised in the fleet: a hold or an open
// breaker of a key.
func (s *Set) Deadline(name string, until time.Time) {
	switch {
	case strings.HasPrefix(name, holdPrefix):
		g := s.gates.Get(name[len(holdPrefix):], s.now())
		g.hold.extend(until.UnixNano())
	case strings.HasPrefix(name, openPrefix):
		g := s.gates.Get(name[len(openPrefix):], s.now())
		if g.remoteOpen.extend(until.UnixNano()) {
			g.mu.Lock()
			g.wakeLocked()
			g.mu.Unlock()
		}
	}
}

// raise tells the fleet that g's key is held, or its breaker open, until
// until.
func (s *Set) raise(prefix string, g *Gate, until time.Time) {
	if s.shared != nil {
		s.shared.s.Raise(prefix+g.key, until)
	}
}

// remoteOpenWait turns a breaker opened elsewhere in the fleet, until
// until, into a wait for it, or a refusal when it cannot fit.
func (s *Set) remoteOpenWait(g *Gate, now time.Time, r Request, until time.Time) Admission {
	wait := until.Sub(now)
	if s.failFast || r.Deadline.IsZero() && wait > s.maxWait || !r.Deadline.IsZero() && !until.Before(r.Deadline) {
		return Admission{Verdict: Refuse, Cause: Breaker, Err: &breaker.OpenError{Key: g.key, State: breaker.Open, Until: until}}
	}
	return Admission{Verdict: Wait, Delay: wait, Cause: Breaker}
}

// limits returns the shared limits of g's key for requests and tokens:
// those its headers told (a window's capacity over its length, less a
// burst, so that no window of that length gets more than the capacity),
// or else the configured ones. A zero Period means none.
func (s *Set) sharedLimits(g *Gate, now time.Time) (req, tok SharedLimit) {
	q := &g.quota
	q.mu.Lock()
	n := now.UnixNano()
	for _, x := range [...]struct {
		l   *lane
		out *SharedLimit
	}{{&q.req, &req}, {&q.tok, &tok}} {
		if l := x.l; l.limit > 0 && l.span > 0 && n < l.limitTTL {
			b := sharedBurst(l.limit)
			if l == &q.req {
				b = sharedRequestBurst(l.limit, l.span)
			}
			*x.out = SharedLimit{Rate: int(min(l.limit-int64(b), math.MaxInt32)), Burst: b, Period: l.span}
			if x.out.Rate < 1 {
				x.out.Rate = 1
			}
		}
	}
	q.mu.Unlock()
	if (req.Period == 0 || tok.Period == 0) && s.limits.Enabled() {
		cl := s.limits.LimitOf(g.key)
		rb, tb := cl.Bursts()
		if req.Period == 0 && cl.Rate > 0 && cl.Rate != rate.Inf && !math.IsInf(float64(cl.Rate), 1) {
			req = SharedLimit{Rate: int(min(math.Ceil(float64(cl.Rate)*60), math.MaxInt32)), Burst: rb, Period: time.Minute}
		}
		if tok.Period == 0 && cl.Tokens > 0 {
			tok = SharedLimit{Rate: int(min(math.Ceil(float64(cl.Tokens)*60), math.MaxInt32)), Burst: tb, Period: time.Minute}
		}
	}
	return req, tok
}

// sharedBurst is the burst of a shared token limit of capacity c per
// window: a fiftieth of it, so that the fleet's steady rate is 98% of the
// capacity and no window of that length ever gets more than the capacity.
// (A call above the burst goes only once the limit is whole, and loses the
// time its ask comes late: the burst must hold a few calls, whose costs
// vary.)
func sharedBurst(c int64) int {
	return int(min(max(c/50, 1), math.MaxInt32))
}

// sharedRequestBurst is the burst of a shared request limit of capacity c
// per window of length span: the slots of sharedSlack, and at least
// three, so that a slot is not lost to an ask that comes a little late
// (the jitter, the round trip), and at most a fiftieth of c. What the
// burst holds is taken off the rate: every request of it is one the fleet
// cannot send per window. (A fiftieth of a 10 s window's quota was 33
// requests, 2% of the rate, where 4 are enough.)
func sharedRequestBurst(c int64, span time.Duration) int {
	b := max(int64(math.Ceil(float64(c)*float64(sharedSlack)/float64(span))), 3)
	return int(min(b, max(c/50, 1), math.MaxInt32))
}

// takeShared charges the attempt to its key's shared limits. It reports
// false, with the admission to return, when the attempt must wait or is
// refused; t is then cancelled. When the shared state cannot answer, the
// attempt takes its local share of the limits instead.
func (s *Set) takeShared(g *Gate, now time.Time, r Request, t *Ticket) (Admission, time.Duration, bool) {
	sh := s.shared
	req, tok := s.sharedLimits(g, now)
	if req.Period == 0 && (tok.Period == 0 || r.Cost <= 0) {
		return Admission{}, 0, true
	}
	cost := g.quota.scaled(r.Cost) // as the provider is expected to count it
	if sh.usable(now) {
		direct := true // it asks with no call of this member waiting
		if r.Place != nil || g.fleetWaiting.Load() > 0 || now.UnixNano() < g.fleetUntil.Load() {
			direct = false
			a, p, ok := s.fleetTurn(g, now, r)
			if !ok {
				s.Cancel(t, now)
				return a, 0, false
			}
			r.Place = p // its turn: it leaves the queue once answered
		}
		held := r.Place != nil && r.Place.held
		if held {
			req.Period = 0 // its slot was charged already
		}
		ctx, cancel := context.WithTimeout(context.Background(), sharedTimeout)
		wait, byTok, err := s.takeBoth(ctx, g.key, req, tok, cost)
		cancel()
		sh.result(s.now(), err)
		switch {
		case err == nil && wait > 0 && byTok:
			g.tokFull.CompareAndSwap(0, now.UnixNano())
		case err != nil || wait > 0 || direct:
			// Refused by the request limit, or let through with none
			// waiting: the token limit may have had room.
			g.tokFull.Store(0)
		}
		if err == nil && wait > 0 {
			wait += time.Duration(s.jitter(int64(sharedJitter)))
			s.Cancel(t, now)
			a, _ := s.fleetWait(g, now, r, wait)
			if a.Place != nil && byTok && (held || req.Period > 0) {
				a.Place.held = true
			}
			return a, 0, false
		}
		s.Leave(g, r.Place) // it goes: the next may ask at once
		if err == nil {
			return Admission{}, 0, true
		}
	} else {
		s.Leave(g, r.Place) // it goes: the next may ask at once
	}
	// The shared state is down: this member's share of the limits.
	g.tokFull.Store(0)
	return Admission{}, g.share.reserve(now, req, tok, cost, sh.s.Members()), true
}

// Place is a call's place in its key's queue for the fleet's limits. The
// fleet's limits (a GCRA in the store) tell a call that finds no slot how
// long to wait, and keep nothing for it: the first to ask once the slot is
// free takes it. A member's calls therefore wait for them in the order
// they came: one asks at a time, the first of the queue, when the limits
// said the next slot comes; one that gets through lets the next ask at
// once. (Each asking when told, they took the slots in no order, and the
// calls that had waited longest missed their deadlines while later ones
// went.)
type Place struct {
	wake     chan struct{} // closed when the place comes first
	deadline int64         // Unix ns; 0: none
	gone     bool          // left the queue
	// held says the call was charged a slot of the fleet's request limit
	// and then told to wait for its token limit: it keeps that slot, and
	// asks for tokens alone when its turn comes (charged a slot at each
	// ask, it spent slots no request was sent in). Only the call that
	// holds the place reads and writes it.
	held bool
}

// fleetTurn says whether the call of r may ask the fleet's limits now: it
// is first in g's queue, with the place it returns, and the limits' next
// slot has come. Otherwise it returns how to wait, the call queued.
func (s *Set) fleetTurn(g *Gate, now time.Time, r Request) (Admission, *Place, bool) {
	if r.Hedge {
		// A hedge goes at once or not at all.
		return Admission{Verdict: Wait, Delay: time.Duration(max(g.fleetUntil.Load()-now.UnixNano(), 0)), Cause: Limit}, nil, false
	}
	g.mu.Lock()
	p := r.Place
	if p == nil || p.gone {
		if len(g.fleetQ) == 0 && now.UnixNano() >= g.fleetUntil.Load() {
			g.mu.Unlock()
			return Admission{}, nil, true
		}
		p = g.enqueueLocked(r, now)
	}
	g.dropExpiredLocked(now)
	if p.gone {
		g.mu.Unlock()
		return Admission{Verdict: Refuse, Cause: Deadline}, nil, false
	}
	first := g.fleetQ[0] == p
	until := g.fleetUntil.Load()
	var wake chan struct{}
	if !first && p.wake == nil {
		// In this lock: a place ahead that leaves once it is released
		// must find the channel to wake it by.
		p.wake = make(chan struct{})
	}
	wake = p.wake
	g.mu.Unlock()
	if first {
		// Its turn, when the slot has come and an answer can still make
		// the deadline.
		a, ok := s.fleetWait(g, now, Request{Place: p, Deadline: r.Deadline}, time.Duration(max(until-now.UnixNano(), 0)))
		return a, p, ok
	}
	// Behind others: until they have gone, or the last moment an answer
	// can make the deadline.
	wait := s.maxWait
	if !r.Deadline.IsZero() {
		wait = r.Deadline.Sub(now) - g.pace.latency() - waitGuard
	}
	if wait <= 0 {
		s.Leave(g, p)
		return Admission{Verdict: Refuse, Cause: Limit, Err: &ratelimit.WaitError{Key: g.key, Wait: time.Duration(max(until-now.UnixNano(), 0)), Left: r.Deadline.Sub(now)}}, nil, false
	}
	return Admission{Verdict: Wait, Delay: wait, Wake: wake, Cause: Limit, Place: p}, p, false
}

// enqueueLocked puts a new place for the call of r at the end of g's
// queue. g.mu must be held.
func (g *Gate) enqueueLocked(r Request, now time.Time) *Place {
	p := &Place{}
	if !r.Deadline.IsZero() {
		p.deadline = r.Deadline.UnixNano()
	}
	g.fleetQ = append(g.fleetQ, p)
	g.dropExpiredLocked(now)
	g.fleetWaiting.Store(int32(min(len(g.fleetQ), math.MaxInt32)))
	return p
}

// dropExpiredLocked takes out of g's queue the places whose call's
// deadline has passed: given up without a word, they must not keep the
// others behind them. g.mu must be held.
func (g *Gate) dropExpiredLocked(now time.Time) {
	if len(g.fleetQ) == 0 {
		return
	}
	front := g.fleetQ[0]
	live := g.fleetQ[:0]
	for _, q := range g.fleetQ {
		if q.deadline != 0 && q.deadline <= now.UnixNano() {
			q.gone = true
			continue
		}
		live = append(live, q)
	}
	if len(live) == len(g.fleetQ) {
		return
	}
	clear(g.fleetQ[len(live):])
	g.fleetQ = live
	g.fleetWaiting.Store(int32(min(len(g.fleetQ), math.MaxInt32)))
	if len(live) > 0 && live[0] != front {
		g.wakeFirstLocked()
	}
}

// wakeFirstLocked lets the first place of g's queue ask at once. g.mu
// must be held.
func (g *Gate) wakeFirstLocked() {
	if next := g.fleetQ[0]; next.wake != nil {
		close(next.wake)
		next.wake = nil
	}
}

// fleetWait has the call of r wait wait for the fleet's limits, first in
// g's queue when it holds a place, or refuses it when the wait, and the
// time an answer takes, cannot fit its deadline. A zero wait, for a call
// first in the queue, is its turn to ask: fleetWait reports true.
func (s *Set) fleetWait(g *Gate, now time.Time, r Request, wait time.Duration) (Admission, bool) {
	g.fleetUntil.extend(now.Add(wait).UnixNano())
	if !r.Deadline.IsZero() && !now.Add(wait+g.pace.latency()).Before(r.Deadline) {
		s.Leave(g, r.Place)
		return Admission{Verdict: Refuse, Cause: Limit, Err: &ratelimit.WaitError{Key: g.key, Wait: wait, Left: r.Deadline.Sub(now)}}, false
	}
	if wait <= 0 {
		return Admission{}, true
	}
	if r.Hedge {
		return Admission{Verdict: Wait, Delay: wait, Cause: Limit}, false
	}
	p := r.Place
	g.mu.Lock()
	if p == nil || p.gone {
		// It asked without a queue, and waits first in it now (or behind
		// the calls that came meanwhile).
		p = g.enqueueLocked(r, now)
	}
	g.mu.Unlock()
	return Admission{Verdict: Wait, Delay: wait, Cause: Limit, Place: p}, false
}

// Leave takes p out of g's queue for the fleet's limits: its call goes, or
// has given up. When p was first, the next place may ask at once. A nil p
// is a no-op.
func (s *Set) Leave(g *Gate, p *Place) {
	if p == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.gone {
		return
	}
	p.gone = true
	for i, q := range g.fleetQ {
		if q == p {
			n := len(g.fleetQ) - 1
			copy(g.fleetQ[i:], g.fleetQ[i+1:])
			g.fleetQ[n] = nil
			g.fleetQ = g.fleetQ[:n]
			if i == 0 && n > 0 {
				g.wakeFirstLocked()
			}
			break
		}
	}
	g.fleetWaiting.Store(int32(min(len(g.fleetQ), math.MaxInt32)))
}

// takeBoth charges a request, and cost tokens, to the fleet's limits of
// key; byTok says the wait is the token limit's.
func (s *Set) takeBoth(ctx context.Context, key string, req, tok SharedLimit, cost int64) (wait time.Duration, byTok bool, err error) {
	if req.Period > 0 {
		if w, err := s.shared.s.Take(ctx, requestsPrefix+key, req, 1); err != nil || w > 0 {
			return w, false, err
		}
	}
	if tok.Period > 0 && cost > 0 {
		n := int(min(cost, math.MaxInt32))
		// A GCRA never lets through more than its burst at once: a call
		// above it goes once the limit's whole burst is back. (Its cost
		// is within the window's capacity, or it was refused already.)
		tok.Burst = max(tok.Burst, n)
		w, err := s.shared.s.Take(ctx, tokensPrefix+key, tok, n)
		return w, true, err
	}
	return 0, false, nil
}

// share is a member's local share of its key's shared limits, used while
// the shared state does not answer: the limits divided by the members.
type share struct {
	mu       sync.Mutex
	req, tok *rate.Limiter
	reqOf    SharedLimit
	tokOf    SharedLimit
	members  int
}

// reserve takes a slot, and cost tokens, of the share at now and returns
// the delay before sending.
func (sh *share) reserve(now time.Time, req, tok SharedLimit, cost int64, members int) time.Duration {
	members = max(members, 1)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if members != sh.members || req != sh.reqOf || tok != sh.tokOf {
		sh.req, sh.tok = shareOf(req, members), shareOf(tok, members)
		sh.reqOf, sh.tokOf, sh.members = req, tok, members
	}
	var d time.Duration
	if sh.req != nil {
		d = sh.req.ReserveN(now, 1).DelayFrom(now)
	}
	if sh.tok != nil && cost > 0 {
		c := int(min(cost, math.MaxInt32))
		if c > sh.tok.Burst() {
			sh.tok.SetBurstAt(now, c)
		}
		d = max(d, sh.tok.ReserveN(now, c).DelayFrom(now))
	}
	return d
}

func shareOf(l SharedLimit, members int) *rate.Limiter {
	if l.Period <= 0 {
		return nil
	}
	r := rate.Limit(float64(l.Rate) / float64(members) / l.Period.Seconds())
	return rate.NewLimiter(r, max(1, l.Burst/members))
}
