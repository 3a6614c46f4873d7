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
// a quarter above it: the excess beyond that is refused locally, and a few
// probes are throttled. Under throttling that does not track the load
// (random 429s), the delivered rate is the offered one less the throttled
// share, and a quarter above it the pace does not bind: a cut on every 429
// alone would collapse the rate.
const (
	paceSpan   = 2500 * time.Millisecond // 10 buckets of 250 ms
	paceGain   = 1.25
	paceIdle   = 10 * time.Second // no throttling for this long ends pacing
	paceFloor  = 1.0              // requests per second at the least
	latencyEMA = 0.2              // weight of a new latency sample
)

type pacer struct {
	active    atomic.Bool
	delivered rolling.Window
	throttled atomic.Int64 // Unix nanoseconds of the last throttling answer
	lat       atomic.Int64 // smoothed latency of delivered answers, ns

	mu   sync.Mutex
	lim  *rate.Limiter
	slot int64 // the bucket the limit was last set in
}

func (p *pacer) init() { p.delivered.Init(paceSpan) }

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
	r := rate.Limit(math.Max(paceGain*float64(best)/width.Seconds(), paceFloor))
	burst := max(1, int(float64(r)*width.Seconds()))
	if best == 0 {
		// Nothing measured yet (the key is new, or was idle): pacing at
		// the floor would starve it; wait for a bucket of evidence.
		r, burst = rate.Inf, 1
	}
	if p.lim == nil {
		p.lim = rate.NewLimiter(r, burst)
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
		p.throttled.Store(t.at.UnixNano())
		if !p.active.Load() {
			p.mu.Lock()
			p.active.Store(true) // the limit is set from the buckets on the next reserve
			p.mu.Unlock()
		}
		return
	}
	p.delivered.Add(t.at, 1)
	if !end.IsZero() {
		sample := int64(end.Sub(t.at) - t.pace.delay - t.limit.Delay()) // from the send
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

// Rate returns the key's current pace in requests per second, and whether it
// is paced at all.
func (g *Gate) Rate() (float64, bool) {
	p := &g.pace
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.active.Load() || p.lim == nil {
		return 0, false
	}
	return float64(p.lim.Limit()), true
}
