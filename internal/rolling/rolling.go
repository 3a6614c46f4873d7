// Package rolling counts events over a sliding window of time, lock-free:
// the window is a ring of buckets, each stamped with the time slot it
// counts, so that adding to a bucket of the current slot costs two atomic
// operations and no clock read (the caller passes the time in).
package rolling

import (
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
	buckets [Buckets]bucket
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

// Max returns the largest count of one complete bucket among the window's
// buckets before now's own that begin at since or later (empty buckets
// count as zero); a zero since takes every bucket of the window.
func (w *Window) Max(now, since time.Time) int64 {
	slot := now.UnixNano() / w.width
	from := slot - Buckets + 1
	if !since.IsZero() {
		from = max(from, (since.UnixNano()+w.width-1)/w.width)
	}
	var m int64
	for i := range w.buckets {
		b := &w.buckets[i]
		if s := b.slot.Load(); s >= from && s < slot {
			m = max(m, b.n.Load())
		}
	}
	return m
}

// Prev returns the count of the bucket just before now's, zero if it
// counted nothing.
func (w *Window) Prev(now time.Time) int64 {
	slot := now.UnixNano()/w.width - 1
	i := slot % Buckets
	if i < 0 {
		i += Buckets
	}
	b := &w.buckets[i]
	if b.slot.Load() != slot {
		return 0
	}
	return b.n.Load()
}

// Reset forgets every count.
func (w *Window) Reset() {
	w.rotate.Lock()
	for i := range w.buckets {
		w.buckets[i].n.Store(0)
		w.buckets[i].slot.Store(0)
	}
	w.rotate.Unlock()
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
			if s < slot { // never let a late caller wipe a newer slot
				b.n.Store(0)
				b.slot.Store(slot)
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
