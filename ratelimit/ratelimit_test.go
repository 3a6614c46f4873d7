package ratelimit

import (
	"context"
	"errors"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/internal/registry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const k = "api.example.com/gpt-4o"

func newSet(t testing.TB, l Limits) *Set {
	t.Helper()
	s, err := New(l)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// A step is one Reserve at t0+at on key (k if empty), whose Delay must be
// want, cancelled at once when cancel is set.
type step struct {
	at     time.Duration
	key    string
	want   time.Duration
	cancel bool
}

func run(t *testing.T, s *Set, steps []step) {
	t.Helper()
	var clock time.Time
	s.now = func() time.Time { return clock }
	for i, st := range steps {
		clock = t0.Add(st.at)
		key := st.key
		if key == "" {
			key = k
		}
		r := s.Reserve(key, clock)
		if got := r.Delay(); got != st.want {
			t.Errorf("step %d: Reserve(%q) at +%v: Delay %v, want %v", i, key, st.at, got, st.want)
		}
		if st.cancel {
			r.Cancel(clock)
		}
	}
}

func TestSteps(t *testing.T) {
	const s = time.Second
	ms := time.Millisecond
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"burst then delays at rate", Limits{Default: Limit{Rate: 1, Burst: 3}}, []step{
			{}, {}, {}, {want: 1 * s}, {want: 2 * s},
			{at: 5 * s}, {at: 5 * s}, {at: 5 * s}, {at: 5 * s, want: 1 * s},
		}},
		{"burst defaults to ceil(rate)", Limits{Default: PerMinute(120)}, []step{
			{}, {}, {want: 500 * ms}, {want: 1000 * ms}, {at: 3 * s}, {at: 3 * s}, {at: 3 * s, want: 500 * ms},
		}},
		{"a slow rate has burst 1", Limits{Default: PerMinute(30)}, []step{
			{}, {want: 2 * s}, {want: 4 * s}, {at: 1 * s, want: 5 * s},
		}},
		{"cancel gives the slot back", Limits{Default: Limit{Rate: 1, Burst: 1}}, []step{
			{}, {want: 1 * s, cancel: true}, {want: 1 * s}, {want: 2 * s},
		}},
		{"keys are independent", Limits{Default: Limit{Rate: 1, Burst: 1}}, []step{
			{key: "h/a"}, {key: "h/a", want: 1 * s}, {key: "h/b"}, {key: "h"},
		}},
		{"rule exempts a key from the default", Limits{
			Default: Limit{Rate: 1, Burst: 1},
			Rules:   []Rule{{Pattern: "h/free"}},
		}, []step{
			{key: "h/free"}, {key: "h/free"}, {key: "h/free"}, {key: "h/paid"}, {key: "h/paid", want: 1 * s},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			run(t, newSet(t, tt.limits), tt.steps)
		})
	}
}

func rps(r float64) Limit { return Limit{Rate: rate.Limit(r)} }

