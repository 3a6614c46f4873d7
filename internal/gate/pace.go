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
// rate: when the last bucket's throttled share is below half of what the
// probe gain causes against a real limit, or it holds fewer than
// paceEvidence throttling answers, the throttling is no evidence of one:
// until a bucket has shown such evidence the key is not paced at all, and
// after it the pace doubles per bucket (TCP slow start) instead of following
// the delivered rate, which the pace itself may have held down. Answers are
// counted when they arrive. A cut on every 429 alone would collapse the
// rate.
const (
	paceSpan = 2500 * time.Millisecond // 10 buckets of 250 ms
	paceGain = 1.25
	// paceNoise is the throttled share below which throttling is not taken
	// for a limit: half the share (1 − 1/paceGain) that probing at
	// paceGain above a real limit draws.
	paceNoise = (1 - 1/paceGain) / 2
	paceMax   = 1e9 // requests per second: the pace stops growing here
	// paceEvidence is the fewest throttling answers in a bucket that can
	// say a limit binds: one or two are noise.
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

	mu   sync.Mutex
	lim  *rate.Limiter
	slot int64 // the bucket the limit was last set in
}

func (p *pacer) init() {
	p.delivered.Init(paceSpan)
	p.throttles.Init(paceSpan)
}

// paceReservation is one slot of a key's pace.
type paceReservation struct {
	r     *rate.Reservation
	delay time.Duration
}

func (r paceReservation) cancel(now time.Time) {
	if r.r != nil {
		r.r.CancelAt(now)
	}
}

// reserve takes one slot of the pace at now.
func (p *pacer) reserve(now time.Time) paceReservation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.update(now) {
		return paceReservation{}
	}
	r := p.lim.ReserveN(now, 1)
	return paceReservation{r: r, delay: r.DelayFrom(now)}
}

// update sets the limit once per bucket from what was delivered, and ends
// pacing once the key has not been throttled for paceIdle. It reports
// whether the key is still paced. p.mu must be held.
func (p *pacer) update(now time.Time) bool {
	if !p.active.Load() {
		return false
	}
	if now.UnixNano()-p.throttled.Load() > int64(paceIdle) {
		p.active.Store(false)
		p.lim = nil
		return false
	}
	width := p.delivered.Width()
	slot := now.UnixNano() / int64(width)
	if p.lim != nil && slot == p.slot {
		return true
	}
	p.slot = slot
	best := p.delivered.Max(now)
	d, th := p.delivered.Prev(now), p.throttles.Prev(now)
	evidence := th >= paceEvidence && float64(th) >= paceNoise*float64(d+th)
	var r rate.Limit
	switch {
	case evidence:
		r = rate.Limit(math.Max(paceGain*float64(best)/width.Seconds(), paceFloor))
	case p.lim == nil || p.lim.Limit() == rate.Inf:
		// No bucket has yet shown a limit binding: what was delivered is
		// the demand, not the provider's capacity; do not pace on it.
		r = rate.Inf
	default:
		r = rate.Limit(math.Max(paceGain*float64(best)/width.Seconds(), 2*float64(p.lim.Limit())))
		if r >= paceMax {
			r = rate.Inf
		}
	}
	burst := 1
	if r != rate.Inf {
		burst = max(1, int(float64(r)*width.Seconds()))
	}
	if p.lim == nil || p.lim.Limit() == rate.Inf {
		p.lim = rate.NewLimiter(r, burst) // a new bucket starts full
		return true
	}
	p.lim.SetLimitAt(now, r)
	p.lim.SetBurstAt(now, burst)
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
	if !p.active.Load() || p.lim == nil {
		return 0, false
	}
	return p.lim.Limit(), true
}
