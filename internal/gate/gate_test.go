package gate

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a fake clock the Set reads.
type clock struct{ now time.Time }

func (c *clock) Now() time.Time               { return c.now }
func (c *clock) Advance(d time.Duration)      { c.now = c.now.Add(d) }
func newClock() *clock                        { return &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)} }
func (c *clock) In(d time.Duration) time.Time { return c.now.Add(d) }

func newSet(t *testing.T, c *clock, cfg Config) *Set {
	t.Helper()
	cfg.Now = c.Now
	if cfg.MaxWait == 0 {
		cfg.MaxWait = time.Minute
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var (
	ok200     = classify.Decision{Status: 200}
	throttled = classify.Decision{Verdict: classify.Retryable, Status: http.StatusTooManyRequests, RetryAfter: time.Second}
	failed503 = classify.Decision{Verdict: classify.Retryable, Status: 503}
)

// send admits one attempt that must go at once and reports d for it.
func send(t *testing.T, s *Set, g *Gate, now time.Time, r Request, d classify.Decision) {
	t.Helper()
	a := s.Admit(g, now, r)
	if a.Verdict != Send || a.Delay != 0 {
		t.Fatalf("Admit = %+v, want Send at once", a)
	}
	s.Report(&a.Ticket, d, nil, false, now.Add(40*time.Millisecond))
}

func TestNeverBeforeNotBefore(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	a := s.Admit(g, c.now, Request{Attempt: 2, NotBefore: c.In(700 * time.Millisecond)})
	if a.Verdict != Wait || a.Delay != 700*time.Millisecond || a.Cause != Backoff {
		t.Fatalf("Admit before NotBefore = %+v, want Wait 700ms for the backoff", a)
	}
	a = s.Admit(g, c.now, Request{Attempt: 2, NotBefore: c.In(time.Second), Deadline: c.In(time.Second)})
	if a.Verdict != Refuse || a.Cause != Deadline {
		t.Fatalf("Admit with NotBefore at the deadline = %+v, want Refuse (deadline)", a)
	}
	c.Advance(700 * time.Millisecond)
	send(t, s, g, c.now, Request{Attempt: 2, NotBefore: c.now}, ok200)
}

// trip opens g's breaker with one failure (MinRequests 1).
func trip(t *testing.T, s *Set, g *Gate, c *clock) {
	t.Helper()
	send(t, s, g, c.now, Request{Attempt: 1}, failed503)
	if _, open := s.breakers.OpenUntil(g.key); !open {
		t.Fatal("the breaker did not open")
	}
}

func TestOpenBreakerHoldsWithinTheDeadline(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Hour}})
	g := s.Get("h/m", c.now)
	trip(t, s, g, c)

	c.Advance(10 * time.Minute)
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if a.Verdict != Wait || a.Cause != Breaker || a.Wake == nil || a.Delay != 50*time.Minute {
		t.Fatalf("Admit with room = %+v, want Wait 50m for the breaker, with a Wake channel", a)
	}
	a = s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(49 * time.Minute)})
	var oe *breaker.OpenError
	if a.Verdict != Refuse || a.Cause != Breaker || !errors.As(a.Err, &oe) || oe.Key != "h/m" {
		t.Fatalf("Admit without room = %+v, want Refuse with a *breaker.OpenError", a)
	}
	// Without a deadline the wait is bounded by MaxWait (a minute here).
	a = s.Admit(g, c.now, Request{Attempt: 1})
	if a.Verdict != Refuse || !errors.Is(a.Err, breaker.ErrOpen) {
		t.Fatalf("Admit without deadline, 50m to wait = %+v, want Refuse", a)
	}
}

func TestFailFastRefusesAtOnce(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Hour, FailFast: true}})
	g := s.Get("h/m", c.now)
	trip(t, s, g, c)
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(2 * time.Hour)}); a.Verdict != Refuse || !errors.Is(a.Err, breaker.ErrOpen) {
		t.Fatalf("Admit = %+v, want Refuse with ErrOpen", a)
	}
}

