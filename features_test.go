package rebound

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

func TestObserverEvents(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 429, headers: map[string]string{"retry-after-ms": "300"},
		body: `{"error":{"code":"rate_limit_exceeded"}}`}, infe502, infe502, infe502)
	var mu sync.Mutex
	var log []string
	var retries []RetryEvent
	var giveUp GiveUpEvent
	obs := Observer{
		OnAttempt: func(e AttemptEvent) {
			mu.Lock()
			log = append(log, "attempt:"+e.Decision.Verdict.String())
			mu.Unlock()
		},
		OnRetry:  func(e RetryEvent) { mu.Lock(); retries = append(retries, e); log = append(log, "retry"); mu.Unlock() },
		OnGiveUp: func(e GiveUpEvent) { mu.Lock(); giveUp = e; log = append(log, "give-up"); mu.Unlock() },
	}
	tr, _ := newTestTransport(t, clock, false, WithObserver(obs))
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 502 {
		t.Fatalf("resp %v err %v", resp, err)
	}
	want := "attempt:retryable,retry,attempt:retryable,retry,attempt:retryable,retry,attempt:retryable,give-up"
	if got := strings.Join(log, ","); got != want {
		t.Fatalf("events\n got %s\nwant %s", got, want)
	}
	if !retries[0].FromHint || retries[0].Wait < 300*time.Millisecond || retries[0].Decision.Status != 429 {
		t.Fatalf("first retry %+v: want a wait from the 300 ms hint", retries[0])
	}
	if retries[1].FromHint || retries[1].Key != "127.0.0.1:"+strings.Split(u.URL, ":")[2]+"/gpt-4o-mini" {
		t.Fatalf("second retry %+v", retries[1])
	}
	if giveUp.Attempts != 4 || giveUp.Reason != ReasonAttempts || giveUp.Err != nil {
		t.Fatalf("give-up %+v", giveUp)
	}
}

func TestSSEErrorFirstEventRetried(t *testing.T) {
	clock := newFakeClock()
	sseErr := reply{status: 200, headers: map[string]string{"Content-Type": "text/event-stream"},
		body: "event: error\ndata: {\"error\":{\"type\":\"server_error\",\"code\":\"stream_error\",\"message\":\"boom\"}}\n\n"}
	stream := "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n"
	sseOK := reply{status: 200, headers: map[string]string{"Content-Type": "text/event-stream"}, body: stream}
	u := newUpstream(t, clock, sseErr, sseOK)
	tr, ct := newTestTransport(t, clock, false, WithPreset(Gateway))
	resp, body, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 200 || string(body) != stream {
		t.Fatalf("resp %v err %v body %q; want the second stream intact", resp, err, body)
	}
	if n := len(u.Hits()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

func TestShouldRetryHeaderOverridesStatus(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock,
		reply{status: 500, headers: map[string]string{"x-should-retry": "false"}, body: `{"error":{"type":"api_error"}}`}, ok200)
	tr, _ := newTestTransport(t, clock, false, WithPreset(Anthropic))
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 500 || len(u.Hits()) != 1 {
		t.Fatalf("resp %v err %v after %d requests; want the 500 after 1", resp, err, len(u.Hits()))
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			select { // hang until the attempt gives up
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	defer close(release)
	clock := newFakeClock()
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{AttemptTimeout: 50 * time.Millisecond}))
	done := roundTripAsync(tr, post(t, srv.URL, chatBody))
	clock.WaitSleepers(t, 1) // the attempt's bound, on the Transport's clock
	waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return calls == 1 }, "the first attempt to arrive")
	clock.Advance(50 * time.Millisecond)
	r := <-done
	if r.err != nil || r.resp.StatusCode != 200 || string(r.body) != `{"ok":true}` {
		t.Fatalf("resp %v err %v body %q", r.resp, r.err, r.body)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 2 {
		t.Fatalf("%d calls, want 2", calls)
	}
}

