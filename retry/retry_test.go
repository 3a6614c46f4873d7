package retry

import (
	"errors"
	"math"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		ok   bool
	}{
		{"zero is the default", Policy{}, true},
		{"one attempt", Policy{MaxAttempts: 1}, true},
		{"negative attempts", Policy{MaxAttempts: -1}, false},
		{"negative initial", Policy{InitialInterval: -time.Second}, false},
		{"cap below initial", Policy{InitialInterval: 2 * time.Second, MaxInterval: time.Second}, false},
		{"initial above default cap is fine", Policy{InitialInterval: 10 * time.Second}, true},
		{"multiplier below one", Policy{Multiplier: 0.5}, false},
		{"multiplier NaN", Policy{Multiplier: math.NaN()}, false},
		{"negative hint cap", Policy{MaxHint: -1}, false},
		{"negative attempt timeout", Policy{AttemptTimeout: -1}, false},
		{"negative ratio", Policy{Budget: Budget{Ratio: -0.1}}, false},
		{"infinite ratio", Policy{Budget: Budget{Ratio: math.Inf(1)}}, false},
		{"negative floor", Policy{Budget: Budget{MinRetries: -1}}, false},
		{"tiny window", Policy{Budget: Budget{Window: time.Millisecond}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("error %v does not wrap ErrInvalidPolicy", err)
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	p := Policy{}.WithDefaults()
	want := Policy{MaxAttempts: 4, InitialInterval: 500 * time.Millisecond, MaxInterval: 8 * time.Second,
		Multiplier: 2, MaxHint: time.Minute, MaxBodyBuffer: 4 << 20,
		Budget: Budget{Ratio: 0.2, MinRetries: 10, Window: 10 * time.Second}}
	if p != want {
		t.Fatalf("defaults\n got %+v\nwant %+v", p, want)
	}
}

// maxRand makes the jitter draw its largest value, so tests see ceilings.
func maxRand(n int64) int64 { return n - 1 }

func TestBackoffCeilingsGrowAndCap(t *testing.T) {
	p := Policy{MaxAttempts: 10}.WithDefaults()
	s := p.Start()
	s.rnd = maxRand
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second}
	for i, w := range want {
		s.Attempted()
		got, stop := s.Next(0, -1)
		if stop != Continue || got != w {
			t.Fatalf("retry %d: got %v %v, want %v", i+1, got, stop, w)
		}
	}
}

func TestFullJitterStaysWithinCeiling(t *testing.T) {
	p := Policy{MaxAttempts: 1000}.WithDefaults()
	s := p.Start()
	var sawLow bool
	for i := 0; i < 200; i++ {
		s.Attempted()
		d, stop := s.Next(0, -1)
		if stop != Continue || d < 0 || d > p.MaxInterval {
			t.Fatalf("retry %d: %v %v outside [0, %v]", i, d, stop, p.MaxInterval)
		}
		if d < p.MaxInterval/2 {
			sawLow = true
		}
	}
	if !sawLow {
		t.Fatal("200 full-jitter draws never fell below half the ceiling")
	}
}

func TestNext(t *testing.T) {
	p := Policy{MaxAttempts: 3, MaxHint: 10 * time.Second}.WithDefaults()
	for _, tc := range []struct {
		name      string
		attempts  int
		hint      time.Duration
		left      time.Duration
		wantStop  Stop
		min, max_ time.Duration
	}{
		{"hint honoured, never earlier", 1, 2 * time.Second, -1, Continue, 2 * time.Second, 2*time.Second + 200*time.Millisecond},
		{"small hint jitter capped at 10%", 1, 100 * time.Millisecond, -1, Continue, 100 * time.Millisecond, 110 * time.Millisecond},
		{"large hint jitter capped", 1, 9 * time.Second, -1, Continue, 9 * time.Second, 9*time.Second + maxHintJitter},
		{"hint over cap", 1, 11 * time.Second, -1, StopHintTooLong, 0, 0},
		{"hour-long hint", 1, time.Hour, -1, StopHintTooLong, 0, 0},
		{"hint past deadline", 1, 2 * time.Second, time.Second, StopDeadline, 0, 0},
		{"hint just fits, no jitter past deadline", 1, time.Second, time.Second, Continue, time.Second, time.Second},
		{"backoff past deadline", 1, 0, 0, StopDeadline, 0, 0},
		{"attempts exhausted", 3, 0, -1, StopAttempts, 0, 0},
		{"attempts exhausted beats hint", 3, time.Second, -1, StopAttempts, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := p.Start()
			s.rnd = maxRand
			for i := 0; i < tc.attempts; i++ {
				s.Attempted()
			}
			got, stop := s.Next(tc.hint, tc.left)
			if stop != tc.wantStop {
				t.Fatalf("stop = %v, want %v", stop, tc.wantStop)
			}
			if got < tc.min || got > tc.max_ {
				t.Fatalf("wait %v outside [%v, %v]", got, tc.min, tc.max_)
			}
		})
	}
}

