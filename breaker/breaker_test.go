package breaker

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// step is one request through a breaker: either it must be rejected, or it
// is allowed and reports outcome. Then the breaker must be in state.
type step struct {
	reject  bool
	outcome Outcome
	state   State
}

func ok(o Outcome, st State) step { return step{outcome: o, state: st} }
func rejected(st State) step      { return step{reject: true, state: st} }

// run sends steps through the breaker of key, in order.
func run(t *testing.T, s *Set, key string, steps []step) {
	t.Helper()
	for i, st := range steps {
		done, err := s.Allow(key, time.Now())
		if st.reject {
			if err == nil {
				done.Done(Success)
				t.Fatalf("step %d: allowed, want rejection", i)
			}
			var oe *OpenError
			if !errors.Is(err, ErrOpen) || !errors.As(err, &oe) || oe.Key != key {
				t.Fatalf("step %d: err %v, want *OpenError for %q matching ErrOpen", i, err, key)
			}
			if done.report != nil {
				t.Fatalf("step %d: rejection came with a live Ticket", i)
			}
		} else {
			if err != nil {
				t.Fatalf("step %d: %v, want allowed", i, err)
			}
			done.Done(st.outcome)
		}
		if got := s.State(key); got != st.state {
			t.Fatalf("step %d: state %v, want %v", i, got, st.state)
		}
	}
}