// TestAttemptTimeoutBoundsOnlyTheAttempt: the bound covers an attempt up to
// its classification; its expiry is ErrAttemptTimeout (a net.Error that
// timed out), and a successful body the caller reads later is never cut.
func TestAttemptTimeoutBoundsOnlyTheAttempt(t *testing.T) {
	const bound = 20 * time.Millisecond
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/hang/v1/chat/completions":
			select {
			case <-r.Context().Done():
			case <-release:
			}
		case "/slow-stream/v1/chat/completions": // a 200 stream whose first event comes after the bound
			w.Header().Set("Content-Type", "text/event-stream")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/slow-body/v1/chat/completions": // headers at once, the body long after the bound
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	defer srv.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := New(base, WithRetry(retry.Policy{MaxAttempts: 1, AttemptTimeout: bound}))

	_, err := tr.RoundTrip(post(t, srv.URL+"/hang", chatBody))
	var ne net.Error
	if !errors.Is(err, ErrAttemptTimeout) || !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, context.Canceled) {
		t.Fatalf("hanging attempt: err %v; want ErrAttemptTimeout, a net.Error that timed out, not context.Canceled", err)
	}

	// A stream that has not classified by the bound is cut off as a
	// timeout: the caller never gets a dead body.
	if resp, err := tr.RoundTrip(post(t, srv.URL+"/slow-stream", chatBody)); !errors.Is(err, ErrAttemptTimeout) {
		t.Fatalf("stream slower to its first event than the bound: resp %v, err %v; want ErrAttemptTimeout", resp, err)
	}

	resp, err := tr.RoundTrip(post(t, srv.URL+"/slow-body", chatBody))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	<-time.After(3 * bound) // well past the bound
	close(release)
	if b, err := io.ReadAll(resp.Body); err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("body read after the bound: %q, %v; want it whole", b, err)
	}
}

// TestGetBodyFailureKeepsTheHeldAnswer: when no fresh body can be had for a
// retry, the caller gets the answer already held.
func TestGetBodyFailureKeepsTheHeldAnswer(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 503, body: `{"error":{"code":"model_overloaded"}}`})
	tr, _ := newTestTransport(t, clock, false)
	req := post(t, u.URL, chatBody)
	req.GetBody = func() (io.ReadCloser, error) { return nil, errors.New("body gone") }
	resp, _, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 503 || len(u.Hits()) != 1 {
		t.Fatalf("resp %v err %v after %d requests; want the held 503 after 1", resp, err, len(u.Hits()))
	}
}

func TestErrorsThroughHTTPClient(t *testing.T) {
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	client := &http.Client{Transport: New(base, WithRetry(retry.Policy{MaxAttempts: 2, InitialInterval: time.Millisecond}))}
	_, err := client.Get("http://127.0.0.1:1/v1/models") // nothing listens on port 1
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 2 || e.Last.Evidence != classify.ByTransport {
		t.Fatalf("err = %v; want *rebound.Error after 2 attempts", err)
	}
	if e.Key != "127.0.0.1:1" {
		t.Fatalf("key %q", e.Key)
	}
}

func TestPresetsSelectTheirCatalogs(t *testing.T) {
	for _, p := range Presets() {
		var c config
		WithPreset(p)(&c)
		cat, ok := c.classifier.(*classify.Catalog)
		if len(c.errs) != 0 || !ok || cat.Name != string(p) {
			t.Errorf("preset %q: classifier %v, errs %v", p, c.classifier, c.errs)
		}
	}
}