func TestHalfOpenProbesFirstThenGradualRelease(t *testing.T) {
	c := newClock()
	// gobreaker keeps the wall clock: a 1 ms open timeout passes in a
	// poll; the gate's own waits run on the fake clock.
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 2}})
	g := s.Get("h/m", c.now)
	trip(t, s, g, c)
	deadline := c.In(time.Hour)
	var probes []Admission
	for wall := time.Now().Add(5 * time.Second); len(probes) < 2; {
		c.Advance(time.Millisecond)
		if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline}); a.Verdict == Send {
			probes = append(probes, a)
		} else if a.Verdict != Wait || a.Cause != Breaker {
			t.Fatalf("while open: %+v, want Wait for the breaker", a)
		}
		if time.Now().After(wall) {
			t.Fatal("the breaker never let probes through")
		}
	}
	// Both probes are out: the next caller waits for their verdict.
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline})
	if a.Verdict != Wait || a.Cause != Breaker || a.Wake == nil {
		t.Fatalf("with every probe out: %+v, want Wait on the probes", a)
	}
	wake := a.Wake
	for i := range probes {
		s.Report(&probes[i].Ticket, ok200, nil, false, time.Time{})
	}
	select {
	case <-wake:
	default:
		t.Fatal("the waiting caller was not woken when the breaker closed")
	}
	// Closed: the held callers are released two at a time at first (as
	// many as the probes), one more for each answer that comes back.
	var out []Admission
	for range 2 {
		a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline})
		if a.Verdict != Send {
			t.Fatalf("recovery slot: %+v, want Send", a)
		}
		out = append(out, a)
	}
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline}); a.Verdict != Wait || a.Cause != Recovery {
		t.Fatalf("past the window: %+v, want Wait (recovery)", a)
	}
	s.Report(&out[0].Ticket, ok200, nil, false, time.Time{}) // window 3, one in flight
	for range 2 {
		if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline}); a.Verdict != Send {
			t.Fatalf("after one answer: %+v, want Send", a)
		} else {
			out = append(out, a)
		}
	}
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: deadline}); a.Verdict != Wait {
		t.Fatalf("window of 3 full: %+v, want Wait", a)
	}
	for i := 1; i < len(out); i++ {
		s.Report(&out[i].Ticket, ok200, nil, false, time.Time{})
	}
	if g.recovering.Load() {
		t.Fatal("still recovering once the window no longer binds")
	}
}

// deliver reports n answers spread over the bucket starting at now.
func deliver(s *Set, g *Gate, now time.Time, n int, d classify.Decision) {
	for i := range n {
		at := now.Add(time.Duration(i) * paceSpan / 10 / time.Duration(n))
		a := s.Admit(g, at, Request{Attempt: 1})
		s.Report(&a.Ticket, d, nil, false, at.Add(a.Delay+20*time.Millisecond))
	}
}

func TestPaceFollowsWhatTheProviderDelivers(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	if _, paced := g.pace.state(); paced {
		t.Fatal("paced before any throttling")
	}
	bucket := paceSpan / 10
	// 20 calls per 250 ms bucket meet a provider that lets 60/s through
	// (15 a bucket, 5 at once), and refuses the rest; each is answered 20 ms after
	// it is sent, at its slot of the pace once there is one.
	provider := &tokenBucket{rate: 60, burst: 5}
	origin := c.now
	for range 4 {
		for i := range 20 {
			at := c.now.Add(time.Duration(i) * bucket / 20)
			a := s.Admit(g, at, Request{Attempt: 1})
			sent := at.Add(a.Delay)
			if a.Delay > 0 {
				a.Ticket.Sending(sent)
			}
			d := throttled
			if provider.decide(sent.Sub(origin), nil) {
				d = ok200
			}
			s.Report(&a.Ticket, d, nil, false, sent.Add(20*time.Millisecond))
		}
		c.Advance(bucket)
	}
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second)})
	r, paced := g.pace.state()
	if !paced || r < 65 || r > 80 {
		t.Fatalf("pace %v (paced %v), want about 1.25 × 60/s = 75/s", r, paced)
	}
	if a.Verdict != Send {
		t.Fatalf("first admission: %+v", a)
	}
	s.Cancel(&a.Ticket, c.now)
	// A pause lets the pace's slots given so far go. Then offered 200 at
	// once, the key sends a bucket's worth now and spreads the rest at the
	// pace; what cannot be answered within 1 s is refused locally with
	// ErrWouldExceedDeadline.
	c.Advance(2 * bucket)
	var now, later, refused int
	for range 200 {
		a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Second)})
		switch {
		case a.Verdict == Refuse:
			if a.Cause != Pace || !errors.Is(a.Err, ratelimit.ErrWouldExceedDeadline) {
				t.Fatalf("refusal %+v, want Pace with ErrWouldExceedDeadline", a)
			}
			refused++
		case a.Delay == 0:
			now++
		default:
			if a.Cause != Pace || a.Delay >= time.Second {
				t.Fatalf("delayed %+v", a)
			}
			later++
		}
	}
	if now < 14 || now > 20 || later < 50 || later > 75 || refused < 100 {
		t.Fatalf("%d sent at once, %d delayed, %d refused; want ~18, ~55, the rest", now, later, refused)
	}
}