func mustNew(t *testing.T, s Settings) *Set {
	t.Helper()
	set, err := New(s)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// eventually polls cond until it holds, failing the test after a deadline.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// long keeps windows and timeouts far beyond the length of a test.
var long = Settings{Window: time.Hour, OpenTimeout: time.Hour}

func with(s Settings, f func(*Settings)) Settings { f(&s); return s }

func TestTripsOnRatioOnlyAfterMinRequests(t *testing.T) {
	s := mustNew(t, with(long, func(s *Settings) { s.MinRequests = 12; s.FailureRatio = 0.5 }))
	var steps []step
	for range 11 {
		steps = append(steps, ok(Failure, Closed)) // 11 outcomes < 12
	}
	steps = append(steps, ok(Success, Closed)) // 11 of 12 failed, but only a failure trips
	steps = append(steps, ok(Failure, Open))   // 12 of 13: lower bound 0.507
	run(t, s, "k", append(steps, rejected(Open)))
}

// TestTripsOnEvidence checks the rule step by step: after every failure the
// breaker is open exactly when the Wilson lower bound of the failure ratio,
// at three standard errors, has reached FailureRatio.
func TestTripsOnEvidence(t *testing.T) {
	for _, c := range []struct {
		ratio        float64
		successes    int
		wantFailures int // failures after the successes at which it trips
	}{
		{0.5, 1, 12}, // 12 of 13: 0.507
		{0.5, 3, 17}, // 17 of 20: 0.515
		{0.4, 3, 12}, // 12 of 15: 0.418 (a run of 16 would trip too)
		{0.6, 1, 18}, // 18 of 19: 0.612
		{0.3, 2, 7},  // 7 of 9: 0.314
	} {
		s := mustNew(t, with(long, func(s *Settings) { s.MinRequests = 1; s.FailureRatio = c.ratio }))
		var steps []step
		for range c.successes {
			steps = append(steps, ok(Success, Closed))
		}
		for range c.wantFailures - 1 {
			steps = append(steps, ok(Failure, Closed))
		}
		steps = append(steps, ok(Failure, Open))
		run(t, s, "k", steps)
		if lb := wilsonLower(uint64(c.wantFailures), uint64(c.wantFailures+c.successes), tripZ); lb < c.ratio {
			t.Errorf("ratio %v: tripped at %d of %d, bound %v", c.ratio, c.wantFailures, c.wantFailures+c.successes, lb)
		}
	}
}

// TestNoiseDoesNotTrip: failures drawn independently at 40% (below the
// default FailureRatio of 0.5) never trip a breaker with the default
// MinRequests, in 5 000 windows of 20 to 60 outcomes each.
func TestNoiseDoesNotTrip(t *testing.T) {
	s := mustNew(t, with(long, func(s *Settings) { s.MaxKeys = 8 }))
	rng := rand.New(rand.NewPCG(1, 2))
	trips := 0
	for w := range 5000 {
		key := "k" + strconv.Itoa(w)
		n := 20 + rng.IntN(41)
		for range n {
			done, err := s.Allow(key, time.Now())
			if err != nil {
				trips++
				break
			}
			if rng.Float64() < 0.4 {
				done.Done(Failure)
			} else {
				done.Done(Success)
			}
		}
	}
	if trips > 0 {
		t.Fatalf("%d of 5000 windows of 40%% i.i.d. failures tripped the breaker", trips)
	}
}

func TestExcludedOutcomesDoNotCount(t *testing.T) {
	s := mustNew(t, with(long, func(s *Settings) { s.MinRequests = 3; s.FailureRatio = 0.2 }))
	// Excluded outcomes neither make up the minimum volume ...
	run(t, s, "volume", []step{
		ok(Excluded, Closed), ok(Excluded, Closed), ok(Failure, Closed), ok(Failure, Closed),
		ok(Failure, Open), // 3 failures of 3 outcomes: lower bound 0.25
	})
	// ... nor dilute the ratio.
	steps := []step{ok(Failure, Closed), ok(Failure, Closed)}
	for range 20 {
		steps = append(steps, ok(Excluded, Closed))
	}
	run(t, s, "ratio", append(steps, ok(Failure, Open)))
}

func TestUnknownOutcomeCountsAsFailure(t *testing.T) {
	s := mustNew(t, with(long, func(s *Settings) { s.MinRequests = 2; s.FailureRatio = 0.1 }))
	run(t, s, "k", []step{ok(Outcome(200), Closed), ok(Outcome(9), Open)})
}

func TestOpenRejectsWithOpenError(t *testing.T) {
	const timeout = time.Hour
	s := mustNew(t, Settings{MinRequests: 1, FailureRatio: 0.1, OpenTimeout: timeout, Window: time.Hour})
	before := time.Now()
	run(t, s, "api.example.com/m", []step{ok(Failure, Open)})
	after := time.Now()

	_, err := s.Allow("api.example.com/m", time.Now())
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v is not an *OpenError", err)
	}
	if oe.Key != "api.example.com/m" || oe.State != Open {
		t.Errorf("got key %q state %v", oe.Key, oe.State)
	}
	if oe.Until.Before(before.Add(timeout)) || oe.Until.After(after.Add(timeout)) {
		t.Errorf("Until %v not within [%v, %v]", oe.Until, before.Add(timeout), after.Add(timeout))
	}
	if !errors.Is(err, ErrOpen) {
		t.Error("errors.Is(err, ErrOpen) is false")
	}
	if errors.Is(err, errFailure) {
		t.Error("rejection matches an unrelated error")
	}
	want := `breaker: circuit open for key "api.example.com/m"`
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestHalfOpenProbesSucceedThenClosed(t *testing.T) {
	s := mustNew(t, Settings{MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 2})
	run(t, s, "k", []step{ok(Failure, Open), rejected(Open)})
	eventually(t, "half-open", func() bool { return s.State("k") == HalfOpen })

	d1, err1 := s.Allow("k", time.Now())
	d2, err2 := s.Allow("k", time.Now())
	if err1 != nil || err2 != nil {
		t.Fatalf("probes rejected: %v, %v", err1, err2)
	}
	if !d1.Probe() || !d2.Probe() {
		t.Fatal("a half-open breaker's tickets do not say they are probes")
	}
	_, err := s.Allow("k", time.Now())
	var oe *OpenError
	if !errors.As(err, &oe) || oe.State != HalfOpen || !oe.Until.IsZero() || !errors.Is(err, ErrOpen) {
		t.Fatalf("third request while probing: err %v, want half-open *OpenError", err)
	}
	if want := `breaker: circuit half-open for key "k", all probes in flight`; err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
	d1.Done(Success)
	if st := s.State("k"); st != HalfOpen {
		t.Fatalf("after one probe of two: %v, want half-open", st)
	}
	d2.Done(Success)
	if st := s.State("k"); st != Closed {
		t.Fatalf("after both probes: %v, want closed", st)
	}
	if d, err := s.Allow("k", time.Now()); err != nil || d.Probe() {
		t.Fatalf("closed breaker's ticket: probe %v, err %v; want no probe", d.Probe(), err)
	}
}

func TestAllowTurnsHalfOpenAfterOpenTimeout(t *testing.T) {
	const timeout = 20 * time.Millisecond
	s := mustNew(t, Settings{MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: timeout, HalfOpenProbes: 1})
	run(t, s, "k", []step{ok(Failure, Open)})
	_, err := s.Allow("k", time.Now())
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("err %v, want *OpenError", err)
	}
	eventually(t, "OpenTimeout to pass", func() bool { return time.Now().After(oe.Until) })
	// A now read from this process's clock is trusted ...
	if _, err := s.Allow("k", oe.Until.Add(-time.Nanosecond)); !errors.Is(err, ErrOpen) {
		t.Fatalf("Allow with a monotonic now before Until: %v, want ErrOpen", err)
	}
	// ... a fake clock's is not: a test's clock stuck in the past must not
	// hold the breaker open.
	fake := oe.Until.Add(-time.Hour).Round(0)
	done, err := s.Allow("k", fake)
	if err != nil {
		t.Fatalf("Allow with a fake clock after OpenTimeout: %v, want a probe", err)
	}
	done.Done(Success)
	if st := s.State("k"); st != Closed {
		t.Fatalf("after the probe: %v, want closed", st)
	}
}

