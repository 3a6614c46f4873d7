package gate

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
)

func told(remaining, limit int64, reset time.Duration) classify.Window {
	return classify.Window{Known: true, Remaining: remaining, Limit: limit, Reset: reset}
}

// observe admits one attempt at once, has its answer tell q, and reports it.
func observe(t *testing.T, s *Set, g *Gate, now time.Time, q classify.Quota) {
	t.Helper()
	a := s.Admit(g, now, Request{Attempt: 1})
	if a.Verdict != Send {
		t.Fatalf("Admit = %+v, want Send", a)
	}
	a.Ticket.Observe(q, now, false)
	s.Report(&a.Ticket, ok200, nil, false, now)
}

func TestSpentWindowHoldsTheKeyUntilItsReset(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	observe(t, s, g, c.now, classify.Quota{Requests: told(5000, 10000, time.Minute)})
	if h := g.hold.Load(); h != 0 {
		t.Fatal("a window with requests left held the key")
	}
	// A success that says the token window is spent: every caller waits
	// for its reset, given a slot there in the order they came.
	observe(t, s, g, c.now, classify.Quota{Tokens: told(0, 1000, 1500*time.Millisecond)})
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second), Cost: 400})
	b := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second), Cost: 400})
	if a.Verdict != Send || a.Cause != Hold || a.Delay != 1500*time.Millisecond || b.Delay != 1500*time.Millisecond {
		t.Fatalf("after a spent window: %+v, %+v, want slots at the reset, 1.5s on (hold)", a, b)
	}
	// The next window has 1000 tokens: a third call of 400 does not fit
	// at its reset, and waits for it to ask again.
	if w := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second), Cost: 400}); w.Verdict != Wait || w.Delay != 1500*time.Millisecond {
		t.Fatalf("beyond the next window's room: %+v, want Wait until the reset", w)
	}
	s.Cancel(&a.Ticket, c.now)
	s.Cancel(&b.Ticket, c.now)
	// One whose deadline comes first is refused at once, told when the
	// quota resets.
	a = s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Second)})
	var qe *ratelimit.QuotaError
	if a.Verdict != Refuse || a.Cause != Hold || !errors.As(a.Err, &qe) || !qe.Until.Equal(c.In(1500*time.Millisecond)) {
		t.Fatalf("deadline before the reset: %+v, want Refuse with a QuotaError until the reset", a)
	}
	c.Advance(1500 * time.Millisecond)
	if a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 400}); a.Verdict != Send || a.Delay != 0 {
		t.Fatalf("after the reset: %+v, want Send", a)
	}
}

