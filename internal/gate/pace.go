package gate

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/internal/rolling"
)

// The adaptive pace of a key, after TCP BBR: the provider's rate is
// measured as the answers it delivers (every answer but a throttling one)
// per bucket, and the key is paced at paceGain times the best bucket of the
// last paceSpan, so that it probes above what was delivered all the time.
//
// Under a real limit the delivered rate is the limit, and the pace settles
// a quarter above it: the excess beyond that is refused locally, and about
// a fifth of what is sent, the probes, is throttled. Throttling that does not
// track the load (random 429s) refuses a share of what is sent whatever the
// rate: when the last span's throttled share is below half of what the probe
// gain causes against a real limit, or it holds fewer than paceEvidence
// throttling answers, the throttling is no evidence of one. Until a span has
// shown such evidence the key is not paced at all; from then on the pace
// follows what was delivered since (before it, the delivered rate was the
// demand and the provider's burst, not its rate), starting with the
// provider's bucket empty; and after a span without such evidence it
// doubles per bucket (TCP slow start), since the pace itself may have held
// the delivered rate down. The slots are given on a schedule of their own
// (a GCRA), so that a new pace spaces the calls that come after it without
// moving, or interleaving with, the ones already given. Random 429s up to 1 − 1/paceGain (a fifth)
// of the requests keep the pace above the load; more are taken for a limit.
// Answers are counted when they arrive. A cut on every 429 alone would
// collapse the rate.
const (
	paceSpan = 2500 * time.Millisecond // 10 buckets of 250 ms
	paceGain = 1.25
	// paceNoise is the throttled share below which throttling is not taken
	// for a limit: half the share (1 − 1/paceGain) that probing at
	// paceGain above a real limit draws.
	paceNoise = (1 - 1/paceGain) / 2
	paceMax   = 1e9 // requests per second: the pace stops growing here
	// paceEvidence is the fewest throttling answers in a span that can say
	// a limit binds: one or two are noise.
	paceEvidence = 3
	paceIdle     = 10 * time.Second // no throttling for this long ends pacing
	paceFloor    = 1.0              // requests per second at the least
	latencyEMA   = 0.2              // weight of a new latency sample
)

type pacer struct {
	active    atomic.Bool
	delivered rolling.Window
	throttles rolling.Window
	throttled atomic.Int64 // Unix nanoseconds of the last throttling answer
	lat       atomic.Int64 // smoothed latency of delivered answers, ns

	mu    sync.Mutex
	lim   rate.Limit // the pace; 0 while none is set, rate.Inf while no limit binds
	slot  int64      // the bucket the pace was last set in
	since time.Time  // the bucket since which a limit binds; zero: none has
	// The schedule, a GCRA: the slot after the last one given, the spacing
	// of the slots to come, and how many may go at once after a pause. A
	// new pace spaces the slots given after it; the ones given before keep
	// their times. (x/time/rate's Limiter, given a new rate, re-times what
	// later callers get from its token count, not from the slots it gave:
	// the two went out interleaved, at both rates at once.)
	tat   int64 // Unix nanoseconds
	every time.Duration
	tau   time.Duration // (burst − 1) × every
}

func (p *pacer) init() {
	p.delivered.Init(paceSpan)
	p.throttles.Init(paceSpan)
}

// paceReservation is one slot of a key's pace.
type paceReservation struct {
	p             *pacer
	delay         time.Duration
	before, after int64 // the schedule's tat around the slot
}

// cancel gives the slot back when it is still the last one given; an
// earlier one stays a hole in the schedule.
func (r paceReservation) cancel(time.Time) {
	if r.p == nil {
		return
	}
	r.p.mu.Lock()
	if r.p.tat == r.after {
		r.p.tat = r.before
	}
	r.p.mu.Unlock()
}

// reserve takes one slot of the pace at now.
func (p *pacer) reserve(now time.Time) paceReservation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.update(now) || p.lim == rate.Inf {
		return paceReservation{}
	}
	r := paceReservation{p: p, before: p.tat}
	t := now.UnixNano()
	at := max(p.tat-int64(p.tau), t)
	p.tat = max(p.tat, t) + int64(p.every)
	r.after, r.delay = p.tat, time.Duration(at-t)
	return r
}