func TestHalfOpenProbeFailsThenOpenAgain(t *testing.T) {
	s := mustNew(t, Settings{MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 3})
	run(t, s, "k", []step{ok(Failure, Open)})
	_, err := s.Allow("k", time.Now())
	var first *OpenError
	if !errors.As(err, &first) {
		t.Fatalf("err %v", err)
	}
	eventually(t, "half-open", func() bool { return s.State("k") == HalfOpen })
	run(t, s, "k", []step{ok(Success, HalfOpen), ok(Excluded, HalfOpen), ok(Failure, Open), rejected(Open)})
	_, err = s.Allow("k", time.Now())
	var second *OpenError
	if !errors.As(err, &second) || !second.Until.After(first.Until) {
		t.Fatalf("reopened breaker's error %v does not carry a later Until than %v", err, first.Until)
	}
}

func TestOtherKeysUnaffected(t *testing.T) {
	s := mustNew(t, with(long, func(s *Settings) { s.MinRequests = 2; s.FailureRatio = 0.1 }))
	run(t, s, "host/a", []step{ok(Failure, Closed), ok(Failure, Open), rejected(Open)})
	run(t, s, "host/b", []step{ok(Success, Closed), ok(Success, Closed), ok(Failure, Closed)}) // 1/3
	if st := s.State("host/a"); st != Open {
		t.Fatalf("host/a is %v, want open", st)
	}
	if st := s.State("never-seen"); st != Closed {
		t.Fatalf("unknown key is %v, want closed", st)
	}
}

func TestWindowForgetsOldOutcomes(t *testing.T) {
	const window, buckets = 40 * time.Millisecond, 4
	s := mustNew(t, Settings{MinRequests: 2, FailureRatio: 0.1, Window: window, Buckets: buckets, OpenTimeout: time.Hour})
	run(t, s, "k", []step{ok(Failure, Closed)})
	// The failure leaves the window at most a window and a bucket after it
	// was reported; any later time will do, so waiting is not a race.
	gone := time.Now().Add(window + window/buckets)
	eventually(t, "the window to pass", func() bool { return time.Now().After(gone) })
	run(t, s, "k", []step{ok(Failure, Closed), ok(Failure, Open)})
}

