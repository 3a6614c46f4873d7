package gate

import (
	"math"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/internal/latency"
	"github.com/rebound-http/rebound/internal/rolling"
)

// The adaptive pace of a key, after TCP BBR: the provider's rate is
// measured as what it accepted of what was sent (every request but a
// throttled one), counted by when it was sent, per bucket; the key is paced
// at paceGain times that rate, so that it probes above it all the time.
// Counting by the send matters for models: a throttling answer comes at
// once, an accepted one after the whole answer, seconds later, and counted
// when they arrive the answers of one moment spread over the seconds after
// it (the best bucket then read 40–50% above the limit) and are not there
// yet when the limit is first found (the pace started at its floor).
//
// The rate is the best settled bucket (complete, and older than a
// throttling answer takes) since the limit was found, as BBR's delivery
// rate, which a lull in the demand does not pull down; at a few requests a
// second, where a bucket holds one or two, it is the mean of the settled
// buckets that sent anything, over a second at least.
//
// Under a real limit the accepted rate is the limit, and the pace settles
// a quarter above it: the excess beyond that is refused locally, and about
// a fifth of what is sent, the probes, is throttled. Throttling that does not
// track the load (random 429s) refuses a share of what is sent whatever the
// rate: when the last span's throttled share is below half of what the probe
// gain causes against a real limit, or it holds fewer than paceEvidence
// throttling answers, the throttling is no evidence of one. Until a span has
// shown such evidence the key is not paced at all. Pacing then starts from
// what was accepted after the bucket of the first throttled request (that
// one still took the rest of the provider's burst), with the provider's
// bucket empty; once paced, one throttling answer in a span, at a quarter
// of the share, keeps the pace. After a span without any, the pace grows by
// the gain over what was sent when that used the pace to the full (a slow
// start that follows what goes through: doubling per bucket overshot a limit
// of a few requests a second a hundredfold before its first 429 came back),
// and otherwise stays, until paceIdle without throttling, and without the
// pace holding anything back, ends it. The slots are given on a schedule of
// their own (a GCRA), so that a new pace spaces the calls that come after
// it without moving, or interleaving with, the ones already given. Random
// 429s up to 1 − 1/paceGain (a fifth) of the requests keep the pace above
// the load; more are taken for a limit. A cut on every 429 alone would
// collapse the rate.
const (
	paceSpan = 2500 * time.Millisecond // 10 buckets of 250 ms
	paceGain = 1.25
	// paceNoise is the throttled share below which throttling is not taken
	// for a limit: half the share (1 − 1/paceGain) that probing at
	// paceGain above a real limit draws.
	paceNoise = (1 - 1/paceGain) / 2
	paceMax   = 1e9 // requests per second: the pace stops growing here
	// paceFull is the share of the pace that, sent without a throttling
	// answer, says the pace holds the calls back, and not the demand.
	paceFull = 0.9
	// paceLeast is the fewest buckets what was accepted is measured over
	// when those since the limit was found hold fewer than paceCount
	// requests.
	paceLeast = 4
	paceCount = 16
	// paceEvidence is the fewest throttling answers in a span that can say
	// a limit binds: one or two are noise.
	paceEvidence = 3
	paceIdle     = 10 * time.Second // no throttling for this long ends pacing
	paceFloor    = 1.0              // requests per second at the least
	latencyEMA   = 0.2              // weight of a new latency sample
)

type pacer struct {
	active atomic.Bool
	// What the provider accepted is counted by when it was sent: the
	// requests sent, and the throttling answers by their requests' send
	// time. A throttling answer comes fast, an accepted one after the
	// model's whole latency (seconds, for a model's answer): counted when
	// they arrive, the answers of one moment are spread over the next
	// seconds, and are not there yet when the limit is first found.
	sent      rolling.Window
	throttles rolling.Window
	throttled atomic.Int64 // Unix nanoseconds of the last throttling answer
	first     atomic.Int64 // send time (Unix ns) of the first throttled request since pacing last ended; 0: none
	lat       atomic.Int64 // smoothed latency of delivered answers, ns
	thLat     atomic.Int64 // smoothed latency of throttling answers, ns
	// lats holds the delivered answers' latencies, and slow their p95,
	// read from it every latEvery answers: how late a call may still be
	// sent behind the pace (see slowAnswer).
	lats  latency.Histogram
	slow  atomic.Int64
	nLats atomic.Uint32

	mu    sync.Mutex
	lim   rate.Limit // the pace; 0 while none is set, rate.Inf while no limit binds
	slot  int64      // the bucket the pace was last set in
	held  int64      // the last bucket in which the pace delayed a slot
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
	p.sent.Init(paceSpan)
	p.throttles.Init(paceSpan)
}