func TestRandomThrottlingDoesNotBind(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	bucket := paceSpan / 10
	// 200/s offered, 5% refused at random: the pace stays above the load.
	for range 12 {
		deliver(s, g, c.now, 48, ok200)
		deliver(s, g, c.now.Add(bucket/3), 2, throttled)
		c.Advance(bucket)
	}
	if r, paced := g.pace.state(); !paced || float64(r) < 200 {
		t.Fatalf("pace %v (paced %v), want active and above the 200/s offered", r, paced)
	}
	for i := range 200 {
		at := c.now.Add(time.Duration(i) * 5 * time.Millisecond)
		a := s.Admit(g, at, Request{Attempt: 1, Deadline: at.Add(time.Second)})
		if a.Verdict != Send || a.Delay != 0 {
			t.Fatalf("call %d at 200/s: %+v, want Send at once", i, a)
		}
		s.Report(&a.Ticket, ok200, nil, false, at.Add(20*time.Millisecond))
	}
}

func TestPaceEndsWhenThrottlingStops(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	deliver(s, g, c.now, 10, ok200)
	deliver(s, g, c.now, 1, throttled)
	c.Advance(paceSpan / 10)
	s.Admit(g, c.now, Request{Attempt: 1})
	if _, paced := g.pace.state(); !paced {
		t.Fatal("not paced after a 429")
	}
	c.Advance(paceIdle + time.Second)
	a := s.Admit(g, c.now, Request{Attempt: 1})
	if _, paced := g.pace.state(); paced || a.Verdict != Send || a.Delay != 0 {
		t.Fatalf("paced %v, admission %+v: want no pace %v after the last 429", paced, a, paceIdle)
	}
}

func TestBudgetChargesEveryRetryAndRefundsSuccess(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Budget: retry.NewAccount(retry.Budget{Ratio: 0.5, MinRetries: 1, Window: time.Hour})})
	g := s.Get("h/m", c.now)
	for range 4 {
		s.Deposit(nil, c.now)
	}
	// 0.5 × 4 + 1 = 3 failing retries, hinted or not.
	for i := range 3 {
		send(t, s, g, c.now, Request{Attempt: 2}, throttled)
		_ = i
	}
	if a := s.Admit(g, c.now, Request{Attempt: 2}); a.Verdict != Refuse || a.Cause != Budget {
		t.Fatalf("fourth failing retry: %+v, want Refuse (budget)", a)
	}
	if a := s.Admit(g, c.now, Request{Attempt: 1}); a.Verdict != Send {
		t.Fatalf("a first attempt is never refused by the budget: %+v", a)
	}
	c2 := newClock()
	s = newSet(t, c2, Config{Budget: retry.NewAccount(retry.Budget{Ratio: 0.5, MinRetries: 1, Window: time.Hour})})
	g = s.Get("h/m", c2.now)
	for range 4 {
		s.Deposit(nil, c2.now)
	}
	for range 20 { // retries that succeed are refunded: no limit
		send(t, s, g, c2.now, Request{Attempt: 2}, ok200)
	}
	// A retry admitted and then cancelled (never sent) is refunded too.
	for range 10 {
		a := s.Admit(g, c2.now, Request{Attempt: 2})
		if a.Verdict != Send {
			t.Fatalf("retry after refunds: %+v", a)
		}
		s.Cancel(&a.Ticket, c2.now)
	}
}

func TestHoldUntilAReset(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	g.HoldUntil(c.In(2 * time.Second))
	g.HoldUntil(c.In(time.Second)) // an earlier reset does not shorten it
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second)}); a.Verdict != Wait || a.Cause != Hold || a.Delay != 2*time.Second {
		t.Fatalf("held key: %+v, want Wait 2s (hold)", a)
	}
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Second)}); a.Verdict != Refuse || a.Cause != Hold || !errors.Is(a.Err, ratelimit.ErrQuotaSpent) {
		t.Fatalf("held past the deadline: %+v, want Refuse (hold)", a)
	}
	c.Advance(2 * time.Second)
	send(t, s, g, c.now, Request{Attempt: 1}, ok200)
}

func TestOutcome(t *testing.T) {
	overloaded := classify.Decision{Verdict: classify.Retryable, Status: 200, Evidence: classify.ByBody, Code: "model_overloaded"}
	for _, c := range []struct {
		d          classify.Decision
		err        error
		callerDone bool
		want       breaker.Outcome
	}{
		{ok200, nil, false, breaker.Success},
		{failed503, nil, false, breaker.Failure},
		{throttled, nil, false, breaker.Excluded},
		{classify.Decision{Verdict: classify.Fatal, Status: 401}, nil, false, breaker.Excluded},
		{overloaded, nil, false, breaker.Failure},
		{classify.Decision{Verdict: classify.Retryable}, errors.New("reset"), false, breaker.Failure},
		{classify.Decision{Verdict: classify.Fatal}, errors.New("canceled"), true, breaker.Excluded},
	} {
		if got := Outcome(c.d, c.err, c.callerDone); got != c.want {
			t.Errorf("Outcome(%+v, %v, %v) = %v, want %v", c.d, c.err, c.callerDone, got, c.want)
		}
	}
}