func TestSettingsReachGobreaker(t *testing.T) {
	s := mustNew(t, Settings{Window: 10 * time.Second, Buckets: 3, OpenTimeout: 7 * time.Second, HalfOpenProbes: 4})
	period := 10 * time.Second / 3
	if s.gs.BucketPeriod != period || s.gs.Interval != 3*period {
		t.Errorf("BucketPeriod %v Interval %v, want %v and %v", s.gs.BucketPeriod, s.gs.Interval, period, 3*period)
	}
	if s.gs.Timeout != 7*time.Second || s.gs.MaxRequests != 4 {
		t.Errorf("Timeout %v MaxRequests %d", s.gs.Timeout, s.gs.MaxRequests)
	}
}

func TestDisabledAndZeroSetAllowEverything(t *testing.T) {
	disabled := mustNew(t, Settings{Disabled: true, MinRequests: 1})
	for name, s := range map[string]*Set{"disabled": disabled, "zero": {}} {
		for range 100 {
			done, err := s.Allow("k", time.Now())
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			done.Done(Failure)
		}
		if s.State("k") != Closed || s.Len() != 0 {
			t.Fatalf("%s: state %v len %d", name, s.State("k"), s.Len())
		}
	}
	if _, err := New(Settings{Disabled: true, FailureRatio: 2}); err == nil {
		t.Fatal("a disabled Set with invalid settings was built")
	}
}

func TestLenBoundedUnderKeyFlood(t *testing.T) {
	const maxKeys = 256
	s := mustNew(t, Settings{MaxKeys: maxKeys, IdleTTL: time.Second})
	start := time.Now()
	for i := range 100_000 {
		done, err := s.Allow("host/model-"+strconv.Itoa(i), start.Add(time.Duration(i)*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		done.Done(Success)
		if n := s.Len(); n > maxKeys {
			t.Fatalf("after %d keys the Set holds %d breakers > %d", i+1, n, maxKeys)
		}
	}
}

// recorder collects OnStateChange calls per key.
type recorder struct {
	mu  sync.Mutex
	got map[string][]string
}

func (r *recorder) record(key string, from, to State) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.got == nil {
		r.got = map[string][]string{}
	}
	r.got[key] = append(r.got[key], from.String()+">"+to.String())
}

func (r *recorder) changes(key string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got[key]...)
}