func TestLongResetFailsFastSayingWhen(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{MaxWait: time.Minute})
	g := s.Get("h/m", c.now)
	// A per-day quota spent, Groq-style: reset in 7h.
	observe(t, s, g, c.now, classify.Quota{Requests: told(0, 14400, 7*time.Hour)})
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(24 * time.Hour)})
	var qe *ratelimit.QuotaError
	if a.Verdict != Refuse || !errors.As(a.Err, &qe) || qe.Wait != 7*time.Hour || !errors.Is(a.Err, ratelimit.ErrQuotaSpent) {
		t.Fatalf("Admit = %+v, want Refuse at once with a QuotaError in 7h", a)
	}
	if want := "2026-12-01T19:00:00Z"; !contains(a.Err.Error(), want) {
		t.Errorf("error %q does not say when the quota resets (%s)", a.Err, want)
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func TestRemainingIsSpreadOverTheReset(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	// 51 left of 100 with a second to go, one of them spent by this call:
	// 50 over 1 s, a tenth of them at once and the rest spread.
	observe(t, s, g, c.now, classify.Quota{Requests: told(50, 100, time.Second)})
	delays := admitAll(t, s, g, c.now, 7)
	for i, d := range delays[:5] {
		if d != 0 {
			t.Fatalf("call %d delayed %v within the burst; delays %v", i, d, delays)
		}
	}
	if want := time.Second / 45; !near(delays[5], want) || !near(delays[6], 2*want) {
		t.Fatalf("delays past the burst %v, want %v apart (45 more over the second)", delays, want)
	}
	// Past the reset the window is whole again: its 100 spread over its
	// length (as long as the longest reset told, and a margin of a
	// hundredth so that its slots do not come before the provider's next
	// reset), 10 at once.
	c.Advance(time.Second)
	delays = admitAll(t, s, g, c.now, 12)
	if want := (time.Second + 10*time.Millisecond) / 90; delays[9] != 0 || !near(delays[10], want) || !near(delays[11], 2*want) {
		t.Fatalf("in the renewed window: delays %v, want 10 at once, then %v apart", delays, want)
	}
}

// near reports whether d is want to the microsecond: slots are kept in
// whole nanoseconds.
func near(d, want time.Duration) bool { return d > want-time.Microsecond && d < want+time.Microsecond }

// admitAll admits n calls at now and returns their delays.
func admitAll(t *testing.T, s *Set, g *Gate, now time.Time, n int) []time.Duration {
	t.Helper()
	var delays []time.Duration
	for range n {
		a := s.Admit(g, now, Request{Attempt: 1, Deadline: now.Add(5 * time.Second)})
		if a.Verdict != Send {
			t.Fatalf("Admit = %+v, want Send", a)
		}
		delays = append(delays, a.Delay)
	}
	return delays
}

func TestInFlightCountsAgainstWhatIsLeft(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	observe(t, s, g, c.now, classify.Quota{Requests: told(1000, 1000, time.Second)})
	// Eleven calls in flight; then the first one's answer says 10 are
	// left: its count could not include the ten sent after it, so the
	// window is as good as spent.
	var inflight []Admission
	for range 11 {
		inflight = append(inflight, s.Admit(g, c.now, Request{Attempt: 1}))
	}
	inflight[0].Ticket.Observe(classify.Quota{Requests: told(10, 100, time.Second)}, c.now, false)
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second)}); a.Verdict != Send || a.Cause != Hold || a.Delay != time.Second {
		t.Fatalf("with all that is left sent since: %+v, want a slot at the reset", a)
	} else {
		s.Cancel(&a.Ticket, c.now)
	}
	// The last one's answer says the same: nothing was sent after it, so
	// ten are left.
	inflight[10].Ticket.Observe(classify.Quota{Requests: told(10, 100, time.Second)}, c.now, false)
	if a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Second)}); a.Verdict != Send || a.Delay != 0 {
		t.Fatalf("with ten left and none sent since: %+v, want Send at once", a)
	} else {
		s.Report(&a.Ticket, ok200, nil, false, c.now)
	}
	for i := range inflight {
		s.Report(&inflight[i].Ticket, ok200, nil, false, c.now)
	}
	if n := g.quota.req.inflight(); n != 0 {
		t.Fatalf("%d still counted in flight after every answer", n)
	}
}

func TestHeadersAreReadEveryResponseOnlyNearTheLimit(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	if !g.QuotaDue(c.now) {
		t.Fatal("a key never read is not due")
	}
	observe(t, s, g, c.now, classify.Quota{Requests: told(4000, 5000, 12*time.Millisecond)})
	if g.QuotaDue(c.now) || g.QuotaDue(c.In(quotaSample-1)) {
		t.Fatal("far from the limit, headers are due again before quotaSample")
	}
	if !g.QuotaDue(c.In(quotaSample)) {
		t.Fatal("not due after quotaSample")
	}
	observe(t, s, g, c.now, classify.Quota{Requests: told(40, 5000, 12*time.Millisecond)})
	if !g.QuotaDue(c.now) {
		t.Fatal("near the limit, headers are not read on every response")
	}
	// A response that tells nothing is looked at again only later.
	observe(t, s, g, c.now, classify.Quota{})
	if g.QuotaDue(c.now) {
		t.Fatal("after a response without headers, due at once")
	}
}

