package gate

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
)

// gcraStore is a fleet's shared state in memory, as redis_rate keeps it: a
// GCRA per name that lets a request through when it conforms and
// otherwise says how long until one would, keeping nothing for it.
type gcraStore struct {
	now     func() time.Time
	mu      sync.Mutex
	tat     map[string]time.Time
	members int
	charged map[string]int // units charged, by name, when set
}

func (m *gcraStore) Take(_ context.Context, name string, l SharedLimit, n int) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	every := l.Period / time.Duration(l.Rate)
	tau := time.Duration(l.Burst) * every
	tat := m.tat[name]
	if tat.Before(now) {
		tat = now
	}
	next := tat.Add(time.Duration(n) * every)
	if at := next.Add(-tau); at.After(now) {
		return at.Sub(now), nil
	}
	m.tat[name] = next
	if m.charged != nil {
		m.charged[name] += n
	}
	return 0, nil
}

func (m *gcraStore) Raise(string, time.Time) {}
func (m *gcraStore) Members() int            { return m.members }

// Two members of a fleet, each with its own gate, share a limit of 10
// requests per second that calls arriving at 20 per second exceed. Told
// only how long until the next slot, each member's calls must still go in
// the order they came, and the fleet serve as many as a FIFO client that
// knew the limit: the ones that had waited longest must not miss their
// deadlines while later ones take the slots.
func TestFleetLimitServesCallsInOrder(t *testing.T) {
	c := newClock()
	origin := c.now
	at := func(d time.Duration) time.Time { return origin.Add(d) }
	store := &gcraStore{now: c.Now, tat: map[string]time.Time{}, members: 2}
	limits := ratelimit.Limits{Default: ratelimit.Limit{Rate: 10, Burst: 1}}
	var sets [2]*Set
	var gates [2]*Gate
	for i := range sets {
		sets[i] = newSet(t, c, Config{Shared: store, Limits: limits})
		sets[i].jitter = rand.New(rand.NewPCG(5, uint64(i))).Int64N // a run is the same every time
		gates[i] = sets[i].Get("h/m", c.now)
	}
	const (
		deadline = 3 * time.Second
		measure  = 10 * time.Second
	)
	type call struct {
		i        int
		arrive   time.Duration
		replica  int
		place    *Place
		wake     <-chan struct{}
		sent     time.Duration
		done     bool
		measured bool
	}
	r := rand.New(rand.NewPCG(1, 3))
	var calls []*call
	for d := time.Duration(0); d < measure+deadline; d += time.Duration(r.ExpFloat64() / 20 * float64(time.Second)) {
		calls = append(calls, &call{i: len(calls), arrive: d, replica: len(calls) % 2, measured: d < measure})
	}
	var q simQueue
	seq := 0
	byEvent := map[*simCall]*call{}
	push := func(d time.Duration, cl *call) {
		seq++
		sc := &simCall{}
		byEvent[sc] = cl
		heap.Push(&q, simEvent{at: d, seq: seq, kind: admit, c: sc})
	}
	for _, cl := range calls {
		push(cl.arrive, cl)
	}
	waiting := map[*call]bool{}
	for q.Len() > 0 {
		e := heap.Pop(&q).(simEvent)
		cl := byEvent[e.c]
		delete(byEvent, e.c)
		if cl.done || e.at < cl.sent {
			continue
		}
		c.now = at(e.at)
		delete(waiting, cl)
		s, g := sets[cl.replica], gates[cl.replica]
		a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: at(cl.arrive + deadline), Place: cl.place})
		if cl.place != nil && a.Place != cl.place {
			s.Leave(g, cl.place)
		}
		cl.place = a.Place
		switch a.Verdict {
		case Refuse:
			cl.done = true
		case Wait:
			cl.wake = a.Wake
			cl.sent = 0
			push(e.at+a.Delay, cl)
			waiting[cl] = true
		case Send:
			if a.Delay != 0 {
				t.Fatalf("call %d sent after a delay %v: the local limit is not the one that binds here", cl.i, a.Delay)
			}
			cl.done, cl.sent = true, e.at
			s.Report(&a.Ticket, ok200, nil, false, c.now.Add(20*time.Millisecond))
		}
		// A call whose place came first asks again at once, in the order
		// the calls came (a map's order would make the run differ from
		// one time to the next).
		woken := make([]*call, 0, len(waiting))
		for w := range waiting {
			woken = append(woken, w)
		}
		slices.SortFunc(woken, func(a, b *call) int { return a.i - b.i })
		for _, w := range woken {
			if w.wake == nil {
				continue
			}
			select {
			case <-w.wake:
				w.wake = nil
				delete(waiting, w)
				push(e.at, w)
			default:
			}
		}
	}
	var ok, offered int
	last := [2]time.Duration{-1, -1}
	lastCall := [2]int{-1, -1}
	for _, cl := range calls {
		if !cl.done || cl.sent == 0 && cl.arrive != 0 {
			continue
		}
		if cl.sent < last[cl.replica] {
			t.Errorf("call %d (arrived %v) sent at %v, before call %d that came before it (sent %v)", cl.i, cl.arrive, cl.sent, lastCall[cl.replica], last[cl.replica])
		}
		last[cl.replica], lastCall[cl.replica] = cl.sent, cl.i
	}
	for _, cl := range calls {
		if cl.measured {
			offered++
			if cl.done && (cl.sent > 0 || cl.arrive == 0) && cl.sent-cl.arrive+20*time.Millisecond <= deadline {
				ok++
			}
		}
	}
	// A FIFO client that knew the limit sends a call every 100 ms, the
	// measured ones first, each that can still make its deadline.
	var fifo int
	slot := time.Duration(0)
	for _, cl := range calls {
		if !cl.measured {
			continue
		}
		if slot < cl.arrive {
			slot = cl.arrive
		}
		if slot-cl.arrive+20*time.Millisecond <= deadline {
			fifo++
			slot += 100 * time.Millisecond
		}
	}
	t.Logf("%d of %d measured calls served in time; a FIFO client knowing the limit, %d", ok, offered, fifo)
	if float64(ok) < 0.97*float64(fifo) {
		t.Errorf("%d calls served in time, fewer than 97%% of the FIFO client's %d", ok, fifo)
	}
}

