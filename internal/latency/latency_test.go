package latency

import (
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBuckets(t *testing.T) {
	prev := time.Duration(0)
	for i := range buckets {
		u := upper(i)
		if u <= prev {
			t.Fatalf("upper(%d) = %v, not above upper(%d) = %v", i, u, i-1, prev)
		}
		prev = u
	}
	for _, d := range []time.Duration{0, time.Microsecond, time.Millisecond, 1500 * time.Microsecond, 50 * time.Millisecond, 999 * time.Millisecond, time.Second, time.Hour} {
		i := bucketOf(d)
		if i < buckets-1 && d >= upper(i) {
			t.Errorf("%v in bucket %d, whose upper bound is %v", d, i, upper(i))
		}
		if i > 0 && d < upper(i-1) {
			t.Errorf("%v in bucket %d, but below bucket %d's upper bound %v", d, i, i-1, upper(i-1))
		}
	}
}

func TestQuantile(t *testing.T) {
	var h Histogram
	if q := h.Quantile(0.95); q != 0 {
		t.Fatalf("empty histogram's p95 = %v", q)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var all []time.Duration
	for range 2000 {
		d := time.Duration(float64(50*time.Millisecond) * (0.5 + r.Float64()))
		all = append(all, d)
		h.Observe(d)
	}
	slices.Sort(all)
	want := all[len(all)*95/100]
	got := h.Quantile(0.95)
	if got < want || got > want*5/4 {
		t.Fatalf("p95 = %v, want within [%v, %v]", got, want, want*5/4)
	}
	if n := h.Count(); n < halfLife || n > 2*halfLife {
		t.Fatalf("Count = %d, want between %d and %d after decay", n, halfLife, 2*halfLife)
	}
}

func TestDecayFollowsChange(t *testing.T) {
	var h Histogram
	for range 1000 {
		h.Observe(10 * time.Millisecond)
	}
	for range 1000 {
		h.Observe(200 * time.Millisecond)
	}
	if got := h.Quantile(0.5); got < 200*time.Millisecond {
		t.Fatalf("median %v still follows the old samples", got)
	}
}

func TestConcurrent(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				h.Observe(time.Duration(g*1000+i) * time.Microsecond)
				_ = h.Quantile(0.95)
			}
		}()
	}
	wg.Wait()
	if h.Count() == 0 {
		t.Fatal("no samples")
	}
}

func BenchmarkObserve(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		h.Observe(time.Duration(i%1000) * time.Millisecond)
	}
}