func TestOnStateChangeInOrderBeforeReturn(t *testing.T) {
	var r recorder
	s := mustNew(t, Settings{MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond, HalfOpenProbes: 1, OnStateChange: r.record})
	run(t, s, "k", []step{ok(Failure, Open)})
	if got := r.changes("k"); fmt.Sprint(got) != "[closed>open]" {
		t.Fatalf("after tripping: %v", got) // delivered before done returned
	}
	eventually(t, "half-open", func() bool { return s.State("k") == HalfOpen })
	run(t, s, "k", []step{ok(Success, Closed)})
	want := "[closed>open open>half-open half-open>closed]"
	if got := r.changes("k"); fmt.Sprint(got) != want {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestOnStateChangeMayCallBack(t *testing.T) {
	var s *Set
	var r recorder
	var seen []State
	s = mustNew(t, Settings{
		MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond,
		OnStateChange: func(key string, from, to State) {
			seen = append(seen, s.State(key)) // would deadlock inside gobreaker's lock
			if done, err := s.Allow(key, time.Now()); err == nil {
				done.Done(Excluded)
			}
			r.record(key, from, to)
		},
	})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		done, err := s.Allow("k", time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		done.Done(Failure)
	}()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("deadlock: OnStateChange calling back into the Set did not return")
	}
	if fmt.Sprint(seen) != "[open]" || fmt.Sprint(r.changes("k")) != "[closed>open]" {
		t.Fatalf("callback saw %v, recorded %v", seen, r.changes("k"))
	}
}

func TestOnStateChangeHandOff(t *testing.T) {
	var r recorder
	inside, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	s := mustNew(t, Settings{
		MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond,
		OnStateChange: func(key string, from, to State) {
			once.Do(func() { close(inside); <-release }) // hold the first delivery
			r.record(key, from, to)
		},
	})
	tripped := make(chan struct{})
	go func() {
		defer close(tripped)
		done, err := s.Allow("k", time.Now())
		if err != nil {
			t.Error(err)
			return
		}
		done.Done(Failure) // delivers closed>open, held; then open>half-open
	}()
	<-inside
	// While the first change is being delivered, another goroutine makes
	// the next one happen: it returns at once and leaves it to the first.
	eventually(t, "half-open", func() bool { return s.State("k") == HalfOpen })
	if got := r.changes("k"); len(got) != 0 {
		t.Fatalf("delivered %v while the first delivery was held", got)
	}
	close(release)
	<-tripped
	if got, want := fmt.Sprint(r.changes("k")), "[closed>open open>half-open]"; got != want {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestOnStateChangePanicDoesNotStopDelivery(t *testing.T) {
	var r recorder
	panicked := false
	s := mustNew(t, Settings{
		MinRequests: 1, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: 20 * time.Millisecond,
		OnStateChange: func(key string, from, to State) {
			if !panicked {
				panicked = true
				panic("callback")
			}
			r.record(key, from, to)
		},
	})
	done, err := s.Allow("k", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("the callback's panic did not reach done's caller")
			}
		}()
		done.Done(Failure)
	}()
	eventually(t, "half-open", func() bool { return s.State("k") == HalfOpen })
	if got, want := fmt.Sprint(r.changes("k")), "[open>half-open]"; got != want {
		t.Fatalf("changes after the panic %v, want %v", got, want)
	}
}

func TestConcurrentKeys(t *testing.T) {
	const keys, goroutines, requests = 50, 20, 200
	var r recorder
	s := mustNew(t, Settings{MinRequests: 5, FailureRatio: 0.1, Window: time.Hour, OpenTimeout: time.Millisecond, HalfOpenProbes: 2, OnStateChange: r.record})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range requests {
				key := "host/m" + strconv.Itoa((g+i)%keys)
				done, err := s.Allow(key, time.Now())
				if err != nil {
					if !errors.Is(err, ErrOpen) {
						t.Error(err)
					}
					continue
				}
				done.Done(Outcome(rng.IntN(3)))
			}
		}()
	}
	wg.Wait()
	if n := s.Len(); n != keys {
		t.Fatalf("Len %d, want %d", n, keys)
	}
	total := 0
	for k := range keys {
		key := "host/m" + strconv.Itoa(k)
		prev := "closed"
		total += len(r.changes(key))
		for _, c := range r.changes(key) {
			from, to, _ := strings.Cut(c, ">")
			if from != prev {
				t.Fatalf("%s: changes out of order: %v", key, r.changes(key))
			}
			prev = to
		}
	}
	if total == 0 {
		t.Fatal("no breaker changed state; the test exercised nothing")
	}
}

func TestStringers(t *testing.T) {
	for v, want := range map[fmt.Stringer]string{
		Closed: "closed", HalfOpen: "half-open", Open: "open", State(7): "state(7)",
		Success: "success", Failure: "failure", Excluded: "excluded", Outcome(9): "outcome(9)",
	} {
		if got := v.String(); got != want {
			t.Errorf("%#v.String() = %q, want %q", v, got, want)
		}
	}
}

// TestRunOfFailuresTrips: a breaker whose window still holds many successes
// from before trips on the run of failures that starts an outage.
func TestRunOfFailuresTrips(t *testing.T) {
	s := mustNew(t, long)
	var steps []step
	for range 100 {
		steps = append(steps, ok(Success, Closed))
	}
	for range 19 {
		steps = append(steps, ok(Failure, Closed))
	}
	steps = append(steps, ok(Success, Closed)) // a success breaks the run
	for range 19 {
		steps = append(steps, ok(Failure, Closed))
	}
	run(t, s, "k", append(steps, ok(Failure, Open))) // 20 in a row at 0.5
	if got := runToTrip(0.25); got != 10 {
		t.Errorf("runToTrip(0.25) = %d, want 10", got)
	}
}
