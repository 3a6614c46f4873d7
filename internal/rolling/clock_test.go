package rolling

import (
	"testing"
	"time"
)

// After the wall clock is stepped back by more than a span, counts made at
// the new time must be counted, not dropped until the clock catches up.
func TestClockSteppedBack(t *testing.T) {
	var w Window
	w.Init(10 * time.Second)
	t0 := time.Unix(1_700_003_600, 0)
	w.Add(t0, 5)
	back := t0.Add(-time.Hour)
	for range 3 {
		w.Add(back, 1)
	}
	if got := w.Sum(back); got != 3 {
		t.Fatalf("Sum after the clock stepped back an hour = %d, want 3 (the adds since)", got)
	}
	// A caller merely late (by one span) is still dropped.
	var v Window
	v.Init(time.Second)
	v.Add(t0.Add(1100*time.Millisecond), 1)
	v.Add(t0.Add(100*time.Millisecond), 7)
	if got := v.Sum(t0.Add(1100 * time.Millisecond)); got != 1 {
		t.Fatalf("Sum = %d, want 1 (the late add is dropped)", got)
	}
}
