package rebound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// modelServer answers per model: answer(model, n) gives the status and
// headers of the model's n-th request (1-based).
type modelServer struct {
	*httptest.Server
	mu     sync.Mutex
	hits   map[string]int
	at     map[string][]time.Time
	clock  *fakeClock
	answer func(model string, n int) (int, map[string]string)
}

func newModelServer(t *testing.T, clock *fakeClock, answer func(string, int) (int, map[string]string)) *modelServer {
	s := &modelServer{hits: map[string]int{}, at: map[string][]time.Time{}, clock: clock, answer: answer}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Model string }
		json.NewDecoder(r.Body).Decode(&body)
		s.mu.Lock()
		s.hits[body.Model]++
		n := s.hits[body.Model]
		if clock != nil {
			s.at[body.Model] = append(s.at[body.Model], clock.Now())
		}
		s.mu.Unlock()
		status, h := s.answer(body.Model, n)
		for k, v := range h {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		if status >= 400 {
			fmt.Fprintf(w, `{"error":{"code":"model_overloaded","message":"%d"}}`, status)
		} else {
			io.WriteString(w, `{"ok":true}`)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *modelServer) Hits(model string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[model]
}

func chat(t *testing.T, url, model string) *http.Request {
	return post(t, url, `{"model":"`+model+`","messages":[]}`)
}

func TestManyModelsConcurrently(t *testing.T) {
	srv := newModelServer(t, nil, func(m string, n int) (int, map[string]string) {
		if n%7 == 0 {
			return 502, nil
		}
		return 200, nil
	})
	clock := newFakeClock()
	tr, ct := newTestTransport(t, clock, false, WithRetry(retry.Policy{Budget: retry.Budget{Disabled: true}}))
	var wg sync.WaitGroup
	var failures atomic.Int64
	for m := 0; m < 50; m++ {
		for g := 0; g < 20; g++ {
			wg.Add(1)
			go func(model string) {
				defer wg.Done()
				resp, err := tr.RoundTrip(chat(t, srv.URL, model))
				if err != nil || resp.StatusCode != 200 {
					failures.Add(1)
				}
				if resp != nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}(fmt.Sprintf("model-%d", m))
		}
	}
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of 1000 calls failed despite retries", f)
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
	if n := tr.Stats().Breakers; n != 50 {
		t.Fatalf("%d breakers, want one per model (50)", n)
	}
}

func TestBreakerIsolatesAFailingModel(t *testing.T) {
	var healed atomic.Bool
	srv := newModelServer(t, nil, func(m string, n int) (int, map[string]string) {
		if m == "down" && !healed.Load() {
			return 503, nil
		}
		return 200, nil
	})
	var events []BreakerEvent
	var mu sync.Mutex
	obs := Observer{OnBreakerChange: func(e BreakerEvent) { mu.Lock(); events = append(events, e); mu.Unlock() }}
	const openFor = 50 * time.Millisecond
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := New(base, WithObserver(obs),
		WithRetry(retry.Policy{MaxAttempts: 1}),
		WithBreaker(breaker.Settings{MinRequests: 5, FailureRatio: 0.5, OpenTimeout: openFor, HalfOpenProbes: 2}))
	sendCtx := func(ctx context.Context, model string) (*http.Response, error) {
		resp, err := tr.RoundTrip(chat(t, srv.URL, model).WithContext(ctx))
		if resp != nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return resp, err
	}
	send := func(model string) (*http.Response, error) { return sendCtx(context.Background(), model) }
	for i := 0; i < 5; i++ {
		if resp, err := send("down"); err != nil || resp.StatusCode != 503 {
			t.Fatalf("call %d: %v %v", i, resp, err)
		}
		if resp, err := send("up"); err != nil || resp.StatusCode != 200 {
			t.Fatalf("healthy model failed: %v %v", resp, err)
		}
	}
	// A call whose deadline ends before the breaker's verdict fails at once,
	// without a request.
	before := srv.Hits("down")
	ctx, cancel := context.WithTimeout(context.Background(), openFor/5)
	start := time.Now()
	_, err := sendCtx(ctx, "down")
	cancel()
	var oe *breaker.OpenError
	if !errors.Is(err, ErrCircuitOpen) || !errors.As(err, &oe) || !strings.Contains(oe.Key, "/down") {
		t.Fatalf("err = %v; want ErrCircuitOpen with the key", err)
	}
	if waited := time.Since(start); waited >= openFor/5 {
		t.Fatalf("refused after %v, not at once", waited)
	}
	if srv.Hits("down") != before {
		t.Fatal("a request reached the upstream through an open breaker")
	}
	if resp, err := send("up"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthy model affected by the other's breaker: %v %v", resp, err)
	}

	// A call with room to wait is held until the half-open verdict, and
	// its request is the probe.
	healed.Store(true)
	if resp, err := send("down"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("held call: %v %v, want the probe's 200", resp, err)
	}
	if resp, err := send("down"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("second probe: %v %v", resp, err)
	}
	if got := srv.Hits("down"); got != before+2 {
		t.Fatalf("%d requests to the healed model, want 2", got-before)
	}
	mu.Lock()
	defer mu.Unlock()
	var path []string
	for _, e := range events {
		path = append(path, e.To.String())
	}
	if got := strings.Join(path, ","); got != "open,half-open,closed" {
		t.Fatalf("breaker went %s; want open,half-open,closed", got)
	}
}

// TestThrottleDelaysOnlyItsCall: a 429 with a hint delays the call that got
// it until the hint has passed, and no other caller of the model (a random
// 429 is no evidence that the model's quota is spent).
func TestThrottleDelaysOnlyItsCall(t *testing.T) {
	clock := newFakeClock()
	srv := newModelServer(t, clock, func(m string, n int) (int, map[string]string) {
		if m == "limited" && n == 1 {
			return 429, map[string]string{"Retry-After": "1"}
		}
		return 200, nil
	})
	tr, _ := newTestTransport(t, clock, true)
	t0 := clock.Now()
	results := make(chan error, 21)
	call := func(model string) {
		resp, err := tr.RoundTrip(chat(t, srv.URL, model))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 {
				err = fmt.Errorf("status %d", resp.StatusCode)
			}
		}
		results <- err
	}
	go call("limited")
	clock.WaitSleepers(t, 1) // the first caller got the 429 and waits out its hint
	for i := 0; i < 19; i++ {
		call("limited") // the others go at once: this returns without the clock moving
		if err := <-results; err != nil {
			t.Fatalf("caller %d: %v", i, err)
		}
	}
	if n := srv.Hits("limited"); n != 20 {
		t.Fatalf("%d requests reached the model, want 20", n)
	}
	clock.Advance(1300 * time.Millisecond) // past the hint and its jitter
	select {
	case err := <-results:
		if err != nil {
			t.Fatalf("throttled caller: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the throttled caller did not finish after its hint")
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if at := srv.at["limited"][20]; at.Sub(t0) < time.Second {
		t.Fatalf("the retry reached the upstream %v after the 429, before its 1 s hint", at.Sub(t0))
	}
}

func TestRateLimitWaitPastDeadlineFailsAtOnce(t *testing.T) {
	clock := newFakeClock()
	srv := newModelServer(t, clock, func(string, int) (int, map[string]string) { return 200, nil })
	tr, _ := newTestTransport(t, clock, true, WithRateLimits(ratelimit.Limits{Default: ratelimit.Limit{Rate: 1, Burst: 1}}))
	tr.clk.now = time.Now // deadlines are real time
	resp, err := tr.RoundTrip(chat(t, srv.URL, "m"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err = tr.RoundTrip(chat(t, srv.URL, "m").WithContext(ctx))
	var we *ratelimit.WaitError
	if !errors.Is(err, ErrWouldExceedDeadline) || !errors.As(err, &we) {
		t.Fatalf("err = %v; want ErrWouldExceedDeadline", err)
	}
	if s := clock.Slept(); len(s) != 0 {
		t.Fatalf("slept %v before failing", s)
	}
	if srv.Hits("m") != 1 {
		t.Fatalf("%d requests, want 1", srv.Hits("m"))
	}
}

func TestDistinctModelsStayBounded(t *testing.T) {
	bare := &memTransport{body: []byte(`{}`)}
	tr := New(bare, WithBreaker(breaker.Settings{MaxKeys: 64}))
	for i := 0; i < 100_000; i++ {
		req, _ := http.NewRequest("POST", "http://api.example.com/v1/chat/completions",
			strings.NewReader(`{"model":"m-`+strconv.Itoa(i)+`"}`))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := tr.Stats().Breakers; n > 64 {
		t.Fatalf("%d breakers held after 100 000 models, want at most 64", n)
	}
	if n := len(tr.Stats().Keys); n > 4096 { // the gates' bound (internal/gate's maxGates)
		t.Fatalf("%d gates held after 100 000 models, want at most 4096", n)
	}
}
