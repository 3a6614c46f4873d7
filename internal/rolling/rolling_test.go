package rolling

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestWindowSlides(t *testing.T) {
	var w Window
	w.Init(time.Second) // 100 ms buckets
	t0 := time.Unix(1000, 0)
	w.Add(t0, 3)
	w.Add(t0.Add(50*time.Millisecond), 2)
	w.Add(t0.Add(150*time.Millisecond), 4)
	if got := w.Sum(t0.Add(150 * time.Millisecond)); got != 9 {
		t.Fatalf("Sum = %d, want 9", got)
	}
	// Slots are counted in bucket widths since the epoch: t0 is 10000.
	if sum, n := w.Between(10000, 10001); sum != 9 || n != 2 {
		t.Fatalf("Between = %d over %d buckets, want 9 over 2", sum, n)
	}
	if sum, n := w.Between(10001, 10005); sum != 4 || n != 1 {
		t.Fatalf("Between from the second bucket = %d over %d, want 4 over 1 (empty buckets do not count)", sum, n)
	}
	var other Window
	other.Init(time.Second)
	other.Add(t0, 4)
	if m, ok := w.MaxLess(&other, 10000, 10001); !ok || m != 4 {
		t.Fatalf("MaxLess = %d, %v; want 4 (5−4 in the first bucket, 4−0 in the second)", m, ok)
	}
	if _, ok := w.MaxLess(&other, 10002, 10005); ok {
		t.Fatal("MaxLess over buckets that counted nothing reports one")
	}
	// After the span the first bucket is out of the window.
	if got := w.Sum(t0.Add(time.Second)); got != 4 {
		t.Fatalf("Sum a span later = %d, want 4", got)
	}
	if got := w.Sum(t0.Add(2 * time.Second)); got != 0 {
		t.Fatalf("Sum two spans later = %d, want 0", got)
	}
	// A late caller does not wipe a newer slot.
	w.Add(t0.Add(1100*time.Millisecond), 1) // reuses the ring slot of t0+100ms
	w.Add(t0.Add(100*time.Millisecond), 7)  // too old: dropped
	if got := w.Sum(t0.Add(1100 * time.Millisecond)); got != 1 {
		t.Fatalf("Sum = %d, want 1 (the late add is dropped)", got)
	}
	w.Reset()
	if got := w.Sum(t0.Add(1100 * time.Millisecond)); got != 0 {
		t.Fatalf("Sum after Reset = %d", got)
	}
}

func TestWindowConcurrent(t *testing.T) {
	var w Window
	w.Init(10 * time.Second)
	now := time.Unix(5000, 0)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				w.Add(now, 1)
			}
		}()
	}
	wg.Wait()
	if got := w.Sum(now); got != 8000 {
		t.Fatalf("Sum = %d, want 8000", got)
	}
}