func TestBudgetRatioAndFloor(t *testing.T) {
	a := NewAccount(Budget{Ratio: 0.2, MinRetries: 3, Window: 10 * time.Second})
	now := time.Unix(1_000_000, 0)
	for i := 0; i < 100; i++ {
		a.Deposit(nil, now)
	}
	granted := 0
	for a.Withdraw(nil, now) {
		granted++
		if granted > 1000 {
			t.Fatal("budget never ran out")
		}
	}
	if granted != 23 { // 0.2 × 100 + 3
		t.Fatalf("granted %d retries, want 23", granted)
	}
	st := a.Stats(now)
	if st.Calls != 100 || st.Retries != 23 || st.Denied != 1 || st.WindowAllowed != 23 {
		t.Fatalf("stats %+v", st)
	}
	// Once the window has passed, the old calls no longer pay for retries:
	// only the floor remains.
	later := now.Add(11 * time.Second)
	granted = 0
	for a.Withdraw(nil, later) {
		granted++
	}
	if granted != 3 {
		t.Fatalf("after the window: granted %d, want the floor 3", granted)
	}
}

// A key that keeps failing spends its own share, Ratio of its calls and the
// floor, and not the retries the other keys' calls bring in: the other
// key's retries still go; the Account's bound holds over both.
func TestBudgetShares(t *testing.T) {
	a := NewAccount(Budget{Ratio: 0.2, MinRetries: 3, Window: 10 * time.Second})
	failing, healthy := a.NewShare(), a.NewShare()
	now := time.Unix(1_000_000, 0)
	for i := range 200 {
		if i%2 == 0 {
			a.Deposit(failing, now)
		} else {
			a.Deposit(healthy, now)
		}
	}
	granted := 0
	for a.Withdraw(failing, now) {
		granted++
		if granted > 1000 {
			t.Fatal("the failing key's share never ran out")
		}
	}
	if granted != 23 { // 0.2 × its 100 calls + 3, not 0.2 × 200 + 3
		t.Fatalf("the failing key got %d retries, want 23", granted)
	}
	granted = 0
	for a.Withdraw(healthy, now) {
		granted++
	}
	if granted != 20 { // what is left of the Account's 43
		t.Fatalf("the healthy key got %d retries, want the 20 left of the Account's bound", granted)
	}
	if st := a.Stats(now); st.WindowRetries != 43 || st.WindowAllowed != 43 {
		t.Fatalf("stats %+v: want 43 retries of 43 allowed", st)
	}
	// A refund gives back to the share as well as to the Account.
	a.Refund(failing, now)
	if !a.Withdraw(failing, now) {
		t.Fatal("after a refund the failing key's share has room for one")
	}
	if a.Withdraw(failing, now) {
		t.Fatal("a second retry past the refund was granted")
	}
	var none *Account
	if s := none.NewShare(); s != nil || !none.Withdraw(s, now) {
		t.Fatal("no budget: a nil share, and every retry allowed")
	}
}

func TestBudgetRefundsSuccessfulRetries(t *testing.T) {
	a := NewAccount(Budget{Ratio: 0.1, MinRetries: 1, Window: 10 * time.Second})
	now := time.Unix(1_000_000, 0)
	for range 100 {
		a.Deposit(nil, now)
	}
	// 11 retries are allowed while they fail; refunded ones do not count.
	granted := 0
	for range 1000 {
		if !a.Withdraw(nil, now) {
			break
		}
		granted++
		if granted%2 == 0 {
			a.Refund(nil, now) // every other retry succeeds
		}
	}
	if granted != 21 { // 11 failed, 10 refunded: the 22nd would be the 12th failure
		t.Fatalf("granted %d retries with every other one refunded, want 21", granted)
	}
	if st := a.Stats(now); st.Refunded != 10 || st.Retries != 21 || st.WindowRetries != 11 {
		t.Fatalf("stats %+v", st)
	}
	var nilAccount *Account
	nilAccount.Refund(nil, now) // no budget: nothing to refund, no panic
}

