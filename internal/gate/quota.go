package gate

import (
	"cmp"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
)

// The quota a provider tells in its rate-limit headers, per key: for
// requests and for tokens, what is left of the window and when it resets.
//
// What is free of a window is spread evenly over the time to its reset
// rather than spent at once: each lane keeps a schedule of slots (a tenth at
// once, the rest a pace apart), so that calls within the quota go at once
// and a load above it is paced to it. Slots are given in the order calls ask
// for them, and an answer that tells the quota again re-paces only what was
// not yet given: the calls given a slot keep it. What is free is what the
// answer says is left, less what was sent after its own request (which its
// count cannot include), less the slots given and not yet sent. A call
// whose slot would fall past the reset, or that comes while the window is
// spent, is given a slot at the reset, in the next window, as far as that
// has room: the calls that waited go first when it renews, and the rest of
// it is spread. Once a window's length was seen, from one told reset to the
// next, the calls the next window has no room for are given slots in the
// windows after it, in turn, so that they too go in the order they came.
// The reset is counted from when the answer's request was
// sent, not from when the answer came. A call no slot fits before its
// deadline is refused at once, and takes none.
//
// A quota that refills as a bucket (OpenAI's: its reset is the time until
// it is whole again) is told apart by what is left growing back within a
// window; it is then paced as what it is: a bucket of its limit, refilled
// at the rate the answers tell, holding what they say is left.
//
// What is left is the key's: other clients (replicas without a store) may
// draw on it too. When it shrinks faster than what this Transport sends,
// the gate learns its share and takes that part of it. Token estimates are
// scaled by what the provider was seen to charge for them: alone, by what
// is left after its own requests; in a fleet, where what is left shrinks by
// every member's, by what the provider counted while the fleet's limit was
// full (see learnFleetScale).
//
// Headers are read on every response, success included, but only once per
// quotaSample while the quota is far from spent, so the cost is paid about
// once per quotaSample per key under load; meanwhile a call whose slot
// comes at once takes it without the lock (see quotafast.go).
const (
	quotaSample = 10 * time.Millisecond
	// quotaSlack is the shortest wait the told quota imposes: a call due
	// sooner goes at once.
	quotaSlack = time.Millisecond
	// quotaFar is the share of a window's limit left, beyond what was
	// sent since, above which the headers need not be read on every
	// response.
	quotaFar = 0.2
	// quotaBurst is the share of what is left that may go at once.
	quotaBurst = 0.1
	// quotaMargin is the least margin taken after a told reset, for the
	// time a request takes to reach the provider.
	quotaMargin = 5 * time.Millisecond
	// quotaFitMargin is the least time a slot must leave before the call's
	// deadline beyond its answer's usual time.
	quotaFitMargin = 2 * time.Millisecond
	// learntTTL is how long a limit learnt from the headers (a window's
	// capacity) lasts after the last response that stated it.
	learntTTL = time.Minute
)

// lane is the quota of one kind, requests or tokens, of one key.
type lane struct {
	// sent counts the requests or tokens sent while tracked: what was sent
	// after an answer's own request is what its headers cannot count.
	// answered counts those of them answered (or given up): what is in
	// flight is the difference (see inflight), so that a call counts
	// itself once in each.
	sent, answered atomic.Int64
	// queued counts the requests or tokens given a slot to come and not yet
	// sent.
	queued atomic.Int64
	// word holds tat while the quota's view is published (see quotafast.go).
	word atomic.Uint64

	// Under quota.mu:
	// The schedule, a token bucket of burst units refilled one unit per
	// pace, kept as the time tat at which it is full again (GCRA): a call
	// of c units has its slot at max(now, max(tat, now)+c·pace-burst·pace).
	paced    bool // the schedule applies until until
	tat      int64
	pace     float64       // ns per unit
	burst    float64       // units
	until    int64         // Unix ns when the reported window resets; the schedule lapses then
	limit    int64         // the window's capacity, when stated
	limitTTL int64         // Unix ns until which limit and span hold
	span     time.Duration // the longest reset told: the window's length
	// told is the latest end of a window told (Unix ns, from the request's
	// send, without margin), and length the time from one window's end to
	// the next's, once seen: what span falls short of (see period).
	told, length int64
	window       classify.Window
	// next counts the units given slots at the reset, in the next window,
	// to calls that came when this one was spent or its slots were all
	// given: they are the oldest, and go first when it renews. later
	// counts those given slots in the windows after it, each of its
	// capacity, filled in turn (a call does not straddle two). gen counts
	// the windows, so that a slot given back is taken off the right one.
	next, later int64
	gen         uint64
	// nextRoom is how much of the next window may be given: its limit, less
	// what was sent after the answer that said this one was spent (a
	// bucket is whole at the reset only if nothing more was taken).
	nextRoom int64
	// refills is set once the quota was seen to refill within a window,
	// as a bucket does: what is left then grows back as time passes, and
	// what is sent before the reset is taken from the next window too, so
	// its slots are given only once the window is spent. lastLeft and
	// lastSeq are what the latest-sent request's answer told, and the
	// sent count after that request, to see it by.
	refills, windowed      bool
	refillSeen, windowSeen int   // the evidence for each
	lastLeft, lastSeq      int64 // of the latest-sent answer read
	lastSent, lastReset    int64
	refusedSeq             int64 // the latest-sent request answered 429
	// slow stretches a refilling lane's pace, from 1, after 429s.
	slow float64
	// share is the part of the quota this Transport takes (0: all of
	// it), learnt when what is left shrinks faster than what it sends:
	// other clients (replicas) draw on it too. refLeft and refSeq start the
	// stretch it is measured over, and refEnd (Unix ns) is when the window
	// that told refLeft resets: a stretch lies within one window.
	share                   float64
	refLeft, refSeq, refEnd int64
	// fleetLeft, fleetAt, fleetEnd and fleetCell start the stretch a
	// fleet member measures its token estimates over: what was left, when
	// the request that told it was sent, when that window resets (Unix
	// ns), and which of its cells it was sent in; fleetBad says an answer
	// since said the stretch does not count (see learnFleetScale).
	fleetLeft, fleetAt, fleetEnd, fleetCell int64
	fleetBad                                bool
}

