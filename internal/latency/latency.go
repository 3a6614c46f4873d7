// Package latency keeps a cheap, decaying estimate of a latency
// distribution, to read its quantiles (a key's recent p95).
package latency

import (
	"math"
	"sync/atomic"
	"time"
)

// Buckets are log-linear: sub buckets per doubling, from 1 ms, so that a
// quantile is read within about 1/sub of its value (19% with sub = 4).
const (
	sub     = 4
	buckets = 64 // 16 doublings: 1 ms to 65 s
	base    = time.Millisecond
)

// halfLife is how many samples pass before the weight of the older ones is
// halved: the estimate follows the last few hundred answers.
const halfLife = 512

// Histogram is a decaying histogram of durations. The zero value is empty
// and ready to use; it is safe for concurrent use, and Observe takes no lock
// and allocates nothing.
type Histogram struct {
	counts [buckets]atomic.Uint32
	n      atomic.Uint32 // samples since the counts were last halved
	total  atomic.Uint32 // samples held (after decay), roughly
}

// bucketOf returns the bucket of d.
func bucketOf(d time.Duration) int {
	if d < base {
		return 0
	}
	f, exp := math.Frexp(float64(d) / float64(base)) // f in [0.5, 1)
	e := exp - 1
	m := int((2*f - 1) * sub)
	return min(e*sub+m, buckets-1)
}

// upper returns the upper bound of bucket i.
func upper(i int) time.Duration {
	e, m := i/sub, i%sub
	v := math.Ldexp(1+float64(m+1)/sub, e)
	return time.Duration(v * float64(base))
}

// Observe records one sample.
func (h *Histogram) Observe(d time.Duration) {
	h.counts[bucketOf(d)].Add(1)
	h.total.Add(1)
	if h.n.Add(1) == halfLife {
		h.n.Store(0)
		var total uint32
		for i := range h.counts {
			// Halving under concurrent Adds may lose a sample or two: an
			// estimate can afford it.
			c := h.counts[i].Load() / 2
			h.counts[i].Store(c)
			total += c
		}
		h.total.Store(total)
	}
}

// Count returns about how many samples the estimate holds.
func (h *Histogram) Count() int { return int(h.total.Load()) }

// Quantile returns the upper bound of the bucket holding the q-quantile of
// the samples held, or zero when there are none.
func (h *Histogram) Quantile(q float64) time.Duration {
	var c [buckets]uint32
	var total uint64
	for i := range h.counts {
		c[i] = h.counts[i].Load()
		total += uint64(c[i])
	}
	if total == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(total)))
	var cum uint64
	for i, n := range c {
		if cum += uint64(n); cum >= rank && n > 0 {
			return upper(i)
		}
	}
	return upper(buckets - 1)
}
