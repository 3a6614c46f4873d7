package gate

import (
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// TestRefillingLaneSlowsAfter429: a quota that refills as a bucket
// stretches its pace after a 429 its headers explain (slow, "from 1").
// slow starts at zero, and 0 × 1.25 is zero: the pace never stretched.
func TestRefillingLaneSlowsAfter429(t *testing.T) {
	pace := func(refused bool) float64 {
		c := newClock()
		s := newSet(t, c, Config{})
		g := s.Get("h/m", c.now)
		observe(t, s, g, c.now, classify.Quota{Requests: told(50, 100, 10*time.Second)})
		q := &g.quota
		q.mu.Lock()
		q.req.refills = true // as learnRefill decides once it has seen the bucket refill
		q.mu.Unlock()
		c.Advance(time.Second)
		a := s.Admit(g, c.now, Request{Attempt: 1})
		a.Ticket.Observe(classify.Quota{Requests: told(0, 100, 10*time.Second)}, c.now, refused)
		d := ok200
		if refused {
			d = throttled
		}
		s.Report(&a.Ticket, d, nil, false, c.now)
		q.mu.Lock()
		defer q.mu.Unlock()
		return q.req.pace
	}
	plain, after429 := pace(false), pace(true)
	if !(after429 > plain) {
		t.Fatalf("refilling lane's pace after a 429: %v ns/unit, as without one (%v); want it stretched", after429, plain)
	}
}

// TestStaleRecoverySlotDoesNotWidenTheNextRecovery: a slot of one
// recovery, given back after the breaker opened again and the next
// recovery began, must not free a slot of the next one.
func TestStaleRecoverySlotDoesNotWidenTheNextRecovery(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 2}})
	g := s.Get("h/m", c.now)
	closeAfterProbes(t, s, g, c) // recovering, window 2
	failing := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	slow := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if failing.Verdict != Send || slow.Verdict != Send {
		t.Fatalf("recovery slots: %+v, %+v; want both sent", failing, slow)
	}
	s.Report(&failing.Ticket, failed503, nil, false, time.Time{}) // the breaker opens again; slow is still out
	if _, open := s.breakers.OpenUntil(g.key); !open {
		t.Fatal("the breaker did not open again")
	}
	passProbes(t, s, g, c) // half-open again, its probes succeed: a new recovery of window 2
	// The first recovery's slow call now answers 429 (neither way for the
	// breaker, nor for the window).
	s.Report(&slow.Ticket, throttled, nil, false, time.Time{})
	var out []Admission
	for range 4 {
		a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
		if a.Verdict != Send {
			break
		}
		out = append(out, a)
	}
	for i := range out {
		s.Cancel(&out[i].Ticket, c.now)
	}
	if len(out) != 2 {
		t.Fatalf("%d calls let through a recovery window of 2", len(out))
	}
}

// TestExcludedProbeWakesTheWaiting: a half-open breaker's probe that
// comes back Excluded (a 429, a 4xx, cancelled) frees its place for another;
// the calls waiting for the probes' verdict must be told, not left waiting
// an open timeout.
func TestExcludedProbeWakesTheWaiting(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 1}})
	g := s.Get("h/m", c.now)
	trip(t, s, g, c)
	var probe Admission
	for wall := time.Now().Add(5 * time.Second); ; {
		c.Advance(time.Millisecond)
		if probe = s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)}); probe.Verdict == Send {
			break
		}
		if time.Now().After(wall) {
			t.Fatal("the breaker never let a probe through")
		}
	}
	w := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if w.Verdict != Wait || w.Cause != Breaker || w.Wake == nil {
		t.Fatalf("with the probe out: %+v, want Wait on the probe", w)
	}
	s.Report(&probe.Ticket, throttled, nil, false, time.Time{}) // Excluded: its place is free
	select {
	case <-w.Wake:
	default:
		t.Fatalf("the probe's place came free and the waiting call was not woken (it waits %v)", w.Delay)
	}
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if a.Verdict != Send {
		t.Fatalf("after the probe came back excluded: %+v, want Send (a new probe)", a)
	}
	s.Report(&a.Ticket, ok200, nil, false, time.Time{})
}

// TestCancelRefundsWhereItCharged: a retry charged to the budget at
// its admission and cancelled after its delay is refunded in the bucket it
// was charged in: refunded in a later one, the charge ages out first and
// the refund is left over, a retry the budget gives beyond its bound.
func TestCancelRefundsWhereItCharged(t *testing.T) {
	c := newClock()
	acct := retry.NewAccount(retry.Budget{Ratio: 0.01, MinRetries: 1, Window: 10 * time.Second})
	s := newSet(t, c, Config{Budget: acct, Limits: ratelimit.Limits{Default: ratelimit.Limit{Rate: 0.2, Burst: 1}}})
	g := s.Get("h/m", c.now)
	s.Deposit(nil, c.now)
	send(t, s, g, c.now, Request{Attempt: 1}, ok200) // takes the limit's burst
	a := s.Admit(g, c.now, Request{Attempt: 2})
	if a.Verdict != Send || a.Delay < 4*time.Second {
		t.Fatalf("retry behind the limit: %+v, want Send after ~5s", a)
	}
	c.Advance(a.Delay)
	s.Cancel(&a.Ticket, c.now) // e.g. the key was found held: never sent
	c.Advance(10*time.Second - a.Delay + 500*time.Millisecond)
	if st := acct.Stats(c.now); st.WindowRetries < 0 {
		t.Fatalf("window retries %d after a charge and its refund: the refund outlived its charge", st.WindowRetries)
	}
}

// TestRemoteOpenBreakerWaitsWithinTheDeadline: a breaker opened by
// another fleet member holds a call whose deadline leaves room, as a local
// open breaker does; MaxWait bounds only the waits of calls without a
// deadline.
func TestRemoteOpenBreakerWaitsWithinTheDeadline(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Shared: allowStore{members: 2}, MaxWait: time.Minute})
	g := s.Get("h/m", c.now)
	s.Deadline(openPrefix+"h/m", c.In(5*time.Minute))
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)})
	if a.Verdict != Wait || a.Cause != Breaker {
		t.Fatalf("breaker open elsewhere for 5m, deadline in 1h: %+v, want Wait for the breaker", a)
	}
	// The same breaker open here holds the call.
	s2 := newSet(t, c, Config{Breaker: breaker.Settings{MinRequests: 1, OpenTimeout: 5 * time.Minute}, MaxWait: time.Minute})
	g2 := s2.Get("h/m", c.now)
	trip(t, s2, g2, c)
	if a := s2.Admit(g2, c.now, Request{Attempt: 1, Deadline: c.In(time.Hour)}); a.Verdict != Wait {
		t.Fatalf("local open breaker: %+v, want Wait", a)
	}
}