type quota struct {
	// spent is the Unix ns of the hold set because a told window was
	// spent: the calls that find it are given slots in the next window.
	spent atomic.Int64

	// tracked is set once a response of the key has told its quota: from
	// then on admissions count what is sent and may be paced.
	tracked atomic.Bool
	// tokTracked is set once a response has told a token quota: from then
	// on requests are given a cost.
	tokTracked atomic.Bool
	// next is the Unix ns before which a response's headers are not read.
	next atomic.Int64
	// paced is set while either lane's schedule applies.
	paced atomic.Bool
	// scale holds the float64 bits of what the provider charges per token
	// estimated (0: 1); see scaled.
	scale atomic.Uint64
	// capacity is the token window's capacity learnt from the headers,
	// until capacityTTL (Unix ns): read without the lock on every
	// admission of a costed request.
	capacity, capacityTTL atomic.Int64
	// view, while published, lets calls take their slots without mu
	// (see quotafast.go).
	view atomic.Pointer[quotaView]

	mu sync.Mutex
	at time.Time // when the last quota was read
	// fastFar is set while the last quota read was far from spent: only
	// then is a view published. lastView is the view published last, and
	// fastGen its gen.
	fastFar  bool
	lastView *quotaView
	fastGen  uint64
	noFast   bool // tests: never publish a view
	// shareOwn and shareAll are the smoothed requests sent and counted per
	// stretch (see learnShare).
	shareOwn, shareAll float64
	req, tok           lane
}