func TestRuleMatching(t *testing.T) {
	s := newSet(t, Limits{
		Default: rps(9),
		Rules: []Rule{
			{Pattern: "api.openai.com/gpt-4o-mini", Limit: rps(1)},
			{Pattern: "*/gpt-4o*", Limit: rps(2)},
			{Pattern: "api.openai.com/*", Limit: rps(3)},
			{Pattern: "api.together.xyz/meta-llama/*", Limit: rps(4)},
			{Pattern: "*llama*", Limit: rps(5)},
			{Pattern: "api.anthropic.com", Limit: rps(6)},
		},
	})
	tests := []struct {
		key  string
		want float64
	}{
		{"api.openai.com/gpt-4o-mini", 1}, // matches 1, 2 and 3: the first wins
		{"api.openai.com/gpt-4o", 2},
		{"azure.example.com/gpt-4o-2024-08-06", 2},
		{"api.openai.com/o3", 3},
		{"api.openai.com", 9}, // "api.openai.com/*" needs the slash
		{"api.together.xyz/meta-llama/Llama-3.1-8B-Instruct", 4},
		{"api.groq.com/llama-3.1-8b", 5},
		{"api.groq.com/Llama-3.1-8b", 9}, // case-sensitive
		{"api.anthropic.com", 6},
		{"api.anthropic.com/claude-sonnet-4", 9}, // no '*': the whole key
		{"x/gpt-4", 9},
		{"", 9},
	}
	for _, tt := range tests {
		if got := s.limitFor(tt.key); got != rps(tt.want) {
			t.Errorf("limitFor(%q) = %v, want %v", tt.key, got.Rate, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		l     Limits
		wants []string // substrings of the error; none means valid
	}{
		{"zero", Limits{}, nil},
		{"full", Limits{
			Default: PerMinute(600),
			Rules: []Rule{
				{Pattern: "*/gpt-4o*", Limit: Limit{Rate: 2, Burst: 5}},
				{Pattern: "api.openai.com/*"},
				{Pattern: "*", Limit: Limit{Rate: rate.Inf}},
			},
			MaxKeys: 10, IdleTTL: time.Second,
		}, nil},
		{"negative rate", Limits{Default: Limit{Rate: -1}}, []string{"ratelimit: Default: negative Rate -1"}},
		{"NaN rate", Limits{Default: Limit{Rate: rate.Limit(math.NaN())}}, []string{"Default: invalid Rate NaN"}},
		{"negative burst", Limits{Default: Limit{Rate: 1, Burst: -2}}, []string{"Default: negative Burst -2"}},
		{"zero rate, some burst", Limits{Default: Limit{Burst: 5}}, []string{"zero Rate with Burst 5"}},
		{"empty pattern", Limits{Rules: []Rule{{Pattern: "a"}, {Pattern: ""}}}, []string{"Rules[1]: empty Pattern"}},
		{"repeated pattern", Limits{Rules: []Rule{{Pattern: "*/gpt-4o"}, {Pattern: "b"}, {Pattern: "*/gpt-4o"}}},
			[]string{`Rules[2]: Pattern "*/gpt-4o" repeats Rules[0] and can never match`}},
		{"rule limit", Limits{Rules: []Rule{{Pattern: "*", Limit: Limit{Rate: -3}}}}, []string{`Rules[0] ("*"): negative Rate -3`}},
		{"negative MaxKeys", Limits{MaxKeys: -1}, []string{"negative MaxKeys -1"}},
		{"negative IdleTTL", Limits{IdleTTL: -time.Second}, []string{"negative IdleTTL -1s"}},
		{"tokens", Limits{Default: PerMinute(500).WithTokensPerMinute(30000), Rules: []Rule{{Pattern: "a", Limit: Limit{Tokens: 5, TokenBurst: 10}}}}, nil},
		{"negative tokens", Limits{Default: Limit{Tokens: -1}}, []string{"Default: negative Tokens -1"}},
		{"infinite tokens", Limits{Default: Limit{Tokens: rate.Inf}}, []string{"Default: invalid Tokens rate.Inf"}},
		{"NaN tokens", Limits{Default: Limit{Tokens: rate.Limit(math.NaN())}}, []string{"Default: invalid Tokens NaN"}},
		{"negative token burst", Limits{Default: Limit{Tokens: 1, TokenBurst: -1}}, []string{"Default: negative TokenBurst -1"}},
		{"token burst without tokens", Limits{Default: Limit{TokenBurst: 9}}, []string{"zero Tokens with TokenBurst 9"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.l.Validate()
			if len(tt.wants) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.wants)
			}
			for _, w := range tt.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
			if s, nerr := New(tt.l); s != nil || nerr == nil || nerr.Error() != err.Error() {
				t.Errorf("New() = %v, %v; want nil and the Validate error", s, nerr)
			}
		})
	}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		l    Limits
		want bool
	}{
		{Limits{}, false},
		{Limits{Default: PerMinute(0)}, false},
		{Limits{Default: Limit{Rate: rate.Inf}}, false},
		{Limits{Rules: []Rule{{Pattern: "*"}}}, false},
		{Limits{Default: PerMinute(60)}, true},
		{Limits{Rules: []Rule{{Pattern: "a"}, {Pattern: "*", Limit: Limit{Rate: 1}}}}, true},
	}
	for i, tt := range tests {
		if got := tt.l.Enabled(); got != tt.want {
			t.Errorf("%d: %+v.Enabled() = %v, want %v", i, tt.l, got, tt.want)
		}
	}
}

