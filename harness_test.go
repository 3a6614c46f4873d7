package rebound

import (
	"context"
	"crypto/sha256"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is the Transport's time in tests: sleeps block until the test
// advances the clock past their end, or their context is done.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	sleeps  []*sleeper
	slept   []time.Duration // every sleep started, in order
	changed chan struct{}   // closed and replaced when sleeps change
}

type sleeper struct {
	until time.Time
	done  chan struct{}
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC), changed: make(chan struct{})}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) notifyLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	s := &sleeper{until: c.now.Add(d), done: make(chan struct{})}
	c.sleeps = append(c.sleeps, s)
	c.slept = append(c.slept, d)
	c.notifyLocked()
	c.mu.Unlock()
	select {
	case <-s.done:
		return nil
	case <-ctx.Done():
		c.mu.Lock()
		for i, x := range c.sleeps {
			if x == s {
				c.sleeps = append(c.sleeps[:i], c.sleeps[i+1:]...)
				break
			}
		}
		c.notifyLocked()
		c.mu.Unlock()
		return ctx.Err()
	}
}

// Advance moves the clock and wakes the sleeps that have ended.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.sleeps[:0]
	for _, s := range c.sleeps {
		if !s.until.After(c.now) {
			close(s.done)
		} else {
			kept = append(kept, s)
		}
	}
	c.sleeps = kept
	c.notifyLocked()
}

// WaitSleepers blocks until n goroutines are sleeping, failing the test at
// the deadline.
func (c *fakeClock) WaitSleepers(t *testing.T, n int) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		got, ch := len(c.sleeps), c.changed
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("waited 10 s for %d sleepers, have %d", n, got)
		}
	}
}

// Slept returns every sleep started so far.
func (c *fakeClock) Slept() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.slept...)
}

// AfterFunc runs f once the clock has been advanced past d from now,
// unless the returned stop is called first; stop reports whether it was.
// The pending timer counts as a sleeper.
func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	ctx, cancel := context.WithCancel(context.Background())
	var state atomic.Int32 // 0 pending, 1 fired, 2 stopped
	go func() {
		if c.Sleep(ctx, d) == nil && state.CompareAndSwap(0, 1) {
			f()
		}
	}()
	return func() bool {
		ok := state.CompareAndSwap(0, 2)
		cancel()
		return ok
	}
}

// instantSleep returns a sleep hook that advances the clock at once, for
// single-call tests that only need to see how long the Transport waited.
func (c *fakeClock) instantSleep(ctx context.Context, d time.Duration) error {
	c.mu.Lock()
	c.slept = append(c.slept, d)
	c.now = c.now.Add(d)
	c.mu.Unlock()
	return ctx.Err()
}

// withClock installs the fake clock in t; blocking selects real blocking
// sleeps, otherwise sleeps advance the clock at once.
func withClock(tr *Transport, c *fakeClock, blocking bool) *Transport {
	tr.clk.now = c.Now
	tr.after = c.AfterFunc
	if blocking {
		tr.sleep = c.Sleep
	} else {
		tr.sleep = c.instantSleep
	}
	return tr
}

// reply is one scripted answer of an upstream.
type reply struct {
	status  int
	headers map[string]string
	body    string
	hangup  bool // close the connection without answering
}

// hit is what the upstream saw of one request.
type hit struct {
	at       time.Time // on the fake clock, when given
	path     string
	bodyHash [32]byte
	header   http.Header
}

// upstream is a scripted httptest server: it answers each request with the
// next reply of its script (the last one repeats) and records every request.
type upstream struct {
	*httptest.Server
	mu     sync.Mutex
	script []reply
	hits   []hit
	clock  *fakeClock
	onHit  func(r *http.Request) // called before answering, if set
}

func newUpstream(t *testing.T, clock *fakeClock, script ...reply) *upstream {
	t.Helper()
	u := &upstream{script: script, clock: clock}
	u.Server = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	h := hit{path: r.URL.Path, bodyHash: sha256.Sum256(b), header: r.Header.Clone()}
	if u.clock != nil {
		h.at = u.clock.Now()
	}
	if u.onHit != nil {
		u.onHit(r)
	}
	u.mu.Lock()
	u.hits = append(u.hits, h)
	rep := reply{status: 200, body: `{"ok":true}`}
	if len(u.script) > 0 {
		rep = u.script[0]
		if len(u.script) > 1 {
			u.script = u.script[1:]
		}
	}
	u.mu.Unlock()
	if rep.hangup {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	if w.Header().Get("Content-Type") == "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(rep.status)
	io.WriteString(w, rep.body)
}

func (u *upstream) Hits() []hit {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]hit(nil), u.hits...)
}

// countingTransport counts the response bodies it hands out and closes.
type countingTransport struct {
	next           http.RoundTripper
	opened, closed atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(r)
	if resp != nil {
		c.opened.Add(1)
		resp.Body = &countedBody{ReadCloser: resp.Body, closed: &c.closed}
	}
	return resp, err
}

type countedBody struct {
	io.ReadCloser
	closed *atomic.Int64
	once   sync.Once
}

func (b *countedBody) Close() error {
	b.once.Do(func() { b.closed.Add(1) })
	return b.ReadCloser.Close()
}

// newTestTransport builds a Transport over a fresh http.Transport wrapped in
// a countingTransport, with the fake clock installed.
func newTestTransport(t *testing.T, clock *fakeClock, blocking bool, opts ...Option) (*Transport, *countingTransport) {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	ct := &countingTransport{next: base}
	tr := New(ct, opts...)
	if err := tr.Err(); err != nil {
		t.Fatalf("New: %v", err)
	}
	return withClock(tr, clock, blocking), ct
}