func TestTokensAreCostedAndBounded(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	if s.CostWanted(g) {
		t.Fatal("cost wanted before any token quota was told")
	}
	observe(t, s, g, c.now, classify.Quota{Tokens: told(20000, 30000, time.Second)})
	if !s.CostWanted(g) {
		t.Fatal("cost not wanted once a token quota was told")
	}
	// 20000 tokens over 1 s, 2000 at once and 18000 spread: a 2000-token
	// call goes, the next waits 1/9 s for its 2000.
	a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 2000, Deadline: c.In(5 * time.Second)})
	b := s.Admit(g, c.now, Request{Attempt: 1, Cost: 2000, Deadline: c.In(5 * time.Second)})
	if a.Verdict != Send || a.Delay != 0 || b.Verdict != Send || b.Delay != time.Second/9 || b.Cause != Pace {
		t.Fatalf("two 2000-token calls: %+v / %+v, want at once, then 1/9 s", a, b)
	}
	// The one sent is in flight; the one waiting for its slot only once
	// it is sent.
	if n := g.quota.tok.inflight(); n != 2000 {
		t.Fatalf("tokens in flight %d, want 2000", n)
	}
	b.Ticket.Sending(c.now)
	if n := g.quota.tok.inflight(); n != 4000 {
		t.Fatalf("tokens in flight %d after the second is sent, want 4000", n)
	}
	s.Cancel(&b.Ticket, c.now)
	s.Report(&a.Ticket, ok200, nil, false, c.now)
	if n := g.quota.tok.inflight(); n != 0 {
		t.Fatalf("tokens in flight %d after the answer and the cancel, want 0", n)
	}
	// A call larger than the whole window can never go: refused at once.
	big := s.Admit(g, c.now, Request{Attempt: 1, Cost: 30001})
	var ce *ratelimit.CostError
	if big.Verdict != Refuse || big.Cause != TooLarge || !errors.As(big.Err, &ce) || ce.Tokens != 30001 || ce.Burst != 30000 {
		t.Fatalf("a 30001-token call against a 30000 window: %+v, want Refuse with a CostError", big)
	}
	// The learnt window ages out when the headers stop.
	c.Advance(learntTTL + time.Second)
	if a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 30001}); a.Verdict != Send {
		t.Fatalf("after the learnt limit aged out: %+v, want Send", a)
	}
}

func TestConfiguredTokenLimit(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Limits: ratelimit.Limits{Default: ratelimit.Limit{}.WithTokensPerMinute(6000)}})
	g := s.Get("h/m", c.now)
	if !s.CostWanted(g) {
		t.Fatal("cost not wanted with a configured token limit")
	}
	// 6000 at once, then 100 per second.
	if a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 6000}); a.Verdict != Send || a.Delay != 0 {
		t.Fatalf("first call: %+v", a)
	}
	if a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 100, Deadline: c.In(5 * time.Second)}); a.Verdict != Send || a.Delay != time.Second || a.Cause != Limit {
		t.Fatalf("second call: %+v, want a 1s wait for its 100 tokens", a)
	}
	a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 6001})
	if a.Verdict != Refuse || !errors.Is(a.Err, ratelimit.ErrCostTooLarge) {
		t.Fatalf("a call above the bucket: %+v, want Refuse with ErrCostTooLarge", a)
	}
}

func TestSpreadGivesWayToTheDeadline(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	// 100 left over 10 s: 10 at once, then one per 100 ms.
	observe(t, s, g, c.now, classify.Quota{Requests: told(100, 100, 10*time.Second)})
	var delays []time.Duration
	for range 30 {
		a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Second)})
		if a.Verdict != Send {
			t.Fatalf("Admit = %+v, want Send: the window has room", a)
		}
		delays = append(delays, a.Delay)
	}
	// The spread would make the later calls wait past their deadline:
	// they go at once instead, on their slots.
	var waited, atOnce int
	for _, d := range delays[10:] {
		switch {
		case d >= time.Second:
			t.Fatalf("a call waits %v, past its deadline; delays %v", d, delays)
		case d > 0:
			waited++
		default:
			atOnce++
		}
	}
	if waited == 0 || atOnce == 0 {
		t.Fatalf("delays %v: want some spread within the deadline, the rest at once", delays)
	}
}