func TestDefaultBurst(t *testing.T) {
	tests := []struct {
		l    Limit
		want int
	}{
		{Limit{Rate: 0.5}, 1},
		{Limit{Rate: 1}, 1},
		{Limit{Rate: 2.5}, 3},
		{Limit{Rate: 10, Burst: 4}, 4},
		{Limit{Rate: 1e20}, maxDefaultBurst},
		{PerMinute(600), 10},
	}
	for _, tt := range tests {
		if got := tt.l.burst(); got != tt.want {
			t.Errorf("%+v.burst() = %d, want %d", tt.l, got, tt.want)
		}
	}
}

// noTimer fails the test if Wait starts a timer.
func noTimer(t *testing.T) func(time.Duration) (<-chan time.Time, func() bool) {
	return func(d time.Duration) (<-chan time.Time, func() bool) {
		t.Errorf("Wait started a timer of %v", d)
		return nil, func() bool { return false }
	}
}

func TestWaitFailsAtOnceWhenTheDeadlineIsTooNear(t *testing.T) {
	for _, tt := range []struct {
		name   string
		limits Limits
		setup  func(s *Set)
	}{
		{"rate limit", Limits{Default: Limit{Rate: rate.Every(time.Hour), Burst: 1}}, func(s *Set) {
			s.Reserve(k, time.Now()) // take the only slot: the next is an hour away
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t, tt.limits)
			s.newTimer = noTimer(t)
			tt.setup(s)
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			err := s.Wait(ctx, k)
			if !errors.Is(err, ErrWouldExceedDeadline) {
				t.Fatalf("Wait = %v, want ErrWouldExceedDeadline", err)
			}
			var we *WaitError
			if !errors.As(err, &we) {
				t.Fatalf("Wait = %T, want *WaitError", err)
			}
			if we.Key != k || we.Wait <= 59*time.Minute || we.Wait > time.Hour || we.Left <= 0 || we.Left > time.Minute {
				t.Fatalf("WaitError = %+v, want key %q, wait ~1h, left ~1m", *we, k)
			}
			if msg := err.Error(); !strings.Contains(msg, k) || !strings.Contains(msg, "exceed the deadline") {
				t.Errorf("Error() = %q", msg)
			}
			// The slot was given back: the next caller waits one hour, not two.
			if d := s.Reserve(k, time.Now()).Delay(); d > time.Hour {
				t.Fatalf("Reserve after the failed Wait: Delay %v, want <= 1h", d)
			}
		})
	}
}

func TestWaitAtTheDeadline(t *testing.T) {
	base := time.Now()
	s := newSet(t, Limits{Default: Limit{Rate: rate.Every(time.Hour), Burst: 1}})
	s.now = func() time.Time { return base }
	s.Reserve(k, base) // the burst: the next slot is an hour away
	var got time.Duration
	s.newTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		got = d
		ch := make(chan time.Time, 1)
		ch <- base.Add(d)
		return ch, func() bool { return false }
	}

	ctx, cancel := context.WithDeadline(context.Background(), base.Add(time.Hour))
	defer cancel()
	if err := s.Wait(ctx, k); err != nil || got != time.Hour {
		t.Fatalf("Wait ending exactly at the deadline = %v after a timer of %v; want nil after 1h", err, got)
	}
	got = 0
	ctx, cancel = context.WithDeadline(context.Background(), base.Add(time.Hour-time.Nanosecond))
	defer cancel()
	s.Reserve(k, base) // the hour-long wait was spent: take the next one
	base = base.Add(time.Hour)
	if err := s.Wait(ctx, k); !errors.Is(err, ErrWouldExceedDeadline) || got != 0 {
		t.Fatalf("Wait ending 1ns past the deadline = %v after a timer of %v; want ErrWouldExceedDeadline, no timer", err, got)
	}
}

