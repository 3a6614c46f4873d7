package rebound

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/retry"
)

// memStore is a Store in memory, on the fake clock, shared by the
// Transports of a test: a token bucket per name, deadlines that only move
// later, and a switch that makes it fail.
type memStore struct {
	clock *fakeClock
	mu    sync.Mutex
	lims  map[string]*rate.Limiter
	dl    map[string]time.Time
	subs  []func(string, time.Time)
	takes int
	down  bool
	n     int
}

func newMemStore(c *fakeClock, members int) *memStore {
	return &memStore{clock: c, lims: map[string]*rate.Limiter{}, dl: map[string]time.Time{}, n: members}
}

var errStoreDown = errors.New("store down")

func (m *memStore) Take(ctx context.Context, name string, l StoreLimit, n int) (time.Duration, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.takes++
	if m.down {
		return 0, errStoreDown
	}
	lim := m.lims[name]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(float64(l.Rate)/l.Period.Seconds()), l.Burst)
		m.lims[name] = lim
	}
	now := m.clock.Now()
	r := lim.ReserveN(now, n)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // charge nothing: ask again later
		return d, nil
	}
	return 0, nil
}

func (m *memStore) Raise(name string, until time.Time) {
	m.mu.Lock()
	if !until.After(m.dl[name]) {
		m.mu.Unlock()
		return
	}
	m.dl[name] = until
	subs := append([]func(string, time.Time){}, m.subs...)
	m.mu.Unlock()
	for _, f := range subs {
		f(name, until)
	}
}

func (m *memStore) Subscribe(f func(string, time.Time)) func() {
	m.mu.Lock()
	m.subs = append(m.subs, f)
	m.mu.Unlock()
	return func() {}
}

func (m *memStore) Members() int { return m.n }

func (m *memStore) setDown(down bool) {
	m.mu.Lock()
	m.down = down
	m.mu.Unlock()
}

func TestStoreSharesTheToldLimitAcrossTransports(t *testing.T) {
	clock := newFakeClock()
	// A provider window of 10 requests per second, told on every answer.
	h := map[string]string{"X-Ratelimit-Limit-Requests": "10", "X-Ratelimit-Remaining-Requests": "9", "X-Ratelimit-Reset-Requests": "1s"}
	u := newUpstream(t, clock, reply{status: 200, body: `{}`, headers: h})
	st := newMemStore(clock, 2)
	a, _ := newTestTransport(t, clock, false, WithStore(st))
	b, _ := newTestTransport(t, clock, false, WithStore(st))
	// One answer each teaches both the window.
	for _, tr := range []*Transport{a, b} {
		if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
			t.Fatal(err)
		}
	}
	// Twenty calls at one instant, alternating: the fleet's shared limit
	// lets the window's capacity through, not twice it.
	start := clock.Now()
	for i := range 20 {
		tr := a
		if i%2 == 1 {
			tr = b
		}
		if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
			t.Fatal(err)
		}
	}
	var within int
	for _, hit := range u.Hits()[2:] {
		if hit.at.Sub(start) < time.Second {
			within++
		}
	}
	if within > 10 {
		t.Fatalf("%d requests within a second across two Transports, want at most the window's 10", within)
	}
}

