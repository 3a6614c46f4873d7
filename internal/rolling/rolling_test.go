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
	if got := w.Max(t0.Add(250*time.Millisecond), time.Time{}); got != 5 {
		t.Fatalf("Max = %d, want 5 (the first bucket)", got)
	}
	if got := w.Max(t0.Add(250*time.Millisecond), t0.Add(50*time.Millisecond)); got != 4 {
		t.Fatalf("Max since the second bucket = %d, want 4", got)
	}
	if got := w.Max(t0.Add(250*time.Millisecond), t0.Add(100*time.Millisecond)); got != 4 {
		t.Fatalf("Max since the second bucket's start = %d, want 4", got)
	}
	if got := w.Max(t0.Add(150*time.Millisecond), time.Time{}); got != 5 {
		t.Fatalf("Max ignores the current bucket: got %d, want 5", got)
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