// quotaReservation is what an admission holds of a key's told quota.
type quotaReservation struct {
	want    int64 // the request's estimated cost
	cost    int64 // tokens counted in flight
	counted bool  // the request is counted in flight
	// seqReq and seqTok are the lanes' sent counts once this request was
	// counted in them, at sentAt (Unix ns).
	seqReq, seqTok int64
	sentAt         int64
	// queuedReq and queuedTok are what the request counts in the lanes'
	// queued: given a slot to come.
	queuedReq, queuedTok int64
	delay                time.Duration
	// reset, when not zero, says the slot would come only after the told
	// window resets, that long from now: rather than queue behind a
	// window that is nearly spent, wait for the reset and ask again.
	reset time.Duration
	// nextReq and nextTok are the units given in the next window of each
	// lane (of its gen), when the slot is there, or less than zero those
	// given in a window after it.
	nextReq, nextTok int64
	genReq, genTok   uint64
	// next says the slot is at the reset of a spent window.
	next bool
	// late says the slot comes too late for the call's deadline: no slot
	// was taken.
	late bool
	// tatReq and tatTok are the lanes' schedules once the slots were
	// taken (zero for none), so that a slot not used is given back while
	// no later one was given; took is the tokens taken.
	tatReq, tatTok, took int64
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

// reserve takes a slot, and cost tokens (scaled, see scaled), of the told
// quota at now, and counts them sent when they may go at once; a slot that
// comes later is counted queued until it is sent (see Ticket.Sending). A slot at or after
// fit (Unix ns; zero for none) is not taken: the reservation is late.
// q.tracked must be set.
func (q *quota) reserve(now time.Time, cost, fit int64) quotaReservation {
	r := quotaReservation{want: cost}
	if q.paced.Load() && !q.reserveFast(now.UnixNano(), cost, &r) {
		q.reserveSlots(now, cost, fit, &r)
	}
	if r.delay < quotaSlack && !r.late && r.reset == 0 {
		q.sending(&r, now)
	}
	return r
}

// sending counts r's request and tokens sent and in flight.
func (q *quota) sending(r *quotaReservation, now time.Time) {
	if r.counted {
		return
	}
	r.counted, r.sentAt = true, now.UnixNano()
	r.unqueue(q)
	r.seqReq = q.req.sent.Add(1)
	if r.want > 0 && q.tokTracked.Load() {
		r.cost = r.want
		r.seqTok = q.tok.sent.Add(r.cost)
	}
}

// inflight returns the requests or tokens sent and not yet answered, while
// tracked. (Read apart, the two counts may be off by a call in flight.)
func (l *lane) inflight() int64 {
	return max(l.sent.Load()-l.answered.Load(), 0)
}

// unqueue takes r's request and tokens out of the lanes' queued counts.
func (r *quotaReservation) unqueue(q *quota) {
	if r.queuedReq > 0 {
		q.req.queued.Add(-r.queuedReq)
		r.queuedReq = 0
	}
	if r.queuedTok > 0 {
		q.tok.queued.Add(-r.queuedTok)
		r.queuedTok = 0
	}
}

// Sending tells the gate that an attempt admitted with a delay is now, at
// now, being sent.
func (t *Ticket) Sending(now time.Time) {
	if t.g == nil {
		return
	}
	t.g.pace.sending(now)
	t.counted = true
	if t.g.quota.tracked.Load() {
		t.g.quota.sending(&t.quota, now)
	}
}

func (q *quota) reserveSlots(now time.Time, cost, fit int64, r *quotaReservation) {
	n := now.UnixNano()
	q.mu.Lock()
	q.closeFast()
	defer q.openUnlock(n)
	q.req.renew(now)
	q.tok.renew(now)
	// Both lanes' slots are found before either is taken: a call that must
	// wait for a reset, or that no slot fits, takes neither.
	req, tok := &q.req, &q.tok
	a := req.find(n, 1)
	if cost <= 0 && !tok.paced && n < tok.until {
		cost = 1 // a token window is spent: a call of unknown cost waits too
	}
	b := tok.find(n, cost)
	if a.reset || b.reset {
		r.reset = time.Duration(max(a.slot, b.slot) - n)
		return
	}
	// A call whose slot is now goes, whatever its deadline: only a wait is
	// weighed against it.
	if last := max(a.slot, b.slot); fit != 0 && last >= fit && last-n >= int64(quotaSlack) {
		// (A bucket's slots are when it has refilled: none to borrow.)
		if a.next || b.next || fit <= n || req.refills && a.slot >= fit || tok.refills && b.slot >= fit {
			// Too late for the call: the slot stays for a call it fits.
			r.delay, r.late = time.Duration(last-n), true
			return
		}
		// The window has room for the call, but its spread would make it
		// wait past its deadline: it goes now, on the units of its slot.
		// Spreading delays a call only as far as its deadline allows.
		a.slot, b.slot = min(a.slot, n), min(b.slot, n)
	}
	r.tatReq, r.nextReq, r.genReq = req.take(a, 1)
	r.tatTok, r.nextTok, r.genTok = tok.take(b, cost)
	if b.ok {
		r.took = cost
	}
	r.next = a.next || b.next
	if d := time.Duration(a.slot - n); a.ok && d >= quotaSlack {
		r.delay = d
		if !a.next {
			r.queuedReq = 1
			req.queued.Add(1)
		}
	}
	if d := time.Duration(b.slot - n); b.ok && d >= quotaSlack {
		r.delay = max(r.delay, d)
		if !b.next {
			r.queuedTok = cost
			tok.queued.Add(cost)
		}
	}
}

// found is the slot a lane has for a call: in its window (at tat), in the
// next window (at the reset), or none before the reset (reset: wait for it
// and ask again).
type found struct {
	ok, next, reset bool
	slot, tat       int64
	// later, for a slot in a window after the next, is the lane's later
	// count once it is taken.
	later int64
}

// find finds the slot of a call of c units at n. q.mu must be held.
func (l *lane) find(n, c int64) found {
	if c <= 0 || n >= l.until {
		return found{}
	}
	if l.paced && l.left(n)-l.queued.Load() >= c {
		// All of the call's units must fall within the window.
		if slot, tat := l.slot(n, c); slot < l.until && tat-int64(math.Round(l.burst*l.pace)) <= l.until {
			return found{ok: true, slot: slot, tat: tat}
		}
	}
	// Spent, or its slots all given: the next window, when its capacity
	// is known and has room, else the reset. A quota that refills is whole
	// at the reset only if nothing more is sent before it: only once spent.
	// The windows after the next have room too, in the order calls ask
	// for it, so that the calls that came first go first, and a call no
	// window has room for before its deadline is refused at once, rather
	// than wait for resets to ask again (while calls that came after it
	// took the next window's room).
	if l.limit <= 0 || l.paced && l.refills || l.span <= 0 || l.limitTTL <= l.until {
		return found{reset: true, slot: l.until}
	}
	room := l.part(l.limit)
	first := room
	if !l.paced {
		first = min(room, l.nextRoom)
	}
	if l.next+c <= first {
		return found{ok: true, next: true, slot: l.until}
	}
	// (Only once a window's length was seen from one end to the next: the
	// longest reset told may be a window seen near its end.)
	if l.refills || c > room || l.length == 0 {
		return found{reset: true, slot: l.until}
	}
	w, fill := l.later/room, l.later%room
	if fill+c > room {
		w, fill = w+1, 0
	}
	slot := l.until + (w+1)*l.period()
	if slot >= l.limitTTL {
		return found{reset: true, slot: l.until}
	}
	return found{ok: true, next: true, slot: slot, later: w*room + fill + c}
}

// left returns what the latest answer read said is left of its window, less
// what was sent after its request, while that window lasts at n; a lane that
// refills, or has no such answer, has no bound from it (MaxInt64). The
// schedule spreads what an earlier answer said was free; where the provider
// charged more than estimated, this is less, and the slots given beyond it
// would be answered 429. q.mu must be held for the lane's fields.
func (l *lane) left(n int64) int64 {
	if l.refills || l.lastSeq == 0 || l.lastReset <= 0 || n >= l.lastSent+l.lastReset {
		return math.MaxInt64
	}
	since := max(l.sent.Load()-l.lastSeq, 0)
	if l.share > 0 && l.share < 1 {
		since = int64(float64(since) / l.share) // others draw on it too
	}
	return l.lastLeft - since
}

// Fits reports whether the attempt admitted with a delay still fits, at now,
// in what the key's told quota has left (see lane.left): when it does not,
// the call should be admitted again (its slot cancelled) rather than sent
// into a 429. Slots in a window to come always fit.
func (t *Ticket) Fits(now time.Time) bool {
	r := &t.quota
	if t.g == nil || r.next || r.want <= 0 && r.tatReq == 0 {
		return true
	}
	q := &t.g.quota
	n := now.UnixNano()
	q.mu.Lock()
	defer q.mu.Unlock()
	if r.tatReq != 0 && q.req.left(n) < 1 {
		return false
	}
	return r.took == 0 || q.tok.left(n) >= r.took
}

// period is the length taken for the windows after the told one: the
// time from one told end to the next, or, until one was seen, the longest
// reset told (which falls short of the window's by the time its first
// request took to arrive), and a margin, so that their slots do not come
// before the provider's resets.
func (l *lane) period() int64 {
	p := max(int64(l.span), l.length)
	return p + max(p/100, int64(quotaMargin))
}

// learnLength takes the end of a window told, end (Unix ns, from the
// request's send): an end about a window's length past the latest one is
// the next window's, and the time between them its length (the longest
// seen: one too short would put slots before a reset). q.mu must be held.
func (l *lane) learnLength(end int64) {
	span := int64(l.span)
	switch d := end - l.told; {
	case l.told == 0 || d > span+span/2:
		l.told = end
	case d > span/2:
		l.length, l.told = max(l.length, d), end
	case d > 0:
		l.told = end // the same window, told by a request that took less time to arrive
	}
}

// take takes the slot f of c units, returning the schedule once taken, or
// the units taken in the next window and its gen. q.mu must be held.
func (l *lane) take(f found, c int64) (tat, next int64, gen uint64) {
	switch {
	case !f.ok:
		return 0, 0, 0
	case f.next && f.later > 0:
		c, l.later = f.later-l.later, f.later
		return 0, -c, l.gen // negative: in a later window
	case f.next:
		l.next += c
		return 0, c, l.gen
	}
	l.tat = f.tat
	return f.tat, 0, 0
}

// slot returns the slot, at or after n, of a call of c units, and the
// schedule's tat once it is taken. q.mu must be held.
func (l *lane) slot(n, c int64) (slot, tat int64) {
	base := max(l.tat, n)
	tat = base + int64(math.Round(float64(c)*l.pace))
	// A call larger than the burst may go at once into a full bucket.
	return max(n, tat-int64(math.Round(math.Max(l.burst, float64(c))*l.pace))), tat
}

// schedule spreads free units over the time from n to l.until, burst of
// them at once, after the slots already given. q.mu must be held.
func (l *lane) schedule(n, free int64, burst float64) {
	burst = math.Min(burst, float64(free))
	pace := float64(l.until-n) / math.Max(float64(free)-burst, 0.5)
	if l.paced && l.tat > n {
		// Slots are given up to last: what is free comes after them, a
		// pace apart, with no burst before the queue has gone.
		last := float64(l.tat) - l.burst*l.pace
		if last > float64(n) {
			// Exactly free more by the reset; the burst comes back with
			// the next quota told once the queue has gone.
			l.pace = math.Max(float64(l.until)-last, 0) / math.Max(float64(free), 0.5)
			l.burst, l.tat, l.paced = 0, int64(last), true
			return
		}
		// No queue: keep what the bucket holds, up to the new burst.
		have := l.burst - float64(l.tat-n)/l.pace
		l.pace, l.burst = pace, burst
		l.tat = n + int64((burst-math.Min(math.Max(have, 0), burst))*pace)
		l.paced = true
		return
	}
	l.pace, l.burst, l.tat, l.paced = pace, burst, n, true
}

// renew starts l's next window once the told one has reset, before any
// answer from the new one has told it: the window is whole again, less the
// slots given in it to the calls that waited for its reset, and the rest is
// spread over its length, as when it was told. q.mu must be held.
func (l *lane) renew(now time.Time) {
	n := now.UnixNano()
	if l.until == 0 || n < l.until || n >= l.limitTTL || l.limit <= 0 || l.span <= 0 {
		return
	}
	// The window after the told one begins at its reset, not at now.
	until := l.until + l.period()
	if until <= n {
		until = now.Add(l.span).UnixNano()
	}
	free := max(l.part(l.limit)-l.start(n), 0)
	l.until = until
	l.schedule(n, free, float64(burstOf(free)))
}

// start forgets the schedule of a window that has reset, and returns the
// units given in the new one to the calls that waited for its reset; the
// window after it is now the next. q.mu must be held.
func (l *lane) start(n int64) (given int64) {
	given = l.next
	room := l.part(l.limit)
	l.next = min(l.later, room)
	l.later = max(l.later-room, 0)
	l.gen++
	l.paced, l.tat = false, n
	return given
}

// burstOf is the share of avail that may go at once.
func burstOf(avail int64) int {
	return int(min(math.Max(quotaBurst*float64(avail), 1), math.MaxInt32))
}

// done takes r's request and tokens out of flight. cancel, for an attempt
// that will not be sent, also takes them out of what is sent and queued,
// and gives its slots back while no later one was given.
func (q *quota) done(r *quotaReservation) {
	if r.counted {
		q.req.answered.Add(1)
		r.counted = false
	}
	if r.cost > 0 {
		q.tok.answered.Add(r.cost)
		r.cost = 0
	}
}

func (q *quota) cancel(r *quotaReservation, now time.Time) {
	r.unqueue(q)
	if r.counted {
		q.req.sent.Add(-1) // neither sent nor in flight
	}
	if r.cost > 0 {
		q.tok.sent.Add(-r.cost)
	}
	if r.tatReq != 0 || r.tatTok != 0 || r.nextReq != 0 || r.nextTok != 0 {
		q.mu.Lock()
		q.closeFast()
		q.req.giveBack(r.tatReq, 1, r.nextReq, r.genReq)
		q.tok.giveBack(r.tatTok, r.took, r.nextTok, r.genTok)
		q.openUnlock(now.UnixNano())
	}
	*r = quotaReservation{}
}

// giveBack gives back the slot of c units that left the schedule at tat,
// while no later slot was given, or the next units given in the next
// window while it is still to come. q.mu must be held.
func (l *lane) giveBack(tat, c, next int64, gen uint64) {
	if tat != 0 && l.paced && l.tat == tat {
		l.tat -= int64(math.Round(float64(c) * l.pace))
	}
	switch {
	case gen != l.gen:
	case next > 0:
		l.next -= next
	case next < 0:
		l.later += next
	}
}

// Observe takes the quota a response of the ticket's key told, read at at,
// refused saying whether it was a 429: it holds the key when a window is
// spent, and otherwise spreads what is free of each window over the time to
// its reset.
func (t *Ticket) Observe(qt classify.Quota, at time.Time, refused bool) {
	g := t.g
	if g == nil {
		return
	}
	q := &g.quota
	if !qt.Requests.Known && !qt.Tokens.Known {
		q.next.Store(at.Add(quotaSample).UnixNano()) // nothing told: look again later
		return
	}
	// A 429 whose answer says the told quota had no room for it is the
	// quota's, which holds the key until its reset: it says nothing of a
	// silent limit, and must not set the pace (learnt while the key is
	// held, what is delivered is nothing, and the pace would hold the
	// calls long after the reset).
	t.quotaRefused = refused && (qt.Requests.Known && qt.Requests.Remaining <= 0 ||
		qt.Tokens.Known && qt.Tokens.Remaining < max(t.quota.want, 1))
	q.mu.Lock()
	q.closeFast()
	defer q.openUnlock(at.UnixNano())
	if !q.tracked.Load() {
		q.tracked.Store(true) // what is sent is counted from the next admission on
	}
	if qt.Tokens.Known && !q.tokTracked.Load() {
		q.tokTracked.Store(true)
	}
	q.at = at
	far := true
	paced := false
	// What the provider's count cannot include: what was sent after the
	// answer's own request (a provider counts a request, and writes its
	// headers, as it arrives, or later: this never counts too little), or,
	// for a request not counted when sent, all that is in flight.
	own := &t.quota
	// The provider tells a reset as of the request's arrival: counted from
	// when it was sent, not from when its answer came (seconds later, for
	// inference), with a margin for the way there.
	sent := at
	if own.counted && own.sentAt > 0 && own.sentAt <= at.UnixNano() {
		sent = time.Unix(0, own.sentAt)
	}
	endOf := func(reset time.Duration) time.Time {
		return sent.Add(reset + min(at.Sub(sent), max(reset/100, quotaMargin)))
	}
	uncounted := func(l *lane, counted bool, seq int64) int64 {
		if counted {
			return max(l.sent.Load()-seq, 0)
		}
		return l.inflight()
	}
	for _, x := range [...]struct {
		l       *lane
		w       classify.Window
		since   int64
		counted bool
		seq     int64
		units   int64 // the request's own, in seq
		ok      bool  // the request was not refused by this lane's quota
	}{{&q.req, qt.Requests, uncounted(&q.req, own.counted, own.seqReq), own.counted, own.seqReq, 1, !refused || qt.Requests.Remaining > 0},
		{&q.tok, qt.Tokens, uncounted(&q.tok, own.cost > 0, own.seqTok), own.cost > 0, own.seqTok, own.cost, !refused || qt.Tokens.Remaining >= own.want}} {
		l, w := x.l, x.w
		n := at.UnixNano()
		if w.Limit > 0 {
			if n >= l.limitTTL {
				l.span = 0
			}
			l.limit, l.limitTTL = w.Limit, at.Add(learntTTL).UnixNano()
		}
		if w.Known && w.Reset > l.span {
			l.span = w.Reset
		}
		if w.Known && w.Reset > 0 && x.counted {
			l.learnLength(sent.Add(w.Reset).UnixNano())
		}
		if !w.Known {
			if l.paced && n < l.until {
				paced = true
			}
			continue
		}
		l.window = w
		// What others sharing the quota sent meanwhile is not counted
		// either: as much, for each unit of this Transport's, as its share
		// says.
		avail := w.Remaining - x.since
		if l.share > 0 && l.share < 1 {
			avail = w.Remaining - int64(float64(x.since)/l.share)
		}
		if l == &q.tok && g.fleet() && w.Reset > 0 {
			q.learnFleetScale(w, sent.UnixNano(), endOf(w.Reset).UnixNano(), g.tokFull.Load(), refused)
		}
		if x.counted {
			charged, over := l.learnRefill(w, x.seq, x.units, sent.UnixNano(), !x.ok, l == &q.tok)
			switch {
			case over == 0:
			case l == &q.req && !g.fleet():
				q.learnShare(charged)
			case l == &q.tok && !g.fleet() && cmp.Or(q.req.share, 1) >= shareAlone:
				// Where others draw on the quota too (a share learnt, or a
				// fleet, which learns none), what is left does not say what
				// this Transport's requests were charged.
				// A sample over more of the window weighs more: one over a
				// hundredth of it takes scaleGain, one over a tenth or
				// more five times that.
				weight := min(max(float64(over)/float64(max(l.limit/10, 1)), 0.2), 1) * 5
				q.learnScale(charged, min(scaleGain*weight, 0.5))
			}
		}
		if l.refills && l.limit > 0 {
			if !x.ok {
				l.slow = min(max(l.slow, 1)*1.25, 4) // the bucket was emptier than thought
			} else if l.slow > 1 {
				l.slow = max(l.slow*0.995, 1)
			}
			if l.refill(n, avail, w) {
				paced = true
				if limit := l.limit; float64(avail) < quotaFar*float64(limit) {
					far = false
				}
			}
			continue
		}
		if avail <= 0 {
			// Spent, or about to be by what was sent since: hold the key
			// until the reset.
			far = false
			if n >= l.until {
				l.start(n)
			}
			l.paced = false
			if w.Reset > 0 {
				until := endOf(w.Reset)
				l.until, paced = until.UnixNano(), true // renewed at the reset
				l.nextRoom = l.part(l.limit)
				if !l.windowed {
					l.nextRoom -= x.since
				}
				q.spent.Store(l.until)
				g.HoldUntil(until)
			}
			continue
		}
		if w.Reset <= 0 {
			l.paced = false // nothing to spread over
			continue
		}
		if limit := l.limit; limit > 0 && float64(avail) < quotaFar*float64(limit) || avail < 4*max(l.inflight(), 1) {
			far = false
		}
		end := endOf(w.Reset).UnixNano()
		if end <= n {
			// An answer that came after the window it tells of reset: it
			// says nothing of the one now.
			if l.paced && n < l.until {
				paced = true
			}
			continue
		}
		var given int64
		if n >= l.until {
			// A new window, told before any admission renewed it: the
			// slots given at its reset are sent, and counted in what is
			// left or in since, not to be taken off again.
			given = l.start(n)
		}
		// The slots given at the reset count too: where the quota is a
		// bucket that refills, rather than a window, they draw on the
		// same units.
		free := l.part(avail) - l.queued.Load() - l.next
		if l.share > 0 && l.share < 1 {
			// Where others draw on the quota, what they gave their own
			// waiting calls at the reset may not have reached it yet: as
			// much, for each unit of this Transport's, as its share says.
			free -= int64(float64(given) * (1 - l.share))
		}
		free = max(free, 0)
		l.until = end
		l.schedule(n, free, float64(burstOf(free)))
		paced = true
	}
	q.paced.Store(paced)
	if q.tok.limit > 0 {
		q.capacity.Store(q.tok.limit)
		q.capacityTTL.Store(q.tok.limitTTL)
	}
	next := at.UnixNano()
	if far {
		next = at.Add(quotaSample).UnixNano()
	}
	q.next.Store(next)
	q.fastFar = far
}

// openUnlock publishes the quota's view at n, when it may be (openFast),
// and unlocks q.mu.
func (q *quota) openUnlock(n int64) {
	q.openFast(n)
	q.mu.Unlock()
}

// refill paces a lane whose quota refills as what it is, a bucket: limit
// units, refilled at the rate the answer tells (what is missing over the
// time until it is whole), holding what it says is left less what was sent
// since, given a slot or in the next window. Calls go as the bucket has
// room, in the order they came; no hold is needed. It reports whether the
// lane is paced. q.mu must be held.
func (l *lane) refill(n, avail int64, w classify.Window) bool {
	pace := l.pace
	if w.Remaining < l.limit && w.Reset > 0 {
		// What is left is told in whole units, rounded down: up to one
		// more is missing than it says.
		pace = float64(w.Reset) / float64(max(l.limit-w.Remaining-1, 1)) * max(l.slow, 1)
	}
	if pace <= 0 {
		l.paced = false // whole, and its rate never told
		return false
	}
	// One unit is kept in hand, so that a request that arrives a little
	// early at the provider finds it.
	tokens := float64(l.part(avail) - l.queued.Load() - l.next - 1)
	if l.share > 0 && l.share < 1 {
		pace /= l.share // its share of the refill
	}
	l.pace, l.burst = pace, float64(l.part(l.limit))
	l.tat = n + int64(math.Round((l.burst-tokens)*pace))
	l.until, l.paced = l.limitTTL, true
	return true
}

// learnRefill compares what an answer tells is left, its request sent at
// sent when the lane's sent count was seq, with what the latest-sent answer
// before it told, to learn whether the quota refills as a bucket or comes
// back whole at the reset of a window. Between the two, what is left can
// only have shrunk by what was sent, down to nothing, unless the quota
// refilled meanwhile: a bucket by as much as its rate (what was missing
// over the time to whole) allows in the time between, a window all at once
// at its reset. So what is left growing back at about a bucket's rate says
// bucket; growing by far more, or not at all where a bucket would have
// refilled, says window. The slack covers requests refused and token
// estimates the provider charges otherwise; a 429 between leaves the two
// answers uncompared. q.mu must be held.
//
// Where the two answers are of one window that did not refill, what is left
// shrank by what the provider charged for what was sent between: charged
// over sent is returned as a sample of how the provider counts what was
// estimated, with over the units it was measured over (0: no sample).
// loose widens the slack, for estimates.
func (l *lane) learnRefill(w classify.Window, seq, units, sent int64, refused, loose bool) (charged float64, over int64) {
	// The first request refused since the stretch began ends it too: what
	// was sent between, the provider accepted, and what it tells is left
	// is what it had then less what it charged for that. (Where every
	// window's calls go at its reset, the answers come together and are
	// read once: this may be all there is to learn from.)
	firstRefused := refused && l.refSeq > 0 && l.refusedSeq <= l.refSeq && sent < l.refEnd && !l.refills
	if refused {
		l.refusedSeq = max(l.refusedSeq, seq)
	}
	if seq <= l.lastSeq {
		return 0, 0 // an answer older than the latest one read
	}
	// Only what is left before the earlier answer's reset tells the two
	// apart: at its reset, a bucket is whole and a window renews, and
	// either is back. (A window spent and told near its end looks like a
	// bucket refilling fast: what was missing, over a short reset.)
	before := sent+max(l.lastReset/100, int64(quotaMargin)) < l.lastSent+l.lastReset
	if l.lastSeq > 0 && l.refusedSeq <= l.lastSeq && l.limit > 0 && l.lastReset > 0 && l.lastLeft < l.limit && sent > l.lastSent && before {
		between := seq - l.lastSeq
		slack := float64(max(2, l.limit/100, between/10))
		if loose {
			slack = max(slack, float64(between)/4)
		}
		grew := float64(w.Remaining - max(l.lastLeft-between, 0))
		rate := float64(l.limit-l.lastLeft) / float64(l.lastReset) // a bucket's, per ns
		bucket := rate * float64(sent-l.lastSent)
		switch {
		case grew > 2*bucket+slack:
			l.windowSeen++ // back far faster than a bucket refills: a reset
		case grew > slack:
			l.refillSeen++
		default:
			if bucket > 4*slack {
				l.windowSeen++ // not back where a bucket would be
			}
		}
		l.refills = l.refillSeen >= 2*l.windowSeen+2
		l.windowed = l.windowSeen >= 2*l.refillSeen+2
	}
	l.lastLeft, l.lastSeq, l.lastSent, l.lastReset = w.Remaining, seq, sent, int64(w.Reset)
	// What the provider charged for what was sent, over a stretch long
	// enough to measure, within one window that does not refill.
	// (Sixteen requests; tokens, a hundredth of the window: a ratio of
	// short stretches would overstate it.)
	stretch := int64(16)
	if loose {
		stretch = max(stretch, l.limit/100)
	}
	// (A window that reset between may be spent as far again: what is
	// left need not have grown back to tell it.)
	end := int64(math.MaxInt64)
	if w.Reset > 0 {
		end = sent + int64(w.Reset)
	}
	if between := seq - units - l.refSeq; firstRefused && between >= stretch && w.Remaining < l.refLeft {
		charged, over = float64(l.refLeft-w.Remaining)/float64(between), between
	}
	switch between := seq - l.refSeq; {
	case l.refSeq == 0 || w.Remaining > l.refLeft || l.refusedSeq > l.refSeq || l.refills || sent >= l.refEnd:
		l.refLeft, l.refSeq, l.refEnd = w.Remaining, seq, end // a new stretch
	case between >= stretch && w.Remaining > 0:
		charged, over = float64(l.refLeft-w.Remaining)/float64(between), between
		l.refLeft, l.refSeq, l.refEnd = w.Remaining, seq, end
	}
	return charged, over
}

// part returns the part of n units that is this Transport's share.
func (l *lane) part(n int64) int64 {
	if l.share <= 0 || l.share >= 1 || n <= 0 {
		return n
	}
	return max(int64(float64(n)*l.share), 1)
}

// learnShare takes what the provider counted over a stretch of sent
// requests: above one per request, other clients draw on the same quota,
// and this Transport's share is what it sent over what was counted, both
// smoothed (a ratio of sums, not of short stretches, which would overstate
// it). q.mu must be held.
func (q *quota) learnShare(charged float64) {
	if q.shareOwn == 0 {
		q.shareOwn, q.shareAll = 1, 1
	}
	q.shareOwn += shareGain * (1 - q.shareOwn)
	q.shareAll += shareGain * (charged - q.shareAll)
	s := min(max(q.shareOwn/q.shareAll, shareMin), 1)
	q.req.share, q.tok.share = s, s
}

// Token estimates are the request's own (see key.Cost): a provider counts
// tokens its own way. What it charged, over what was estimated, scales the
// estimates from then on, learnt slowly and within [scaleMin, scaleMax].
const (
	scaleGain = 0.1
	// fleetScaleGain is the gain of a fleet member's samples (see
	// learnFleetScale): what the fleet sent over an eighth of a window
	// at least, not what a few requests were charged.
	fleetScaleGain = 0.5
	// fleetCells is how many stretches a window is cut into.
	fleetCells         = 8
	scaleMin, scaleMax = 0.25, 4
	// shareGain and shareMin bound how the share is learnt: fast, since a
	// fleet that each takes the whole quota is refused at once.
	shareGain = 0.3
	shareMin  = 1.0 / 64
	// shareAlone is the share above which a Transport takes a quota for
	// its own.
	shareAlone = 0.95
)

// scaled returns cost as the provider is expected to count it.
func (q *quota) scaled(cost int64) int64 {
	if cost <= 0 {
		return cost
	}
	s := q.scaleOf()
	if s == 1 {
		return cost
	}
	return max(1, int64(math.Ceil(float64(cost)*s)))
}

func (q *quota) scaleOf() float64 {
	if b := q.scale.Load(); b != 0 {
		return math.Float64frombits(b)
	}
	return 1
}

// learnScale takes a sample of what the provider charged over what was
// sent, in scaled tokens. q.mu must be held.
func (q *quota) learnScale(charged, gain float64) {
	s := q.scaleOf() * (1 + gain*(min(max(charged, 0.5), 2)-1))
	q.scale.Store(math.Float64bits(min(max(s, scaleMin), scaleMax)))
}

// learnFleetScale takes what a fleet member's answer told of the token
// window, w, of a request sent at sent (Unix ns), whose window resets at
// end. What is left shrinks by every member's charges, so it says nothing
// of one member's; but while the fleet's token limit is full (since full,
// Unix ns; 0: it is not), the fleet sends, in scaled tokens, just what the
// limit lets through, and what the provider counted meanwhile, over that,
// is what it charges for each token estimated. (Estimates that whole
// bodies reckon above what the provider counts would otherwise leave part
// of the quota unused, fleet-wide.)
//
// The stretches are the eighths of the provider's window, from the first
// answer read in one to the first read in the next: the same for every
// member, so that all take the same samples and their scales move
// together. (Each measuring its own stretches, the members' scales
// drifted apart, one to 3.3× where the provider charged 1.2×: only the
// fleet's sum is measured, and nothing pulls the members to one value.)
// A stretch counts only when the limit was full all through it, and
// nothing was refused, nor the quota near spent. q.mu must be held.
func (q *quota) learnFleetScale(w classify.Window, sent, end, full int64, refused bool) {
	l := &q.tok
	span := int64(l.span)
	if l.limit <= 0 || span <= 0 {
		return
	}
	step := span / fleetCells
	cell := max(sent-(end-span), 0) / step
	sameWindow := l.fleetAt > 0 && abs(end-l.fleetEnd) < span/20 && w.Remaining <= l.fleetLeft && sent >= l.fleetAt
	bad := refused || w.Remaining < l.limit/20
	if sameWindow && cell == l.fleetCell {
		l.fleetBad = l.fleetBad || bad
		return
	}
	if sameWindow && cell == l.fleetCell+1 && !l.fleetBad && !bad && full != 0 && full+span/100 <= l.fleetAt && sent-l.fleetAt >= step/2 {
		perNs := float64(l.limit-int64(sharedBurst(l.limit))) / float64(span)
		q.learnScale(float64(l.fleetLeft-w.Remaining)/(perNs*float64(sent-l.fleetAt)), fleetScaleGain)
	}
	l.fleetLeft, l.fleetAt, l.fleetEnd, l.fleetCell, l.fleetBad = w.Remaining, sent, end, cell, bad
}

func abs(d int64) int64 {
	if d < 0 {
		return -d
	}
	return d
}

// tokenCapacity returns the token capacity learnt for the key at now, or 0.
func (q *quota) tokenCapacity(now time.Time) int64 {
	if now.UnixNano() < q.capacityTTL.Load() {
		return q.capacity.Load()
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

// fleet reports whether g's Set shares its state with a fleet: its limits
// are then shared through the store, and the gate does not learn a share of
// its own.
func (g *Gate) fleet() bool { return g.set != nil && g.set.shared != nil }