func TestRouter(t *testing.T) {
	seen := map[string]string{}
	var mu sync.Mutex
	rt := func(name string) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			mu.Lock()
			seen[r.URL.Host] = name
			mu.Unlock()
			return &http.Response{StatusCode: 200, Body: http.NoBody, Request: r}, nil
		})
	}
	r := &Router{Routes: map[string]http.RoundTripper{"api.openai.com": rt("openai"), "api.anthropic.com": rt("anthropic")},
		Fallback: rt("fallback")}
	for _, u := range []string{"https://api.openai.com/v1/x", "https://API.Anthropic.com:443/v1/x", "https://other.example/x"} {
		req, _ := http.NewRequest("GET", u, nil)
		if _, err := r.RoundTrip(req); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]string{"api.openai.com": "openai", "API.Anthropic.com:443": "anthropic", "other.example": "fallback"}
	for h, name := range want {
		if seen[h] != name {
			t.Errorf("%s went to %q, want %q", h, seen[h], name)
		}
	}
	noFallback := &Router{}
	req, _ := http.NewRequest("GET", "https://nowhere.example/", nil)
	if _, err := noFallback.RoundTrip(req); err == nil {
		t.Fatal("a host without route or fallback was served")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestBreakerOpenWithHeldAnswerReturnsIt(t *testing.T) {
	// A retryable answer trips the breaker; the next attempt cannot go, so
	// the caller gets that answer rather than ErrCircuitOpen.
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 503, body: `{"error":{"code":"model_overloaded"}}`})
	tr, ct := newTestTransport(t, clock, false, WithBreaker(breaker.Settings{MinRequests: 1, FailureRatio: 1, OpenTimeout: time.Hour}))
	tr.clk.now = time.Now // gobreaker keeps wall-clock time: compare its open timeout with that
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 503 || len(u.Hits()) != 1 {
		t.Fatalf("resp %v err %v after %d requests; want the 503 after 1", resp, err, len(u.Hits()))
	}
	_, err = tr.RoundTrip(post(t, u.URL, chatBody))
	if !errors.Is(err, ErrCircuitOpen) || len(u.Hits()) != 1 {
		t.Fatalf("second call: err %v after %d requests", err, len(u.Hits()))
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

func TestLimiterPacesRequests(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, ok200)
	tr, _ := newTestTransport(t, clock, false, WithRateLimits(ratelimit.Limits{
		Rules: []ratelimit.Rule{{Pattern: "*/gpt-4o-mini", Limit: ratelimit.Limit{Rate: 2, Burst: 1}}}}))
	for i := 0; i < 3; i++ {
		if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
			t.Fatal(err)
		}
	}
	hits := u.Hits()
	for i := 1; i < len(hits); i++ {
		if gap := hits[i].at.Sub(hits[i-1].at); gap < 500*time.Millisecond {
			t.Fatalf("requests %d and %d %v apart; want 500 ms at 2/s", i, i+1, gap)
		}
	}
}

func TestRetryWaitsForHalfOpenBreaker(t *testing.T) {
	// The first answer trips the breaker; the call, holding a retryable
	// answer with time to spare, waits for the breaker's probe instead of
	// giving up, and its retry is that probe.
	u := newUpstream(t, nil, reply{status: 503, body: `{"error":{"code":"model_overloaded"}}`}, ok200)
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := New(base, WithBreaker(breaker.Settings{MinRequests: 1, FailureRatio: 1, OpenTimeout: 20 * time.Millisecond}),
		WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
	start := time.Now()
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 200 || len(u.Hits()) != 2 {
		t.Fatalf("resp %v err %v after %d requests; want a 200 after 2", resp, err, len(u.Hits()))
	}
	if waited := time.Since(start); waited < 20*time.Millisecond {
		t.Fatalf("retried after %v, before the breaker's open timeout", waited)
	}
}

// TestBodyReadFailureObservedOnce: a request body that fails mid-read ends
// the call with one OnGiveUp and an error that says so once.
func TestBodyReadFailureObservedOnce(t *testing.T) {
	var giveUps []GiveUpEvent
	tr := New(roundTripFunc(func(*http.Request) (*http.Response, error) {
		t.Fatal("a request was sent")
		return nil, nil
	}), WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { giveUps = append(giveUps, e) }}))
	body := io.MultiReader(strings.NewReader(`{"model":"m",`), errReader{errors.New("disk gone")})
	req, _ := http.NewRequest("POST", "http://api.example.com/v1/chat/completions", io.NopCloser(body))
	_, err := tr.RoundTrip(req)
	var rerr *Error
	if !errors.As(err, &rerr) || rerr.Reason != ReasonFatal || strings.Count(err.Error(), "rebound:") != 1 ||
		!strings.Contains(err.Error(), "disk gone") {
		t.Fatalf("err %v; want one *Error naming the cause once", err)
	}
	if len(giveUps) != 1 || giveUps[0].Reason != ReasonFatal || giveUps[0].Err != err {
		t.Fatalf("give-ups %+v; want one, with the error", giveUps)
	}
}