// update sets the pace once per bucket from what was delivered, and ends
// pacing once the key has not been throttled for paceIdle. It reports
// whether the key is still paced. p.mu must be held.
func (p *pacer) update(now time.Time) bool {
	if !p.active.Load() {
		return false
	}
	if now.UnixNano()-p.throttled.Load() > int64(paceIdle) {
		p.active.Store(false)
		p.lim, p.since = 0, time.Time{}
		return false
	}
	width := p.delivered.Width()
	slot := now.UnixNano() / int64(width)
	if p.lim != 0 && slot == p.slot {
		return true
	}
	p.slot = slot
	// The evidence is the whole span's: a bucket holds a few throttling
	// answers at most, and one without them says nothing.
	th := p.throttles.Sum(now)
	evidence := th >= paceEvidence && float64(th) >= paceNoise*float64(p.delivered.Sum(now)+th)
	var r rate.Limit
	switch {
	case evidence && p.since.IsZero():
		// The limit binds from now on. What was delivered before was the
		// demand, and the provider's burst as well, not its rate: the
		// previous bucket's count stands in until the first bucket paced
		// on it is complete.
		prev := p.delivered.Prev(now)
		if prev == 0 {
			// Nothing delivered in the last bucket: the answers of what
			// went through are still out (a model's answer takes seconds),
			// or there was no demand. Neither is a rate to pace at: from
			// the next bucket.
			r = rate.Inf
			break
		}
		p.since = time.Unix(0, slot*int64(width))
		r = rate.Limit(math.Max(paceGain*float64(prev)/width.Seconds(), paceFloor))
	case evidence:
		best := p.delivered.Max(now, p.since)
		if best == 0 {
			best = p.delivered.Prev(now)
		}
		r = rate.Limit(math.Max(paceGain*float64(best)/width.Seconds(), paceFloor))
	case p.lim == 0 || p.lim == rate.Inf:
		// No bucket has yet shown a limit binding: what was delivered is
		// the demand, not the provider's capacity; do not pace on it.
		r = rate.Inf
	default:
		// A span without evidence: the limit no longer binds. Grow (TCP
		// slow start) rather than follow what was delivered, which the
		// pace itself may have held down.
		r = rate.Limit(math.Max(paceGain*float64(p.delivered.Max(now, p.since))/width.Seconds(), 2*float64(p.lim)))
		if r >= paceMax {
			r = rate.Inf
		}
	}
	start := r != rate.Inf && (p.lim == 0 || p.lim == rate.Inf)
	p.lim = r
	if r != rate.Inf {
		burst := max(1, int(float64(r)*width.Seconds()))
		p.every = time.Duration(float64(time.Second) / float64(r))
		p.tau = time.Duration(burst-1) * p.every
		if start {
			// The provider has just refused: its bucket is empty, and so
			// starts the pace's, one slot now and the next a spacing later.
			p.tat = now.UnixNano() + int64(p.tau)
		}
	}
	return true
}

// report takes one answer: delivered unless throttled; end, when not zero,
// is when it arrived, for the latency estimate.
func (p *pacer) report(t *Ticket, throttled bool, end time.Time) {
	if throttled {
		at := t.at
		if !end.IsZero() {
			at = end
		}
		p.throttled.Store(at.UnixNano())
		p.throttles.Add(at, 1)
		if !p.active.Load() {
			p.mu.Lock()
			p.active.Store(true) // the limit is set from the buckets on the next reserve
			p.mu.Unlock()
		}
		return
	}
	if !end.IsZero() {
		p.delivered.Add(end, 1) // when the provider delivered it
	} else {
		p.delivered.Add(t.at, 1)
	}
	if !end.IsZero() {
		sample := int64(end.Sub(t.at) - t.delay) // from the send
		if sample < 0 {
			return // reported before its slot: no latency to learn
		}
		old := p.lat.Load()
		if old == 0 {
			p.lat.Store(sample)
		} else {
			p.lat.Store(old + int64(latencyEMA*float64(sample-old)))
		}
	}
}

// latency returns the smoothed latency of the key's answers, zero when not
// known.
func (p *pacer) latency() time.Duration { return time.Duration(p.lat.Load()) }

// Rate returns the key's current pace in requests per second, and whether
// it is paced with a bound at all (a pace that has not yet found one, at
// rate.Inf, is not).
func (g *Gate) Rate() (float64, bool) {
	r, active := g.pace.state()
	if !active || r == rate.Inf {
		return 0, false
	}
	return float64(r), true
}

// state returns the pace's limit (rate.Inf while it has found no bound)
// and whether pacing is active.
func (p *pacer) state() (rate.Limit, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active.Load() || p.lim == 0 {
		return 0, false
	}
	return p.lim, true
}
