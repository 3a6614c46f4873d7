package redisstore

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-http/rebound"
)

// storeEvents records a Transport's OnStore events; it is safe for
// concurrent use.
type storeEvents struct {
	mu sync.Mutex
	ev []rebound.StoreEvent
}

func (r *storeEvents) on(e rebound.StoreEvent) {
	r.mu.Lock()
	r.ev = append(r.ev, e)
	r.mu.Unlock()
}

func (r *storeEvents) get() []rebound.StoreEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rebound.StoreEvent(nil), r.ev...)
}

// countDown is an upstream that answers 200 with OpenAI-style rate-limit
// headers, 600 requests a second in fixed windows, and counts requests.
type countDown struct {
	mu    sync.Mutex
	start time.Time // the current window's start
	used  int       // requests in it
	total atomic.Int64
}

func (u *countDown) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	u.total.Add(1)
	now := time.Now()
	u.mu.Lock()
	if now.Sub(u.start) >= time.Second {
		u.start, u.used = now, 0
	}
	u.used++
	remaining, reset := max(600-u.used, 0), time.Second-now.Sub(u.start)
	u.mu.Unlock()
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Ratelimit-Limit-Requests", "600")
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(remaining))
	h.Set("X-Ratelimit-Reset-Requests", reset.Round(time.Millisecond).String())
	_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)
}

// TestTransportsSurviveRedisKill runs two Transports that share their gates
// through a redis-server the test owns, kills it with SIGKILL mid-run and
// restarts it on the same port: the calls never fail nor stall because of
// the Store, each Transport reports the Store down once and up once, and a
// deadline raised after the restart reaches the other member.
func TestTransportsSurviveRedisKill(t *testing.T) {
	needServerBinary(t)
	srv, err := startServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.kill) // after the Stores' and clients' Close

	up := &countDown{}
	upstream := httptest.NewServer(up)
	t.Cleanup(upstream.Close)
	const model = "gpt-test"
	target := upstream.URL + "/v1/chat/completions"
	u, err := url.Parse(upstream.URL)
	if err != nil {
		t.Fatal(err)
	}
	key := u.Host + "/" + model // key.Of: the host, then the body's model
	body := []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hi"}]}`)

	type member struct {
		name   string
		store  *Store
		tr     *rebound.Transport
		events *storeEvents
		client *http.Client
	}
	p := Options{Prefix: testPrefix(t)}
	newMember := func(name string) *member {
		m := &member{name: name, events: &storeEvents{}}
		m.store = newStore(t, newClient(t, srv.addr()), p) // Close runs before the client's
		next := &http.Transport{}
		t.Cleanup(next.CloseIdleConnections)
		m.tr = rebound.New(next, rebound.WithStore(m.store), rebound.WithObserver(rebound.Observer{OnStore: m.events.on}))
		if err := m.tr.Err(); err != nil {
			t.Fatal(err)
		}
		m.client = &http.Client{Transport: m.tr, Timeout: 10 * time.Second}
		return m
	}
	a, b := newMember("a"), newMember("b")
	members := []*member{a, b}

	// call makes one call through m and reports how long it took; it fails
	// t on an error or a status other than 200.
	call := func(t *testing.T, m *member) time.Duration {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		start := time.Now()
		resp, err := m.client.Do(req)
		if err != nil {
			t.Fatalf("%s: call: %v", m.name, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, want 200", m.name, resp.StatusCode)
		}
		return took
	}
	// bounded fails t when a call took longer than the Store may delay it.
	const callBound = time.Second
	bounded := func(t *testing.T, m *member, took time.Duration) {
		t.Helper()
		if took > callBound {
			t.Errorf("%s: call took %v, want < %v", m.name, took, callBound)
		}
	}

	t.Run("up", func(t *testing.T) {
		for range 5 {
			for _, m := range members {
				bounded(t, m, call(t, m))
			}
		}
		for _, m := range members {
			if ev := m.events.get(); len(ev) != 0 {
				t.Errorf("%s: OnStore %+v with Redis up, want none", m.name, ev)
			}
			if st := m.tr.Stats(); len(st.Keys) != 1 || st.Keys[0].Key != key || st.Keys[0].Quota.Requests.Limit != 600 {
				t.Fatalf("%s: keys %+v, want %q with the quota of 600 learnt", m.name, st.Keys, key)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("killed", func(t *testing.T) {
		srv.kill() // SIGKILL, and reaped: the port refuses from here on
		before := up.total.Load()
		// A round every 50 ms for about 400 ms: the gates ask Redis again
		// (100 ms after each failure) and fail again, but report it once.
		const calls = 8
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for i := range calls {
			if i > 0 {
				<-tick.C
			}
			for _, m := range members {
				took := call(t, m)
				bounded(t, m, took)
				t.Logf("%s: call %d with Redis killed took %v", m.name, i, took)
			}
		}
		if got := up.total.Load() - before; got != 2*calls {
			t.Errorf("upstream got %d requests, want %d", got, 2*calls)
		}
		for _, m := range members {
			ev := m.events.get()
			if len(ev) != 1 || ev[0].Up || ev[0].Err == nil {
				t.Errorf("%s: OnStore %+v with Redis killed, want one Up:false event with an error", m.name, ev)
			} else {
				t.Logf("%s: down: %v", m.name, ev[0].Err)
			}
		}
	})
	if t.Failed() {
		return
	}

	t.Run("restarted", func(t *testing.T) {
		if err := srv.start(); err != nil {
			t.Fatal(err)
		}
		restarted := time.Now()
		// Call through both every ~100 ms until both report the Store up.
		deadline := restarted.Add(5 * time.Second)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			allUp := true
			for _, m := range members {
				bounded(t, m, call(t, m))
				ev := m.events.get()
				allUp = allUp && len(ev) == 2 && ev[1].Up
			}
			if allUp {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("OnStore a %+v, b %+v: both not back up within 5s of the restart", a.events.get(), b.events.get())
			}
			<-tick.C
		}
		t.Logf("both Transports saw the Store up %v after the restart", time.Since(restarted))
		for _, m := range members {
			if ev := m.events.get(); len(ev) != 2 || ev[0].Up || !ev[1].Up || ev[1].Err != nil {
				t.Errorf("%s: OnStore %+v, want one Up:false then one Up:true", m.name, ev)
			}
		}

		// A hold raised through a reaches b's Subscribe, and b's gate.
		got, f := recorder()
		defer b.store.Subscribe(f)()
		name := "hold/" + key
		until := time.Now().Add(2 * time.Second)
		raised := time.Now()
		a.store.Raise(name, until)
		await(t, got, name, until, 2*time.Second)
		t.Logf("the hold reached b's Subscribe %v after the Raise", time.Since(raised))
		held := func() bool {
			st := b.tr.Stats()
			return len(st.Keys) == 1 && st.Keys[0].HoldUntil.UnixMilli() == raisedMilli(until)
		}
		hold := time.NewTimer(time.Second)
		defer hold.Stop()
		poll := time.NewTicker(5 * time.Millisecond)
		defer poll.Stop()
		for !held() {
			select {
			case <-poll.C:
			case <-hold.C:
				t.Fatalf("b's gate: keys %+v, want %q held until %v", b.tr.Stats().Keys, key, until)
			}
		}
	})
}