// A call that gives up its place (its caller's context ended) lets the
// next one ask at once; one whose deadline passed without a word is
// dropped when the queue is next looked at.
func TestFleetPlaceLeft(t *testing.T) {
	c := newClock()
	store := &gcraStore{now: c.Now, tat: map[string]time.Time{}, members: 1}
	s := newSet(t, c, Config{Shared: store, Limits: ratelimit.Limits{Default: ratelimit.Limit{Rate: 1, Burst: 1}}})
	g := s.Get("h/m", c.now)
	first := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(10 * time.Second)})
	if first.Verdict != Send {
		t.Fatalf("first call: %+v, want Send", first)
	}
	s.Report(&first.Ticket, ok200, nil, false, time.Time{})
	// The next slot is a second away: a waits first in the queue, b and
	// then d behind it; d's deadline is the nearest.
	a := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(10 * time.Second)})
	b := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(10 * time.Second)})
	d := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(1500 * time.Millisecond)})
	for _, w := range []Admission{a, b, d} {
		if w.Verdict != Wait || w.Place == nil || w.Cause != Limit {
			t.Fatalf("waiting call: %+v, want Wait with a place", w)
		}
	}
	if a.Wake != nil || b.Wake == nil {
		t.Fatalf("a waits for the slot (wake %v), b for a to go (wake %v)", a.Wake, b.Wake)
	}
	s.Leave(g, a.Place)
	select {
	case <-b.Wake:
	default:
		t.Fatal("b not woken when a, first, left")
	}
	// b is first now: it asks when the slot comes (and the jitter that
	// keeps the fleet's waiters apart), and goes.
	c.Advance(time.Second + sharedJitter)
	bb := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(9 * time.Second), Place: b.Place})
	if bb.Verdict != Send || bb.Place != nil {
		t.Fatalf("b at the slot: %+v, want Send", bb)
	}
	s.Report(&bb.Ticket, ok200, nil, false, time.Time{})
	// d's deadline passed while it waited: the next call does not wait
	// behind it.
	c.Advance(time.Second + sharedJitter)
	e := s.Admit(g, c.now, Request{Attempt: 1, Deadline: c.In(10 * time.Second)})
	if e.Verdict != Send {
		t.Fatalf("a call after d's deadline: %+v, want Send at the slot", e)
	}
	if n := g.fleetWaiting.Load(); n != 0 {
		t.Fatalf("%d places left in the queue, want none", n)
	}
}