func TestAnswerOlderThanItsResetIsIgnored(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	observe(t, s, g, c.now, classify.Quota{Requests: told(100, 100, time.Minute)})
	// Sent, then answered 2 s later telling a reset 1 s after it was
	// sent: that window is gone, and the answer says nothing of this one.
	a := s.Admit(g, c.now, Request{Attempt: 1})
	c.Advance(2 * time.Second)
	a.Ticket.Observe(classify.Quota{Requests: told(0, 100, time.Second)}, c.now, false)
	s.Report(&a.Ticket, ok200, nil, false, c.now)
	if b := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(time.Second)}); b.Verdict != Send || b.Delay != 0 {
		t.Fatalf("after a stale answer: %+v, want Send at once", b)
	}
}

// sendEstimated sends 2000 calls estimated at 1000 tokens each through g,
// in batches of 10 every 10 ms, with a window of 10 000 000 tokens over a
// minute told on the last answer of each batch: what is left of it
// shrinks by drop for each call.
func sendEstimated(t *testing.T, c *clock, s *Set, g *Gate, drop int64) {
	t.Helper()
	const limit = 10_000_000
	left := int64(limit)
	observe(t, s, g, c.now, classify.Quota{Tokens: told(left, left, time.Minute)})
	for range 200 {
		var batch []Admission
		for range 10 {
			a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 1000})
			if a.Verdict != Send {
				t.Fatalf("Admit = %+v, want Send", a)
			}
			a.Ticket.Sending(c.now)
			batch = append(batch, a)
			left -= drop
		}
		c.Advance(10 * time.Millisecond)
		last := &batch[len(batch)-1].Ticket
		last.Observe(classify.Quota{Tokens: told(left, limit, time.Minute-time.Duration(len(batch))*10*time.Millisecond)}, c.now, false)
		for i := range batch {
			s.Report(&batch[i].Ticket, ok200, nil, false, c.now)
		}
	}
}

func TestTokenEstimatesLearnWhatTheProviderCharges(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	// Every call charged 500: what is left shrinks by half the estimates.
	sendEstimated(t, c, s, g, 500)
	if got := g.quota.scaled(1000); got < 450 || got > 650 {
		t.Fatalf("a 1000-token estimate is taken as %d after the provider charged 500 for each: want about 500", got)
	}
}

// allowStore is a fleet's shared state that lets everything through.
type allowStore struct{ members int }

func (allowStore) Take(context.Context, string, SharedLimit, int) (time.Duration, error) {
	return 0, nil
}
func (allowStore) Raise(string, time.Time) {}
func (a allowStore) Members() int          { return a.members }

// In a fleet, what is left of a token quota shrinks by every member's
// charges: a member must not take the others' for its own and scale its
// estimates up (it did, swinging between 1.1× and 4× in the bench's fleet).
func TestTokenEstimatesInAFleetAreNotScaledByOthersCharges(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{Shared: allowStore{members: 2}})
	g := s.Get("h/m", c.now)
	// Charged as estimated; the other member sends as much.
	sendEstimated(t, c, s, g, 2*1000)
	if got := g.quota.scaled(1000); got != 1000 {
		t.Fatalf("a 1000-token estimate is taken as %d in a fleet of two that each send as much: want 1000", got)
	}
}

