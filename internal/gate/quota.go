package gate

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
)

// The quota a provider tells in its rate-limit headers, per key: for
// requests and for tokens, what is left of the window and when it resets.
//
// What is left, less what is in flight (sent and not yet answered, so not
// yet counted by the provider), is spread evenly over the time to the reset
// rather than spent at once: a limiter at that rate, with a tenth of it as
// burst, so that calls within the quota go at once and a load above it is
// paced to it. Against a fixed window this spends the window exactly by its
// reset. Against a bucket that refills (OpenAI's reset is the time until it
// is whole again) it settles with the bucket half full, sending at its
// refill rate. When a response says nothing is left, the key holds until
// the reset. Headers are read on every response, success included, but
// only once per quotaSample while the quota is far from spent, so the cost
// is paid about once per quotaSample per key under load.
const (
	quotaSample = 10 * time.Millisecond
	// quotaFar is the share of a window's limit left, beyond what is in
	// flight, above which the headers need not be read on every response.
	quotaFar = 0.2
	// quotaBurst is the share of what is left that may go at once.
	quotaBurst = 0.1
	// learntTTL is how long a limit learnt from the headers (a window's
	// capacity) lasts after the last response that stated it.
	learntTTL = time.Minute
)

// lane is the quota of one kind, requests or tokens, of one key.
type lane struct {
	inflight atomic.Int64 // requests or tokens sent and not answered, while tracked

	// Under quota.mu:
	lim      *rate.Limiter // nil: not paced
	until    int64         // Unix ns when the reported window resets; the pace lapses then
	limit    int64         // the window's capacity, when stated
	limitTTL int64         // Unix ns until which limit holds
	window   classify.Window
}

type quota struct {
	// tracked is set once a response of the key has told its quota: from
	// then on admissions count what is in flight and may be paced.
	tracked atomic.Bool
	// tokTracked is set once a response has told a token quota: from then
	// on requests are given a cost.
	tokTracked atomic.Bool
	// next is the Unix ns before which a response's headers are not read.
	next atomic.Int64
	// paced is set while either lane's limiter applies.
	paced atomic.Bool

	mu       sync.Mutex
	at       time.Time // when the last quota was read
	req, tok lane
}

// quotaReservation is what an admission holds of a key's told quota.
type quotaReservation struct {
	req, tok *rate.Reservation
	cost     int64 // tokens counted in flight
	counted  bool  // the request is counted in flight
	delay    time.Duration
}

// QuotaDue reports whether a response of g's key arriving at now should
// have its rate-limit headers read: the key's quota is near spent, or none
// has been read for quotaSample.
func (g *Gate) QuotaDue(now time.Time) bool {
	return now.UnixNano() >= g.quota.next.Load()
}

// CostWanted reports whether the requests of g's key need an estimated
// token cost: a response has told a token quota, or a token limit is
// configured.
func (s *Set) CostWanted(g *Gate) bool {
	return s.tokenLimits || g.quota.tokTracked.Load()
}

