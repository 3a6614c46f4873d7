package gate

import (
	"math"
	"time"
)

// A call whose slot in a told quota's schedule comes at once takes it
// without the quota's lock, while the quota is far from spent (the success
// path under a provider's headers): the schedule's tat is then kept in the
// lane's word, taken by compare-and-swap, and what the call needs of the
// rest of the lane is in a view, published under the lock. The word holds
// the tat as an offset from the view's base, tagged with the view's gen: a
// word of another gen sends the call to the lock. Under the lock, closeFast
// takes the tats back into the lanes (and stops the calls taking them), and
// openFast publishes them again when the quota is still far from spent. A
// slot taken without the lock is the one the lock would have given:
// TestFastSlotsAreTheLockedOnes compares the two. (Where both lanes are
// paced and the second has no slot at once, the first's is given back
// while no later one was taken, as Cancel gives slots back.)
const (
	fastOffBits = 44 // ns: 4.8 hours of schedule past the base
	fastOffMask = 1<<fastOffBits - 1
	fastGenMask = 1<<(64-fastOffBits) - 1
	// fastClosed is the gen of a word while no view is published.
	fastClosed = fastGenMask
	// fastBefore is how long before the view is published its base
	// lies, for calls admitted at a time read a little earlier.
	fastBefore = int64(time.Second)
)

// quotaView is what an admission reads of a key's told quota to take its
// slots without the lock.
type quotaView struct {
	gen      uint64
	base     int64 // Unix ns the words' offsets count from
	req, tok laneView
}

// laneView is what a lane's slot is found by (see lane.find and lane.left).
type laneView struct {
	paced       bool // else the lane sets no slot (not paced, never told a window)
	until       int64
	pace, burst float64
	burstNs     int64 // math.Round(burst·pace)
	// While leftUntil (Unix ns), what is left is lastLeft less what was
	// sent after lastSeq (as share says).
	leftUntil, lastLeft, lastSeq int64
	share                        float64
}

// reserveFast takes the slots of a call of cost units at n, into r, where
// they come at once and the view allows; it reports false, having taken
// nothing, when the call must ask under the lock.
func (q *quota) reserveFast(n, cost int64, r *quotaReservation) bool {
	v := q.view.Load()
	if v == nil || n < v.base {
		return false
	}
	req, ok := v.req.take(&q.req, v, n, 1)
	if !ok {
		return false
	}
	tok, ok := v.tok.take(&q.tok, v, n, cost)
	if !ok {
		req.undo(&q.req)
		return false
	}
	r.tatReq, r.tatTok = req.tat, tok.tat
	if tok.tat != 0 {
		r.took = cost
	}
	return true
}

// fastTake is a slot taken without the lock: the lane's word before and
// after, and the schedule's tat once taken (zero: none was).
type fastTake struct {
	old, new uint64
	tat      int64
}

// undo gives the slot t back while no later one was taken.
func (t fastTake) undo(l *lane) {
	if t.tat != 0 {
		l.word.CompareAndSwap(t.new, t.old)
	}
}

// take takes the slot of a call of c units at n from l, v's lane, if it
// comes at once; ok is false when it does not, or the word is not v's.
func (lv *laneView) take(l *lane, v *quotaView, n, c int64) (t fastTake, ok bool) {
	if !lv.paced || c <= 0 {
		return fastTake{}, true // as find: no slot to take
	}
	if n >= lv.until {
		return fastTake{}, false // the window renews: under the lock
	}
	if n < lv.leftUntil {
		since := max(l.sent.Load()-lv.lastSeq, 0)
		if lv.share > 0 && lv.share < 1 {
			since = int64(float64(since) / lv.share)
		}
		if lv.lastLeft-since-l.queued.Load() < c {
			return fastTake{}, false
		}
	}
	burst := lv.burstNs
	if float64(c) > lv.burst {
		burst = int64(math.Round(float64(c) * lv.pace))
	}
	step := int64(math.Round(float64(c) * lv.pace))
	for range 4 {
		old := l.word.Load()
		if old>>fastOffBits != v.gen {
			return fastTake{}, false
		}
		tat := max(v.base+int64(old&fastOffMask), n) + step
		slot := max(n, tat-burst)
		if slot-n >= int64(quotaSlack) || slot >= lv.until || tat-lv.burstNs > lv.until || tat-v.base > fastOffMask {
			return fastTake{}, false
		}
		t = fastTake{old: old, new: v.gen<<fastOffBits | uint64(tat-v.base), tat: tat}
		if l.word.CompareAndSwap(old, t.new) {
			return t, true
		}
	}
	return fastTake{}, false
}

// closeFast takes the lanes' tats back from their words and stops calls
// taking slots without the lock. q.mu must be held.
func (q *quota) closeFast() {
	v := q.view.Load()
	if v == nil {
		return
	}
	q.view.Store(nil)
	for _, x := range q.viewed(v) {
		w := x.l.word.Swap(fastClosed << fastOffBits)
		if x.lv.paced && w>>fastOffBits == v.gen {
			x.l.tat = max(v.base+int64(w&fastOffMask), x.l.tat)
		}
	}
}

// openFast publishes the lanes' schedules, at n, for calls to take their
// slots without the lock, when the quota is far from spent and each lane
// is either paced within its window or has never been told one; the view
// published last is published again when nothing it holds changed.
// q.mu must be held, and the lanes closed (closeFast).
func (q *quota) openFast(n int64) {
	if !q.fastFar || q.noFast {
		return
	}
	v := quotaView{base: n - fastBefore}
	if last := q.lastView; last != nil && n-last.base < fastOffMask/2 {
		v.base = last.base
	}
	for _, x := range q.viewed(&v) {
		l := x.l
		switch {
		case !l.paced && l.until == 0:
			continue
		case !l.paced || n >= l.until || l.tat-v.base > fastOffMask:
			return
		}
		*x.lv = laneView{paced: true, until: l.until, pace: l.pace, burst: l.burst,
			burstNs: int64(math.Round(l.burst * l.pace)), lastLeft: l.lastLeft, lastSeq: l.lastSeq, share: l.share}
		if !l.refills && l.lastSeq != 0 && l.lastReset > 0 {
			x.lv.leftUntil = l.lastSent + l.lastReset
		}
	}
	p := q.lastView
	if p == nil || p.base != v.base || p.req != v.req || p.tok != v.tok {
		q.fastGen = (q.fastGen + 1) % fastClosed
		v.gen = q.fastGen
		p = new(quotaView)
		*p = v // (v stays on the stack when the last view is published again)
		q.lastView = p
	}
	for _, x := range q.viewed(p) {
		if x.lv.paced {
			x.l.word.Store(p.gen<<fastOffBits | uint64(max(x.l.tat-p.base, 0)))
		}
	}
	q.view.Store(p)
}

// viewedLane is a lane and a view's of it.
type viewedLane struct {
	l  *lane
	lv *laneView
}

// viewed pairs q's lanes with v's views of them.
func (q *quota) viewed(v *quotaView) [2]viewedLane {
	return [2]viewedLane{{&q.req, &v.req}, {&q.tok, &v.tok}}
}
