package retry

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent Withdraws must not grant more retries than the budget allows:
// with no calls and a floor of 1, one retry in all.
func TestWithdrawConcurrentOvergrant(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	worst := 0
	for trial := 0; trial < 500; trial++ {
		a := NewAccount(Budget{Ratio: 1e-9, MinRetries: 1, Window: time.Minute})
		s := a.NewShare()
		var granted atomic.Int64
		var start, wg sync.WaitGroup
		start.Add(1)
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				start.Wait()
				if a.Withdraw(s, now) {
					granted.Add(1)
				}
			}()
		}
		start.Done()
		wg.Wait()
		if g := int(granted.Load()); g > worst {
			worst = g
		}
	}
	if worst > 1 {
		t.Fatalf("a budget of 1 retry granted %d concurrent retries", worst)
	}
}

// A wall clock stepped back (NTP) by more than the window must not switch
// the budget off: the rings count in wall-clock slots, and every count made
// after the step fell into a slot older than the ring's, so it was dropped
// and every Sum was zero for as long as the step (an hour here).
func TestBudgetClockSteppedBack(t *testing.T) {
	a := NewAccount(Budget{Ratio: 0.1, MinRetries: 2, Window: 10 * time.Second})
	later := time.Unix(1_700_003_600, 0)
	for range 10 {
		a.Deposit(nil, later)
	}
	a.Withdraw(nil, later)
	now := later.Add(-time.Hour) // the clock is stepped back an hour
	granted := 0
	for range 100 {
		a.Deposit(nil, now)
		if a.Withdraw(nil, now) {
			granted++
		}
	}
	// 100 calls at most allow 0.1·100 + 2 = 12 retries in a window.
	if granted > 12 {
		t.Fatalf("after the clock stepped back, %d of 100 retries were granted for 100 calls; the budget allows 12", granted)
	}
}

// Validate accepts any finite positive Ratio and any MinRetries; Stats must
// not report a negative allowance for them (int64 of a float past its range,
// and floor + allowance overflowing).
func TestStatsAllowedOverflow(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, b := range []Budget{
		{Ratio: 1e300, MinRetries: 1},
		{Ratio: 1, MinRetries: math.MaxInt},
	} {
		if err := (Policy{Budget: b}).Validate(); err != nil {
			t.Fatalf("%+v: %v", b, err)
		}
		a := NewAccount(b)
		a.Deposit(nil, now)
		a.Deposit(nil, now)
		if !a.Withdraw(nil, now) {
			t.Fatalf("%+v: a retry was refused", b)
		}
		if st := a.Stats(now); st.WindowAllowed < st.WindowRetries {
			t.Errorf("%+v: WindowAllowed = %d, below the %d retries it granted", b, st.WindowAllowed, st.WindowRetries)
		}
	}
}
