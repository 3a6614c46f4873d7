// Package rolling counts events over a sliding window of time, lock-free:
// the window is a ring of buckets, each stamped with the time slot it
// counts, so that adding to a bucket of the current slot costs two atomic
// operations and no clock read (the caller passes the time in).
package rolling

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Buckets is how many slices a Window is counted in.
const Buckets = 10

// Window counts events over the last Span, in Buckets slices. The zero
// Window is not usable; call Init first. It is safe for concurrent use.
type Window struct {
	width   int64 // bucket width in nanoseconds
	late    int64 // slots behind head past which a time means the clock went back
	buckets [Buckets]bucket
	head    atomic.Int64 // the newest slot a bucket was rotated to; written under rotate
	rotate  sync.Mutex
}

type bucket struct {
	slot atomic.Int64 // which time slot the count belongs to
	n    atomic.Int64
}

// Init sets the window's span; a span below Buckets nanoseconds counts as
// Buckets nanoseconds.
func (w *Window) Init(span time.Duration) {
	w.width = max(int64(span)/Buckets, 1)
	// A caller this far behind the newest count was not merely scheduled
	// late: the wall clock was stepped back (slots are wall-clock time).
	w.late = max(2*Buckets, (int64(time.Second)+w.width-1)/w.width)
}

// Width returns the width of one bucket.
func (w *Window) Width() time.Duration { return time.Duration(w.width) }

// Add adds n events at now.
func (w *Window) Add(now time.Time, n int64) {
	w.current(now).n.Add(n)
}

// Sum returns the events of the buckets whose slots fall in the window
// ending at now.
func (w *Window) Sum(now time.Time) int64 {
	slot := now.UnixNano() / w.width
	var sum int64
	for i := range w.buckets {
		b := &w.buckets[i]
		if s := b.slot.Load(); s > slot-Buckets && s <= slot {
			sum += b.n.Load()
		}
	}
	return sum
}

// Between returns the events of the buckets whose time slots, counted in
// bucket widths since the Unix epoch, lie in [first, last] and are still in
// the ring, and how many such buckets counted any.
func (w *Window) Between(first, last int64) (sum int64, buckets int) {
	for i := range w.buckets {
		b := &w.buckets[i]
		if s := b.slot.Load(); s >= first && s <= last {
			sum += b.n.Load()
			buckets++
		}
	}
	return sum, buckets
}

// MaxLess returns the largest of w's count less other's count of the same
// slot, over the slots in [first, last] that w still counts; ok is false
// when there is none. The two windows must have the same width.
func (w *Window) MaxLess(other *Window, first, last int64) (m int64, ok bool) {
	for i := range w.buckets {
		b := &w.buckets[i]
		s := b.slot.Load()
		if s < first || s > last {
			continue
		}
		n := b.n.Load()
		if o := &other.buckets[i]; o.slot.Load() == s {
			n -= o.n.Load()
		}
		if !ok || n > m {
			m, ok = n, true
		}
	}
	return m, ok
}

// Reset forgets every count.
func (w *Window) Reset() {
	w.rotate.Lock()
	w.resetLocked()
	w.rotate.Unlock()
}

func (w *Window) resetLocked() {
	for i := range w.buckets {
		w.buckets[i].n.Store(0)
		w.buckets[i].slot.Store(0)
	}
	w.head.Store(0)
}

// current returns the bucket of now's slot, clearing it first if it last
// counted an older slot.
func (w *Window) current(now time.Time) *bucket {
	slot := now.UnixNano() / w.width
	i := slot % Buckets
	if i < 0 { // a time before 1970
		i += Buckets
	}
	b := &w.buckets[i]
	if b.slot.Load() != slot {
		w.rotate.Lock()
		if s := b.slot.Load(); s != slot {
			if s > slot && w.head.Load()-slot >= w.late {
				// The clock went back by more than a late caller can be
				// late: what was counted lies in its future. Count
				// afresh from now rather than drop every count until
				// the clock catches up with the ring.
				w.resetLocked()
				w.head.Store(slot)
				s = math.MinInt64
			}
			if s < slot { // never let a late caller wipe a newer slot
				b.n.Store(0)
				b.slot.Store(slot)
				if slot > w.head.Load() {
					w.head.Store(slot)
				}
			}
		}
		w.rotate.Unlock()
		if b.slot.Load() != slot {
			return &discard
		}
	}
	return b
}

// discard takes the counts of callers whose time has already left the ring.
var discard bucket