// sending counts a request sent at now.
func (p *pacer) sending(now time.Time) { p.sent.Add(now, 1) }

// accepted returns the rate (per second) at which the provider accepted
// what was sent in the buckets from since on that are settled (complete,
// and, when settled is set, older than a throttling answer takes to come
// back): the best of them when they hold paceCount requests each on
// average, else their mean, over the last paceLeast at least (at a few
// requests a second, fewer buckets tell noise). ok is false when there is
// none.
func (p *pacer) accepted(now, since time.Time, settled bool) (float64, bool) {
	width := int64(p.sent.Width())
	var lag int64
	if settled {
		lag = p.thLat.Load() // how long a throttling answer may still be out
	}
	last := (now.UnixNano()-lag)/width - 1              // the newest settled bucket
	first := now.UnixNano()/width - rolling.Buckets + 1 // the oldest the rings still hold
	if !since.IsZero() {
		from := max(first, since.UnixNano()/width)
		if from > last {
			return 0, false // nothing since is settled yet
		}
		if n, _ := p.sent.Between(from, last); n >= paceCount {
			first = from
		} else {
			first = max(first, last-paceLeast+1)
		}
	}
	if last < first {
		return 0, false
	}
	// Only the buckets in which something was sent: before the first, and
	// in a pause, the demand was nothing, which says nothing of the limit.
	sent, k := p.sent.Between(first, last)
	th, _ := p.throttles.Between(first, last)
	if k == 0 {
		return 0, false
	}
	if sent >= paceCount*int64(k) {
		// Enough in each bucket that its count is not noise: the best
		// bucket, as BBR's delivery rate, which a lull in the demand does
		// not pull down and a rise shows at once.
		if m, ok := p.sent.MaxLess(&p.throttles, first, last); ok {
			return float64(max(m, 0)) / (float64(width) / 1e9), true
		}
	}
	return float64(max(sent-th, 0)) / (float64(k) * float64(width) / 1e9), true
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
	if r.delay > 0 {
		p.held = p.slot
	}
	return r
}