func TestWaitCancelled(t *testing.T) {
	s := newSet(t, Limits{Default: Limit{Rate: rate.Every(time.Hour), Burst: 1}})
	started := make(chan time.Duration, 1)
	var stopped atomic.Bool
	s.newTimer = func(d time.Duration) (<-chan time.Time, func() bool) {
		started <- d
		return make(chan time.Time), func() bool { stopped.Store(true); return true }
	}
	s.Reserve(k, time.Now())

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Wait(ctx, k) }()
	select {
	case d := <-started:
		if d <= 59*time.Minute || d > time.Hour {
			t.Errorf("timer of %v, want ~1h", d)
		}
	case err := <-done:
		t.Fatalf("Wait returned %v before waiting", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Wait never started its timer")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Wait did not return after its context was cancelled")
	}
	if !stopped.Load() {
		t.Error("Wait did not stop its timer")
	}
	if d := s.Reserve(k, time.Now()).Delay(); d > time.Hour {
		t.Fatalf("Reserve after the cancelled Wait: Delay %v, want <= 1h (slot given back)", d)
	}
}

func TestWaitRealTimer(t *testing.T) {
	s := newSet(t, Limits{Default: Limit{Rate: rate.Every(20 * time.Millisecond), Burst: 1}})
	s.Reserve(k, time.Now())
	until := time.Now().Add(20 * time.Millisecond)
	if err := s.Wait(context.Background(), k); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	// The wait is computed on the wall clock and timed on the monotonic
	// one; allow for the two drifting apart by a little.
	if now := time.Now(); now.Before(until.Add(-time.Millisecond)) {
		t.Fatalf("Wait returned %v before the slot was due", until.Sub(now))
	}
}

func TestWaitDoneContextTakesNoSlot(t *testing.T) {
	s := newSet(t, Limits{Default: Limit{Rate: rate.Every(time.Hour), Burst: 1}})
	s.newTimer = noTimer(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Wait(ctx, k); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if err := s.Wait(context.Background(), k); err != nil {
		t.Fatalf("Wait for the untouched slot = %v, want nil at once", err)
	}
}

func TestWaitOnImpossibleReservation(t *testing.T) {
	// New never builds a limiter that refuses a slot; build one by hand to
	// check that Wait does not sleep forever on it.
	s := newSet(t, Limits{})
	s.keys = registry.New(8, 0, func(string) *entry { return &entry{lim: rate.NewLimiter(1, 0)} })
	s.enabled = true
	s.newTimer = noTimer(t)
	if d := s.Reserve(k, t0).Delay(); d != rate.InfDuration {
		t.Fatalf("Delay = %v, want InfDuration", d)
	}
	var we *WaitError
	if err := s.Wait(context.Background(), k); !errors.As(err, &we) || we.Wait != rate.InfDuration {
		t.Fatalf("Wait = %v, want a *WaitError with an infinite wait", err)
	}
}

func TestConcurrentReserve(t *testing.T) {
	const keys, goroutines, perKey = 50, 20, 5
	s := newSet(t, Limits{Default: Limit{Rate: 100, Burst: 10}})
	now := t0
	delays := make([][]time.Duration, keys)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithDeadline(context.Background(), time.Now())
			defer cancel()
			for i := range keys * perKey {
				key := "h/m" + strconv.Itoa((i+g)%keys)
				d := s.Reserve(key, now).Delay()
				mu.Lock()
				delays[(i+g)%keys] = append(delays[(i+g)%keys], d)
				mu.Unlock()
				// Other keys see cancelled reservations and failed
				// Waits at the same time.
				other := "h/x" + strconv.Itoa(i%keys)
				s.Reserve(other, now).Cancel(now)
				_ = s.Wait(ctx, other)
				_ = s.Len()
			}
		}()
	}
	wg.Wait()
	// Whatever the interleaving, each key handed out the slots a
	// sequential caller would have seen: 10 at once, then one per 10ms.
	var want []time.Duration
	for i := range goroutines * perKey {
		want = append(want, time.Duration(max(0, i-9))*10*time.Millisecond)
	}
	for i, ds := range delays {
		slices.Sort(ds)
		if !slices.Equal(ds, want) {
			t.Fatalf("key %d: delays %v, want %v", i, ds, want)
		}
	}
}