func TestBudgetSlidesBucketByBucket(t *testing.T) {
	a := NewAccount(Budget{Ratio: 1, MinRetries: 1, Window: 10 * time.Second})
	t0 := time.Unix(1_000_000, 0)
	for i := 0; i < 10; i++ {
		a.Deposit(nil, t0.Add(time.Duration(i)*time.Second)) // one call per second
	}
	if st := a.Stats(t0.Add(9 * time.Second)); st.WindowCalls != 10 {
		t.Fatalf("window calls %d, want 10", st.WindowCalls)
	}
	if st := a.Stats(t0.Add(14 * time.Second)); st.WindowCalls != 5 {
		t.Fatalf("5 s later: window calls %d, want 5", st.WindowCalls)
	}
}

func TestBudgetConcurrent(t *testing.T) {
	a := NewAccount(Budget{})
	now := time.Unix(1_000_000, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				a.Deposit(nil, now)
				if a.Withdraw(nil, now) {
					mu.Lock()
					granted++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if max := int(0.2*4000) + 10; granted > max {
		t.Fatalf("granted %d > %d", granted, max)
	}
}

func TestNilAccountAllowsAll(t *testing.T) {
	a := NewAccount(Budget{Disabled: true})
	if a != nil {
		t.Fatal("Disabled budget returned an Account")
	}
	a.Deposit(nil, time.Now())
	if !a.Withdraw(nil, time.Now()) {
		t.Fatal("nil Account refused a retry")
	}
}

func BenchmarkDeposit(b *testing.B) {
	a := NewAccount(Budget{})
	now := time.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.Deposit(nil, now)
		}
	})
}

// TestHugeDurations: durations and multipliers that Validate accepts, however
// large, saturate instead of panicking or overflowing into a negative wait.
func TestHugeDurations(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
	}{
		{"largest initial interval", Policy{InitialInterval: math.MaxInt64}},
		{"largest cap, huge multiplier", Policy{MaxInterval: math.MaxInt64, Multiplier: 1e300}},
		{"largest cap, infinite multiplier", Policy{MaxInterval: math.MaxInt64, Multiplier: math.Inf(1)}},
		{"largest everything", Policy{InitialInterval: math.MaxInt64, MaxInterval: math.MaxInt64, Multiplier: math.MaxFloat64,
			MaxHint: math.MaxInt64, MaxBodyBuffer: math.MaxInt64, AttemptTimeout: math.MaxInt64}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.p.Validate(); err != nil {
				t.Fatalf("Validate() = %v", err)
			}
			p := tc.p.WithDefaults()
			p.MaxAttempts = 100
			for _, rnd := range []func(int64) int64{maxRand, func(int64) int64 { return 0 }, nil} {
				s := p.Start()
				if rnd != nil {
					s.rnd = rnd
				}
				var last time.Duration
				for i := 0; i < 70; i++ {
					s.Attempted()
					d, stop := s.Next(0, -1)
					if stop != Continue || d < 0 || d > p.MaxInterval {
						t.Fatalf("retry %d: %v %v outside [0, %v]", i+1, d, stop, p.MaxInterval)
					}
					if rnd != nil && rnd(2) == 1 && d < last { // the largest draws are the ceilings: they never shrink
						t.Fatalf("retry %d: ceiling %v after %v", i+1, d, last)
					}
					last = d
				}
			}
		})
	}
	p := Policy{MaxHint: math.MaxInt64, MaxAttempts: 3}.WithDefaults()
	s := p.Start()
	s.rnd = maxRand
	s.Attempted()
	for _, hint := range []time.Duration{math.MaxInt64, math.MaxInt64 - time.Millisecond} {
		if d, stop := s.Next(hint, -1); stop != Continue || d < hint {
			t.Errorf("Next(%v) = %v, %v; want at least the hint", hint, d, stop)
		}
	}
}