// reserve takes a slot, and cost tokens, of the told quota at now, and
// counts them in flight. q.tracked must be set.
func (q *quota) reserve(now time.Time, cost int64) quotaReservation {
	var r quotaReservation
	r.counted = true
	q.req.inflight.Add(1)
	if cost > 0 && q.tokTracked.Load() {
		r.cost = cost
		q.tok.inflight.Add(cost)
	}
	if !q.paced.Load() {
		return r
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := now.UnixNano()
	if l := &q.req; l.lim != nil && n < l.until {
		r.req = l.lim.ReserveN(now, 1)
		r.delay = r.req.DelayFrom(now)
	}
	if l := &q.tok; l.lim != nil && n < l.until && cost > 0 {
		if b := int64(l.lim.Burst()); cost > b {
			l.lim.SetBurstAt(now, int(min(cost, math.MaxInt32)))
		}
		r.tok = l.lim.ReserveN(now, int(min(cost, math.MaxInt32)))
		if d := r.tok.DelayFrom(now); d > r.delay {
			r.delay = d
		}
	}
	return r
}

// done takes r's request and tokens out of flight; cancel also gives its
// slots back, as of now.
func (q *quota) done(r *quotaReservation) {
	if r.counted {
		q.req.inflight.Add(-1)
		r.counted = false
	}
	if r.cost > 0 {
		q.tok.inflight.Add(-r.cost)
		r.cost = 0
	}
}

func (q *quota) cancel(r *quotaReservation, now time.Time) {
	q.done(r)
	if r.req != nil {
		r.req.CancelAt(now)
	}
	if r.tok != nil {
		r.tok.CancelAt(now)
	}
	*r = quotaReservation{}
}

// Observe takes the quota a response of the ticket's key told, read at at:
// it holds the key when a window is spent, and otherwise spreads what is
// left of each window over the time to its reset.
func (t *Ticket) Observe(qt classify.Quota, at time.Time) {
	g := t.g
	if g == nil {
		return
	}
	q := &g.quota
	if !qt.Requests.Known && !qt.Tokens.Known {
		q.next.Store(at.Add(quotaSample).UnixNano()) // nothing told: look again later
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.tracked.Load() {
		q.tracked.Store(true) // what is in flight is counted from the next admission on
	}
	if qt.Tokens.Known && !q.tokTracked.Load() {
		q.tokTracked.Store(true)
	}
	q.at = at
	far := true
	paced := false
	for _, x := range [...]struct {
		l        *lane
		w        classify.Window
		inflight int64
	}{{&q.req, qt.Requests, q.req.inflight.Load()}, {&q.tok, qt.Tokens, q.tok.inflight.Load()}} {
		l, w := x.l, x.w
		n := at.UnixNano()
		if w.Limit > 0 {
			l.limit, l.limitTTL = w.Limit, at.Add(learntTTL).UnixNano()
		}
		if !w.Known {
			if l.lim != nil && n < l.until {
				paced = true
			}
			continue
		}
		l.window = w
		if w.Remaining <= 0 {
			if w.Reset > 0 {
				g.HoldUntil(at.Add(w.Reset))
			}
			l.lim, far = nil, false
			continue
		}
		if w.Reset <= 0 {
			l.lim = nil // nothing to spread over
			continue
		}
		avail := w.Remaining - max(x.inflight, 0)
		if limit := l.limit; limit > 0 && float64(avail) < quotaFar*float64(limit) || avail < 4*max(x.inflight, 1) {
			far = false
		}
		r := rate.Limit(math.Max(float64(avail), 1) / w.Reset.Seconds())
		burst := int(min(math.Max(quotaBurst*float64(avail), 1), math.MaxInt32))
		if l.lim == nil || n >= l.until {
			l.lim = rate.NewLimiter(r, burst)
		} else {
			l.lim.SetLimitAt(at, r)
			l.lim.SetBurstAt(at, max(burst, l.lim.Burst()/2))
		}
		l.until = at.Add(w.Reset).UnixNano()
		paced = true
	}
	q.paced.Store(paced)
	next := at.UnixNano()
	if far {
		next = at.Add(quotaSample).UnixNano()
	}
	q.next.Store(next)
}

// tokenCapacity returns the token capacity learnt for g's key at now, or 0.
func (q *quota) tokenCapacity(now time.Time) int64 {
	q.mu.Lock()
	defer q.mu.Unlock()
	if now.UnixNano() < q.tok.limitTTL {
		return q.tok.limit
	}
	return 0
}

// Quota returns the quota g's key last told and when it was read; ok is
// false when none was.
func (g *Gate) Quota() (q classify.Quota, at time.Time, ok bool) {
	g.quota.mu.Lock()
	defer g.quota.mu.Unlock()
	if !g.quota.tracked.Load() {
		return classify.Quota{}, time.Time{}, false
	}
	return classify.Quota{Requests: g.quota.req.window, Tokens: g.quota.tok.window}, g.quota.at, true
}

// costError is the refusal of a request that costs more than its key's
// whole learnt token window.
func costError(key string, cost, capacity int64) error {
	return &ratelimit.CostError{Key: key, Tokens: int(min(cost, math.MaxInt32)), Burst: int(min(capacity, math.MaxInt32))}
}