// A 429 whose answer says the told quota had no room is the quota's: it
// holds the key until the reset, and does not set a pace, as a 429 the
// headers do not explain does.
func TestQuotaRefusalDoesNotSetThePace(t *testing.T) {
	for _, tc := range []struct {
		name  string
		told  classify.Quota
		paced bool
	}{
		{"quota spent", classify.Quota{Requests: told(0, 100, 5*time.Second)}, false},
		{"tokens short", classify.Quota{Tokens: told(10, 10_000, 5*time.Second)}, false},
		{"quota left", classify.Quota{Requests: told(50, 100, 5*time.Second)}, true},
		{"nothing told", classify.Quota{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			s := newSet(t, c, Config{})
			g := s.Get("h/m", c.now)
			if tc.told.Tokens.Known {
				// The key's answers tell its token quota: requests are costed.
				observe(t, s, g, c.now, classify.Quota{Tokens: told(10_000, 10_000, 6*time.Second)})
			}
			a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 100})
			if a.Verdict != Send {
				t.Fatalf("Admit = %+v, want Send", a)
			}
			a.Ticket.Observe(tc.told, c.now, true)
			s.Report(&a.Ticket, throttled, nil, false, c.now)
			if got := g.pace.active.Load(); got != tc.paced {
				t.Fatalf("after a 429 with %+v: paced %v, want %v", tc.told, got, tc.paced)
			}
		})
	}
}

// TestSlotsGivenBeyondWhatIsLeftAreTakenBack: the schedule spreads what an
// answer said was free; when a later answer says the provider charged more
// than estimated, a call given a slot that no longer fits is told so
// (Fits), and its next admission, like a new call's, is given a slot at the
// reset rather than one in the window, which the provider would answer 429.
func TestSlotsGivenBeyondWhatIsLeftAreTakenBack(t *testing.T) {
	c := newClock()
	s := newSet(t, c, Config{})
	g := s.Get("h/m", c.now)
	const limit, cost = 10_000, 300
	observe(t, s, g, c.now, classify.Quota{Tokens: told(limit, limit, time.Second)})
	t0 := c.now
	var sent, queued []Admission
	for range 30 { // 9000 tokens: all fit in what was told
		a := s.Admit(g, c.now, Request{Attempt: 1, Cost: cost, Deadline: c.In(5 * time.Second)})
		if a.Verdict != Send || a.Delay >= time.Second {
			t.Fatalf("Admit = %+v, want a slot in the window", a)
		}
		if a.Delay == 0 {
			sent = append(sent, a)
		} else {
			queued = append(queued, a)
		}
	}
	if len(sent) == 0 || len(queued) < 20 {
		t.Fatalf("%d sent at once, %d given later slots; want a few and the rest spread", len(sent), len(queued))
	}
	last := &queued[len(queued)-1].Ticket
	if !last.Fits(c.now) {
		t.Fatal("the last slot does not fit before any answer said less is left")
	}
	// The first call's answer: the provider charged it, and the calls
	// before, far more than estimated; what is left after those sent
	// since holds fewer than the calls queued.
	sent[0].Ticket.Observe(classify.Quota{Tokens: told(int64(len(sent)-1)*cost+3*cost, limit, time.Second)}, c.now, false)
	s.Report(&sent[0].Ticket, ok200, nil, false, c.now)
	fit := 0
	for i := range queued {
		tk := &queued[i].Ticket
		if d := t0.Add(queued[i].Delay).Sub(c.now); d > 0 {
			c.Advance(d) // to the call's slot
		}
		if tk.Fits(c.now) {
			fit++
			tk.Sending(c.now)
			continue
		}
		s.Cancel(tk, c.now)
	}
	if fit < 1 || fit > 3 {
		t.Fatalf("%d of %d queued calls still fit in what is left (3 calls' worth); want at most 3, and some", fit, len(queued))
	}
	a := s.Admit(g, c.now, Request{Attempt: 1, Cost: cost, Deadline: c.In(5 * time.Second)})
	if a.Verdict != Send || c.now.Add(a.Delay).Before(t0.Add(time.Second)) {
		t.Fatalf("a new call with nothing left for it: %+v, want a slot at the reset", a)
	}
	s.Cancel(&a.Ticket, c.now)
}