func TestStoreSharesHoldsAndOpenBreakers(t *testing.T) {
	clock := newFakeClock()
	spent := reply{status: 200, body: `{}`, headers: map[string]string{
		"X-Ratelimit-Limit-Requests": "100", "X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "2s"}}
	u := newUpstream(t, clock, spent, ok200)
	st := newMemStore(clock, 2)
	a, _ := newTestTransport(t, clock, false, WithStore(st))
	b, _ := newTestTransport(t, clock, false, WithStore(st))
	if _, _, err := do(t, a, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	// b never saw the spent window: it holds until the reset all the same.
	before := clock.Now()
	if _, _, err := do(t, b, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	if hits := u.Hits(); len(hits) != 2 || hits[1].at.Sub(before) < 2*time.Second {
		t.Fatalf("b sent %v after a's spent answer, want after the 2s reset", hits[len(hits)-1].at.Sub(before))
	}

	// A breaker opened by a holds b's calls until it lets probes through.
	down := newUpstream(t, clock, infe502)
	a2, _ := newTestTransport(t, clock, false, WithStore(st), WithBreaker(breaker.Settings{MinRequests: 3}), WithRetry(retry.Policy{MaxAttempts: 1}))
	b2, _ := newTestTransport(t, clock, false, WithStore(st), WithRetry(retry.Policy{MaxAttempts: 1}))
	for range 3 {
		do(t, a2, post(t, down.URL, chatBody))
	}
	n, opened := len(down.Hits()), clock.Now()
	if _, _, err := do(t, b2, post(t, down.URL, chatBody)); err != nil {
		t.Fatalf("b: %v", err)
	}
	if hits := down.Hits(); len(hits) != n+1 || hits[n].at.Sub(opened) < time.Second {
		t.Fatalf("b sent %v after a's breaker opened, want after its 1s open timeout", hits[len(hits)-1].at.Sub(opened))
	}
}

func TestStoreDownFallsBackToTheLocalShare(t *testing.T) {
	clock := newFakeClock()
	h := map[string]string{"X-Ratelimit-Limit-Requests": "10", "X-Ratelimit-Remaining-Requests": "9", "X-Ratelimit-Reset-Requests": "1s"}
	u := newUpstream(t, clock, reply{status: 200, body: `{}`, headers: h})
	st := newMemStore(clock, 2)
	var events []StoreEvent
	tr, _ := newTestTransport(t, clock, false, WithStore(st), WithObserver(Observer{OnStore: func(e StoreEvent) { events = append(events, e) }}))
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	st.setDown(true)
	// Calls go on, no error, at this member's share (5 of the 10 per second).
	start := clock.Now()
	for range 6 {
		if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
			t.Fatalf("with the store down: %v", err)
		}
	}
	if len(events) != 1 || events[0].Up || !errors.Is(events[0].Err, errStoreDown) {
		t.Fatalf("events %+v, want one down event", events)
	}
	if last := u.Hits()[len(u.Hits())-1].at; last.Sub(start) < 500*time.Millisecond {
		t.Fatalf("6 calls within %v with the store down; want this member's share, 5 per second", last.Sub(start))
	}
	st.setDown(false)
	clock.Advance(time.Second)
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	if len(events) != 2 || !events[1].Up {
		t.Fatalf("events %+v, want the store back up", events)
	}
}

// subStore is a Store that counts its subscriptions.
type subStore struct {
	mu   sync.Mutex
	subs map[int]func(string, time.Time)
	next int
}

func (s *subStore) Take(context.Context, string, StoreLimit, int) (time.Duration, error) {
	return 0, nil
}
func (s *subStore) Raise(string, time.Time) {}
func (s *subStore) Members() int            { return 1 }
func (s *subStore) Subscribe(f func(string, time.Time)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := s.next
	s.next++
	s.subs[id] = f
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.subs, id)
	}
}

func (s *subStore) live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// TestDroppedTransportLeavesItsStore: a service that builds Transports over
// one long-lived Store (one per tenant, one per configuration reload) does
// not keep the ones it dropped subscribed to the Store, with their gates,
// and told every deadline the fleet raises.
func TestDroppedTransportLeavesItsStore(t *testing.T) {
	st := &subStore{subs: map[int]func(string, time.Time){}}
	const n = 20
	kept := New(nil, WithStore(st))
	for range n {
		if err := New(nil, WithStore(st)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	st.mu.Lock()
	subscribed := st.next
	st.mu.Unlock()
	if subscribed != n+1 {
		t.Fatalf("%d subscriptions made; want %d", subscribed, n+1)
	}
	deadline := time.After(10 * time.Second)
	for st.live() > 1 {
		runtime.GC() // finalizers run after a collection, on their own goroutine
		select {
		case <-deadline:
			t.Fatalf("%d of %d dropped Transports still subscribed after 10 s of collections", st.live()-1, n)
		case <-time.After(time.Millisecond):
		}
	}
	runtime.KeepAlive(kept)
	if got := st.live(); got != 1 {
		t.Fatalf("%d subscriptions; want the kept Transport's", got)
	}
}