func TestBoundedKeys(t *testing.T) {
	const max = 64
	for _, tt := range []struct {
		name   string
		limits Limits
		use    func(s *Set, key string, now time.Time)
	}{
		{"limited keys", Limits{Default: PerMinute(60), MaxKeys: max}, func(s *Set, key string, now time.Time) {
			s.Reserve(key, now)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := newSet(t, tt.limits)
			var now time.Time
			s.now = func() time.Time { return now }
			for i := range 100_000 {
				now = t0.Add(time.Duration(i) * time.Microsecond)
				tt.use(s, "api.example.com/model-"+strconv.Itoa(i), now)
				if n := s.Len(); n > max {
					t.Fatalf("after %d keys Len = %d > %d", i+1, n, max)
				}
			}
		})
	}
}

func TestHotPathDoesNotAllocate(t *testing.T) {
	off := newSet(t, Limits{})
	exempt := newSet(t, Limits{Default: PerMinute(60), Rules: []Rule{{Pattern: "*/free"}}})
	exempt.Reserve("h/free", t0)
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		f    func()
	}{
		{"off", func() { off.Reserve(k, t0) }},
		{"exempt key", func() { exempt.Reserve("h/free", t0) }},
		{"Wait off", func() { _ = off.Wait(ctx, k) }},
	} {
		if n := testing.AllocsPerRun(100, tt.f); n != 0 {
			t.Errorf("%s: %v allocs per Reserve, want 0", tt.name, n)
		}
	}
}

func TestReserveCost(t *testing.T) {
	s := newSet(t, Limits{Default: PerMinute(6000).WithTokensPerMinute(600), Rules: []Rule{{Pattern: "free"}}})
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	// 600 tokens at once, then 10 per second.
	if r, err := s.ReserveCost(k, now, 600); err != nil || r.Delay() != 0 {
		t.Fatalf("first 600 tokens: %v, %v", r.Delay(), err)
	}
	r, err := s.ReserveCost(k, now, 20)
	if err != nil || r.Delay() != 2*time.Second {
		t.Fatalf("next 20 tokens: %v, %v; want 2s", r.Delay(), err)
	}
	r.Cancel(now) // given back: the next 20 wait as long, not longer
	if r, _ := s.ReserveCost(k, now, 20); r.Delay() != 2*time.Second {
		t.Fatalf("after a cancel: %v, want 2s", r.Delay())
	}
	_, err = s.ReserveCost(k, now, 601)
	var ce *CostError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCostTooLarge) || ce.Tokens != 601 || ce.Burst != 600 || ce.Key != k {
		t.Fatalf("a cost above the bucket: %v, want a CostError", err)
	}
	if r, err := s.ReserveCost("free", now, 1e6); err != nil || r.Delay() != 0 {
		t.Fatalf("an exempt key: %v, %v", r.Delay(), err)
	}
	if !(Limits{Default: Limit{}.WithTokensPerMinute(1)}).Tokens() || (Limits{Default: PerMinute(1)}).Tokens() {
		t.Fatal("Limits.Tokens wrong")
	}
}