func TestThrottled(t *testing.T) {
	for _, c := range []struct {
		d    classify.Decision
		want bool
	}{
		{throttled, true},
		{classify.Decision{Verdict: classify.Fatal, Status: 429, Code: "insufficient_quota"}, false},
		{classify.Decision{Verdict: classify.Retryable, Status: 503, Evidence: classify.ByBody, Code: "model_overloaded"}, false},
		{classify.Decision{Verdict: classify.Retryable, Status: 529, Evidence: classify.ByBody, Type: "overloaded_error"}, false},
		{classify.Decision{Verdict: classify.Retryable, Status: 503, Evidence: classify.ByBody, Code: "provider_unavailable"}, false},
		{failed503, false},
	} {
		if got := Throttled(c.d); got != c.want {
			t.Errorf("Throttled(%+v) = %v, want %v", c.d, got, c.want)
		}
	}
}

// closeAfterProbes trips g's breaker (MinRequests 1, OpenTimeout 1 ms,
// HalfOpenProbes 2), sends its two probes once it is half-open, and reports
// them good: the breaker closes, and the gate is recovering with a window
// of two.
func closeAfterProbes(t *testing.T, s *Set, g *Gate, c *clock) {
	t.Helper()
	trip(t, s, g, c)
	passProbes(t, s, g, c)
}

// passProbes moves the clock until g's open breaker lets its two probes
// through, and has them succeed: g is recovering.
func passProbes(t *testing.T, s *Set, g *Gate, c *clock) {
	t.Helper()
	var probes []Admission
	for wall := time.Now().Add(5 * time.Second); len(probes) < 2; {
		c.Advance(time.Millisecond)
		if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)}); a.Verdict == Send {
			probes = append(probes, a)
		}
		if time.Now().After(wall) {
			t.Fatal("the breaker never let probes through")
		}
	}
	for i := range probes {
		s.Report(&probes[i].Ticket, ok200, nil, false, time.Time{})
	}
	if !g.recovering.Load() {
		t.Fatal("not recovering once the probes succeeded")
	}
}

// TestRecoveryWindowIsWidenedByAnswersOnly: an attempt of the recovery cut
// short by its caller's deadline says nothing of how fast the upstream
// answers. Taken for its fastest answer, it made every real answer look
// queued, and the window never widened again (under an overload, the
// gate stayed recovering to the end, its queue growing).
func TestRecoveryWindowIsWidenedByAnswersOnly(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 2}})
	g := s.Get("h/m", c.now)
	closeAfterProbes(t, s, g, c)
	cut := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	answered := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if cut.Verdict != Send || answered.Verdict != Send || !cut.Ticket.Timed() {
		t.Fatalf("recovery slots: %+v, %+v, want both sent, timed", cut, answered)
	}
	// Cut short after 5 ms by its caller; the other answered in 40 ms.
	s.Report(&cut.Ticket, classify.Decision{}, context.DeadlineExceeded, true, c.In(5*time.Millisecond))
	s.Report(&answered.Ticket, ok200, nil, false, c.In(40*time.Millisecond))
	g.mu.Lock()
	window, minLat := g.window, g.minLat
	g.mu.Unlock()
	if window != 3 || minLat != 40*time.Millisecond {
		t.Fatalf("window %d, fastest answer %v; want 3 (widened by the answer), 40ms", window, minLat)
	}
}

// TestRecoveryWakesOnlyCallersStillWaiting: a caller whose wait for a
// recovery slot has ended (it asked again, or gave up) is not woken for a
// slot that comes free: the next still waiting is.
func TestRecoveryWakesOnlyCallersStillWaiting(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 2}})
	g := s.Get("h/m", c.now)
	closeAfterProbes(t, s, g, c)
	var out []Admission
	for range 2 {
		out = append(out, s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)}))
	}
	gone := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if gone.Verdict != Wait || gone.Cause != Recovery {
		t.Fatalf("window full: %+v, want Wait (recovery)", gone)
	}
	c.Advance(gone.Delay) // its wait is over: it no longer listens
	waiting := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if waiting.Verdict != Wait || waiting.Cause != Recovery {
		t.Fatalf("window still full: %+v, want Wait (recovery)", waiting)
	}
	s.Report(&out[0].Ticket, ok200, nil, false, time.Time{})
	select {
	case <-waiting.Wake:
	default:
		t.Fatal("the caller still waiting was not woken for the slot that came free")
	}
	select {
	case <-gone.Wake:
		t.Fatal("a caller whose wait had ended was woken")
	default:
	}
	s.Report(&out[1].Ticket, ok200, nil, false, time.Time{})
}