// A GCRA never lets through more than its burst at once, and the fleet's
// share of a token quota keeps a fiftieth of it as burst: a call that
// costs more must still go, once the limit's burst is whole (it waited for
// it until its deadline); and a call above the whole quota, which can
// never go, is refused before it is charged to the fleet.
func TestFleetCallAboveTheSharedBurst(t *testing.T) {
	c := newClock()
	store := &gcraStore{now: c.Now, tat: map[string]time.Time{}, members: 2}
	s := newSet(t, c, Config{Shared: store})
	g := s.Get("h/m", c.now)
	observe(t, s, g, c.now, classify.Quota{Tokens: told(10_000, 10_000, time.Minute)}) // a shared burst of 200
	if a := s.Admit(g, c.now, Request{Attempt: 1, Cost: 20_000, Deadline: c.In(time.Minute)}); a.Verdict != Refuse || a.Cause != TooLarge {
		t.Fatalf("a call above the quota: %+v, want Refuse (TooLarge)", a)
	}
	if len(store.tat) != 0 {
		t.Fatalf("the fleet was charged for a call that can never go: %v", store.tat)
	}
	first := s.Admit(g, c.now, Request{Attempt: 1, Cost: 1000, Deadline: c.In(time.Minute)})
	if first.Verdict != Send || first.Delay != 0 {
		t.Fatalf("a call of 1000 tokens, five times the shared burst: %+v, want Send at once", first)
	}
	s.Report(&first.Ticket, ok200, nil, false, c.now)
	// The next waits until the limit has its burst back: the first's cost
	// at 9800 tokens a minute.
	next := s.Admit(g, c.now, Request{Attempt: 1, Cost: 1000, Deadline: c.In(time.Minute)})
	if next.Verdict != Wait || next.Cause != Limit {
		t.Fatalf("the next call: %+v, want Wait for the fleet's limit", next)
	}
	if want := time.Duration(1000) * (time.Minute / 9800); next.Delay < want || next.Delay > want+sharedJitter {
		t.Fatalf("the next call waits %v, want %v (and the jitter)", next.Delay, want)
	}
	c.Advance(next.Delay)
	again := s.Admit(g, c.now, Request{Attempt: 1, Cost: 1000, Deadline: c.In(time.Minute), Place: next.Place})
	if again.Verdict != Send {
		t.Fatalf("the next call, at its slot: %+v, want Send", again)
	}
	s.Report(&again.Ticket, ok200, nil, false, c.now)
}

// A call that the fleet's token limit makes wait was charged a slot of its
// request limit already: it keeps it, and asks for tokens alone when its
// turn comes. (Charged a slot at each ask, it spent slots the fleet sent
// no request in, and other members' calls waited for them.)
func TestFleetTokenWaitKeepsItsRequestSlot(t *testing.T) {
	c := newClock()
	store := &gcraStore{now: c.Now, tat: map[string]time.Time{}, members: 2, charged: map[string]int{}}
	limits := ratelimit.Limits{Default: ratelimit.Limit{Rate: 1, Burst: 60, Tokens: rate.Limit(100.0 / 60), TokenBurst: 100}}
	a, b := newSet(t, c, Config{Shared: store, Limits: limits}), newSet(t, c, Config{Shared: store, Limits: limits})
	ga, gb := a.Get("h/m", c.now), b.Get("h/m", c.now)
	first := a.Admit(ga, c.now, Request{Attempt: 1, Cost: 60, Deadline: c.In(5 * time.Minute)})
	if first.Verdict != Send || first.Delay != 0 {
		t.Fatalf("the first call: %+v, want Send", first)
	}
	a.Report(&first.Ticket, ok200, nil, false, c.now)
	r := Request{Attempt: 1, Cost: 60, Deadline: c.In(5 * time.Minute)}
	asks := 0
	for {
		asks++
		next := a.Admit(ga, c.now, r)
		if next.Verdict == Send {
			a.Report(&next.Ticket, ok200, nil, false, c.now)
			break
		}
		if next.Verdict != Wait || next.Cause != Limit || asks > 10 {
			t.Fatalf("the second call, ask %d: %+v, want Wait for the token limit, then Send", asks, next)
		}
		c.Advance(next.Delay)
		r.Place = next.Place
	}
	third := b.Admit(gb, c.now, Request{Attempt: 1, Deadline: c.In(5 * time.Minute)})
	if third.Verdict != Send {
		t.Fatalf("the other member's call: %+v, want Send", third)
	}
	b.Report(&third.Ticket, ok200, nil, false, c.now)
	if got := store.charged[requestsPrefix+"h/m"]; got != 3 {
		t.Errorf("%d request slots charged for 3 requests sent (the second call asked %d times)", got, asks)
	}
}