// update sets the pace once per bucket from what was accepted, and ends
// pacing once the key has not been throttled for paceIdle. It reports
// whether the key is still paced. p.mu must be held.
func (p *pacer) update(now time.Time) bool {
	if !p.active.Load() {
		return false
	}
	if now.UnixNano()-p.throttled.Load() > int64(paceIdle) && p.held <= p.slot-rolling.Buckets {
		// Not throttled for paceIdle, and the pace held nothing back in
		// its last span: no limit binds.
		p.active.Store(false)
		p.lim, p.since = 0, time.Time{}
		p.first.Store(0)
		return false
	}
	width := p.sent.Width()
	slot := now.UnixNano() / int64(width)
	if p.lim != 0 && slot == p.slot {
		return true
	}
	p.slot = slot
	// The evidence is the whole span's: a bucket holds a few throttling
	// answers at most, and one without them says nothing.
	th := p.throttles.Sum(now)
	need, share := int64(paceEvidence), paceNoise
	if !p.since.IsZero() {
		// Paced, at a few requests per second a span holds one or two
		// throttling answers of the probes: enough to keep the pace.
		need, share = 1, paceNoise/2
	}
	evidence := th >= need && float64(th) >= share*float64(max(p.sent.Sum(now), th))
	var r rate.Limit
	switch {
	case evidence && p.since.IsZero():
		// The limit binds from the first throttled request on. What was
		// accepted before it was the demand, and the provider's burst as
		// well, not its rate.
		first := p.first.Load()
		if first == 0 || first > now.UnixNano() {
			first = now.UnixNano()
		}
		// The bucket of the first throttled request still let the rest of
		// the provider's burst through; from the next one on, what it
		// accepts of a demand above its rate is its rate.
		ft := first / int64(width)
		p.since = time.Unix(0, (ft+1)*int64(width))
		a, ok := p.accepted(now, p.since, true)
		if !ok {
			a, ok = p.accepted(now, time.Unix(0, ft*int64(width)), false) // the burst's bucket, for now
		}
		if !ok {
			r = rate.Inf // nothing complete since: from the next bucket
			p.since = time.Time{}
			break
		}
		r = rate.Limit(math.Max(paceGain*a, paceFloor))
	case evidence:
		a, ok := p.accepted(now, p.since, true)
		if !ok {
			a, ok = p.accepted(now, p.since, false)
		}
		if !ok {
			r = p.lim
			break
		}
		r = rate.Limit(math.Max(paceGain*a, paceFloor))
	case p.lim == 0 || p.lim == rate.Inf:
		// No bucket has yet shown a limit binding: what was accepted is
		// the demand, not the provider's capacity; do not pace on it.
		r = rate.Inf
	default:
		// A span without evidence. When what was sent in the last buckets
		// used the pace to the full, the pace is below the limit, or the
		// limit rose: grow by the gain over what was sent (a slow start
		// that follows what goes through; a doubling per bucket would
		// overshoot a limit of a few requests a second a hundredfold
		// before its first 429 comes back). Otherwise the demand is below
		// the pace, there is nothing to learn, and the pace stays until
		// paceIdle ends it.
		const recent = 4
		r = p.lim
		n, _ := p.sent.Between(slot-recent, slot-1)
		sent := float64(n) / (recent * width.Seconds())
		if sent >= paceFull*float64(p.lim) {
			r = rate.Limit(paceGain * sent)
			if r >= paceMax {
				r = rate.Inf
			}
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
		sent := t.at.Add(t.delay)
		p.throttled.Store(at.UnixNano())
		p.throttles.Add(sent, 1)
		p.first.CompareAndSwap(0, sent.UnixNano()) // until pacing ends
		if !end.IsZero() {
			ema(&p.thLat, int64(end.Sub(sent)))
		}
		if !p.active.Load() {
			p.mu.Lock()
			p.active.Store(true) // the limit is set from the buckets on the next reserve
			p.mu.Unlock()
		}
		return
	}
	if !end.IsZero() {
		d := end.Sub(t.at) - t.delay // from the send
		ema(&p.lat, int64(d))
		// The p95 is read only where a wait is weighed against it: while
		// the key is paced or its quota told (an observer's timing of
		// every answer does not pay for it).
		if t.measured || t.g != nil && t.g.quota.tracked.Load() {
			p.lats.Observe(d)
			if p.nLats.Add(1)%latEvery == 1 {
				p.slow.Store(int64(p.lats.Quantile(0.95)))
			}
		}
	}
}

// latEvery is how many delivered answers pass between two readings of
// their p95.
const latEvery = 32

// slowAnswer is the time an answer may take that a call waiting behind the
// pace must leave before its deadline: the recent p95 of the delivered
// answers, and at least their mean and half again. Under a steady overload
// every call waits as long as its deadline allows, and a call sent with
// less than a slow answer's time left is a slot the provider accepts and
// whose answer comes too late, taken from a younger call that would have
// made it. (Answers of a model are skewed: their p95 is well above their
// mean and half again.)
func (p *pacer) slowAnswer() time.Duration {
	lat := p.latency()
	return max(lat+lat/2, time.Duration(p.slow.Load()))
}

// ema folds sample into the smoothed value at v; a negative sample (an
// answer reported before its slot) is not one.
func ema(v *atomic.Int64, sample int64) {
	if sample < 0 {
		return
	}
	if old := v.Load(); old == 0 {
		v.Store(sample)
	} else {
		v.Store(old + int64(latencyEMA*float64(sample-old)))
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
