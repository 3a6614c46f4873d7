package rebound

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/key"
	"github.com/rebound-http/rebound/retry"
)

// tailServer is an upstream whose handler is given per test; it counts the
// requests per model and notes the ones whose client went away.
type tailServer struct {
	*httptest.Server
	mu        sync.Mutex
	models    []string // the model of each request, in arrival order
	abandoned atomic.Int64
}

func newTailServer(t *testing.T, h func(w http.ResponseWriter, r *http.Request, model string, n int)) *tailServer {
	t.Helper()
	s := &tailServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		m, _ := key.ModelFromJSON(b)
		s.mu.Lock()
		s.models = append(s.models, m)
		n := len(s.models)
		s.mu.Unlock()
		h(w, r, m, n)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *tailServer) Models() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.models...)
}

// stall holds the answer until the client goes away.
func (s *tailServer) stall(r *http.Request) {
	<-r.Context().Done()
	s.abandoned.Add(1)
}

func writeEvents(w http.ResponseWriter, events ...string) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	for _, e := range events {
		io.WriteString(w, e)
	}
	w.(http.Flusher).Flush()
}

const streamBody = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hello"}]}`

// roundTripAsync runs RoundTrip on its own goroutine.
func roundTripAsync(tr http.RoundTripper, req *http.Request) <-chan result {
	ch := make(chan result, 1)
	go func() {
		resp, err := tr.RoundTrip(req)
		var b []byte
		if resp != nil {
			b, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		ch <- result{resp, b, err}
	}()
	return ch
}

type result struct {
	resp *http.Response
	body []byte
	err  error
}

func TestFirstEventTimeoutRetriesAStalledStream(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, n int) {
		if n == 1 {
			writeEvents(w) // headers, then nothing
			srv := r
			<-srv.Context().Done()
			return
		}
		writeEvents(w, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n", "data: [DONE]\n\n")
	})
	tr, ct := newTestTransport(t, clock, true, WithFirstEventTimeout(3*time.Second, "*/gpt-4o"))
	done := roundTripAsync(tr, post(t, srv.URL, streamBody))

	clock.WaitSleepers(t, 1) // the first-event timer of attempt 1
	clock.Advance(3 * time.Second)
	clock.WaitSleepers(t, 1) // the retry's backoff
	clock.Advance(time.Second)
	var r result
	select {
	case r = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("RoundTrip did not return")
	}
	if r.err != nil {
		t.Fatalf("RoundTrip: %v", r.err)
	}
	if !strings.Contains(string(r.body), `"Hi"`) || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
		t.Fatalf("body = %q, want the second stream whole", r.body)
	}
	if got := len(srv.Models()); got != 2 {
		t.Fatalf("upstream saw %d requests, want 2", got)
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

func TestFirstEventTimeoutLastAttemptIsAnError(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		writeEvents(w, ": keep-alive\n\n") // a comment is not an event
		<-r.Context().Done()
	})
	tr, _ := newTestTransport(t, clock, true, WithRetry(retry.Policy{MaxAttempts: 1}),
		WithFirstEventTimeout(time.Second, "*"))
	done := roundTripAsync(tr, post(t, srv.URL, streamBody))
	clock.WaitSleepers(t, 1)
	clock.Advance(time.Second)
	r := <-done
	var e *Error
	if !errors.As(r.err, &e) || !errors.Is(r.err, ErrFirstEventTimeout) || e.Reason != ReasonAttempts {
		t.Fatalf("err = %v, want an *Error wrapping ErrFirstEventTimeout with ReasonAttempts", r.err)
	}
}

func TestFirstEventTimeoutSparesOtherKeysAndPlainAnswers(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	tr, _ := newTestTransport(t, clock, true, WithFirstEventTimeout(time.Second, "*/gpt-4o"))
	_, b, err := do(t, tr, post(t, srv.URL, streamBody))
	if err != nil || string(b) != `{"ok":true}` {
		t.Fatalf("got %q, %v", b, err)
	}
	if s := clock.Slept(); len(s) != 0 {
		t.Fatalf("a non-stream answer started timers: %v", s)
	}
}

func TestFirstEventTimeoutRaisesTheCatalogsPeekTime(t *testing.T) {
	tr := New(nil, WithPreset(OpenAI), WithFirstEventTimeout(5*time.Second, "*"))
	if err := tr.Err(); err != nil {
		t.Fatal(err)
	}
	cat, ok := tr.classifier.(*classify.Catalog)
	if !ok || cat.MaxPeekTime != 5*time.Second || cat.Name != "openai" {
		t.Fatalf("classifier %T: want the openai catalog with MaxPeekTime 5s", tr.classifier)
	}
}

func modelAnswer(w http.ResponseWriter, model string) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"id":"chatcmpl-1","model":%q,"choices":[]}`, model)
}

func TestFallbackOnModelFault(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		if model == "big" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			io.WriteString(w, `{"error":{"code":"model_overloaded","message":"busy"}}`)
			return
		}
		modelAnswer(w, model)
	})
	var events []FallbackEvent
	tr, ct := newTestTransport(t, clock, false,
		WithFallback("*/big", Alternative{Model: "small"}),
		WithObserver(Observer{OnFallback: func(e FallbackEvent) { events = append(events, e) }}))
	const body = `{"model":"big","messages":[]}`
	req := post(t, srv.URL, body)
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
	before := *req.URL
	resp, b, err := do(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Models(); fmt.Sprint(got) != "[big small]" {
		t.Fatalf("upstream saw models %v, want [big small]: a model fault is not retried", got)
	}
	if !strings.Contains(string(b), `"model":"small"`) {
		t.Fatalf("body %s", b)
	}
	if alt, n := AnsweredBy(resp); n != 1 || alt.Model != "small" {
		t.Fatalf("AnsweredBy = %+v, %d", alt, n)
	}
	if resp.Request == req {
		t.Fatal("resp.Request is the caller's request, want the rewritten copy")
	}
	if *req.URL != before {
		t.Fatal("caller's URL modified")
	}
	if rb, _ := req.GetBody(); rb != nil {
		if got, _ := io.ReadAll(rb); string(got) != body {
			t.Fatalf("caller's body now %s", got)
		}
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	if len(events) != 1 || events[0].Key != host+"/big" || events[0].To != host+"/small" || events[0].Alternative != 1 ||
		events[0].Decision.Code != "model_overloaded" {
		t.Fatalf("events = %+v", events)
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

func TestFallbackAfterRetriesToAnotherHostsTransport(t *testing.T) {
	clock := newFakeClock()
	down := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		w.WriteHeader(500)
	})
	up := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) { modelAnswer(w, model) })
	other, _ := newTestTransport(t, clock, false)
	upHost := strings.TrimPrefix(up.URL, "http://")
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 2}),
		WithFallback("*", Alternative{Host: upHost, Transport: other}))
	resp, _, err := do(t, tr, post(t, down.URL, chatBody))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || len(down.Models()) != 2 || len(up.Models()) != 1 {
		t.Fatalf("status %d; down saw %d, up %d requests", resp.StatusCode, len(down.Models()), len(up.Models()))
	}
	if resp.Request.URL.Host != upHost {
		t.Fatalf("resp.Request.URL.Host = %s, want %s", resp.Request.URL.Host, upHost)
	}
	// The fallback followed attempts that reached the upstream: it is
	// charged to the retry budget as the retry was, and refunded as it
	// succeeded.
	if st := tr.Stats().Budget; st.Retries != 2 || st.Refunded != 1 {
		t.Fatalf("budget %+v, want 2 charged (the retry, the fallback), 1 refunded", st)
	}
}

func TestFallbackWhenBreakerOpenDoesNotWait(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		if model == "big" {
			w.WriteHeader(500)
			return
		}
		modelAnswer(w, model)
	})
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 1}),
		WithBreaker(breaker.Settings{MinRequests: 2}),
		WithFallback("*/big", Alternative{Model: "small"}))
	body := `{"model":"big"}`
	for range 2 { // trip the breaker: each call falls back once its one attempt fails
		if _, _, err := do(t, tr, post(t, srv.URL, body)); err != nil {
			t.Fatal(err)
		}
	}
	n := len(srv.Models())
	resp, _, err := do(t, tr, post(t, srv.URL, body))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Models()[n:]; fmt.Sprint(got) != "[small]" || resp.StatusCode != 200 {
		t.Fatalf("with the breaker open the upstream saw %v (status %d), want [small] alone", got, resp.StatusCode)
	}
	for _, d := range clock.Slept() {
		if d >= 500*time.Millisecond {
			t.Fatalf("the call waited %v for the breaker", d)
		}
	}
	// The call never reached the open key: its fallback is free.
	if st := tr.Stats().Budget; st.Retries != 2 {
		t.Fatalf("budget %+v: want the 2 fallbacks after sent attempts charged, not the third", st)
	}
}

func TestFallbackWhenQuotaSpentDoesNotWait(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		if model == "big" {
			// The model's window is spent by this answer, for 30 s.
			w.Header().Set("X-Ratelimit-Limit-Requests", "100")
			w.Header().Set("X-Ratelimit-Remaining-Requests", "0")
			w.Header().Set("X-Ratelimit-Reset-Requests", "30s")
		}
		modelAnswer(w, model)
	})
	tr, _ := newTestTransport(t, clock, false, WithFallback("*/big", Alternative{Model: "small"}))
	body := `{"model":"big"}`
	if _, _, err := do(t, tr, post(t, srv.URL, body)); err != nil {
		t.Fatal(err)
	}
	// The next call would be given a slot at the reset; with a fallback
	// it goes to the other model at once.
	resp, _, err := do(t, tr, post(t, srv.URL, body))
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.Models(); fmt.Sprint(got) != "[big small]" || resp.StatusCode != 200 {
		t.Fatalf("upstream saw %v (status %d), want [big small]", got, resp.StatusCode)
	}
	for _, d := range clock.Slept() {
		if d >= time.Second {
			t.Fatalf("the call waited %v for the reset", d)
		}
	}
}

func TestNoFallbackForTheRequestsFault(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"bad"}}`)
	})
	tr, _ := newTestTransport(t, clock, false, WithFallback("*", Alternative{Model: "other"}))
	resp, _, err := do(t, tr, post(t, srv.URL, chatBody))
	if err != nil || resp.StatusCode != 400 || len(srv.Models()) != 1 {
		t.Fatalf("status %v, err %v, %d requests; want the 400 at once", resp, err, len(srv.Models()))
	}
}

func TestFallbackChainExhaustedKeepsTheLastAnswer(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(503)
		fmt.Fprintf(w, `{"error":{"code":"model_overloaded","message":"%s busy"}}`, model)
	})
	var gaveUp []GiveUpEvent
	tr, ct := newTestTransport(t, clock, false,
		WithFallback("*/a", Alternative{Model: "b"}, Alternative{Model: "c"}),
		WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { gaveUp = append(gaveUp, e) }}))
	resp, b, err := do(t, tr, post(t, srv.URL, `{"model":"a"}`))
	if err != nil {
		t.Fatal(err)
	}
	models := srv.Models()
	if resp.StatusCode != 503 || !strings.Contains(string(b), "c busy") || models[0] != "a" || models[1] != "b" || models[2] != "c" {
		t.Fatalf("status %d body %s models %v: want c's answer after a, b, c", resp.StatusCode, b, models)
	}
	if _, n := AnsweredBy(resp); n != 2 {
		t.Fatalf("AnsweredBy = %d, want 2", n)
	}
	if len(gaveUp) != 1 {
		t.Fatalf("%d give-up events, want one, for the call's end", len(gaveUp))
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

func TestFallbackPathModel(t *testing.T) {
	clock := newFakeClock()
	var paths []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if strings.Contains(r.URL.Path, "pro") {
			w.WriteHeader(529)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	tr, _ := newTestTransport(t, clock, false, WithFallback("*/gemini-pro", Alternative{Model: "gemini-flash"}))
	req, _ := http.NewRequest("POST", srv.URL+"/v1beta/models/gemini-pro:generateContent", strings.NewReader(`{}`))
	resp, _, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v, %v", resp, err)
	}
	if fmt.Sprint(paths) != "[/v1beta/models/gemini-pro:generateContent /v1beta/models/gemini-flash:generateContent]" {
		t.Fatalf("paths %v", paths)
	}
}

func TestTailInvalidConfiguration(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Option
		want string
	}{
		{"fallback empty pattern", WithFallback("", Alternative{Model: "m"}), "empty key pattern"},
		{"fallback no chain", WithFallback("*"), "no alternative"},
		{"fallback empty alternative", WithFallback("*", Alternative{}), "sets no Model, Host or Transport"},
		{"fallback bad host", WithFallback("*", Alternative{Host: "a/b"}), "not a host"},
		{"hedging no pattern", WithHedging(0), "no key pattern"},
		{"hedging negative", WithHedging(-time.Second, "*"), "zero (the key's p95)"},
		{"first event zero", WithFirstEventTimeout(0, "*"), "positive duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := New(nil, tt.opt).Err()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Err() = %v, want ErrInvalidConfig saying %q", err, tt.want)
			}
		})
	}
}

func TestHedgeWinsAndTheSlowAttemptIsCancelled(t *testing.T) {
	clock := newFakeClock()
	var srv *tailServer
	srv = newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, n int) {
		if r.Header.Get("X-Attempt") == "1" {
			srv.stall(r)
			return
		}
		modelAnswer(w, "hedge")
	})
	var attempts []AttemptEvent
	var mu sync.Mutex
	tr, ct := newTestTransport(t, clock, true, WithHedging(100*time.Millisecond, "*/gpt-4o-mini"), WithAttemptHeader("X-Attempt"),
		WithObserver(Observer{OnAttempt: func(e AttemptEvent) { mu.Lock(); attempts = append(attempts, e); mu.Unlock() }}))
	done := roundTripAsync(tr, post(t, srv.URL, chatBody))
	clock.WaitSleepers(t, 1) // the hedge timer
	waitFor(t, func() bool { return len(srv.Models()) == 1 }, "the first attempt to arrive")
	clock.Advance(100 * time.Millisecond)
	r := <-done
	if r.err != nil || !strings.Contains(string(r.body), "hedge") {
		t.Fatalf("got %s, %v; want the hedge's answer", r.body, r.err)
	}
	waitFor(t, func() bool { return srv.abandoned.Load() == 1 }, "the slow attempt to be cancelled")
	waitFor(t, func() bool { return ct.opened.Load() == ct.closed.Load() }, "every body closed")
	if st := tr.Stats().Budget; st.Retries != 1 || st.Refunded != 0 {
		t.Fatalf("budget %+v: want the hedge charged, not refunded", st)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 1 || !attempts[0].Hedge || attempts[0].Attempt != 1 {
		t.Fatalf("attempt events %+v: want the hedge's (the lost attempt is not reported)", attempts)
	}
}

func TestNoHedgeWhenTheFirstAnswersInTime(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) { modelAnswer(w, model) })
	tr, _ := newTestTransport(t, clock, true, WithHedging(100*time.Millisecond, "*"))
	for range 3 {
		if _, _, err := do(t, tr, post(t, srv.URL, chatBody)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(srv.Models()); n != 3 {
		t.Fatalf("%d requests for 3 calls", n)
	}
	clock.WaitSleepers(t, 0)
	if st := tr.Stats().Budget; st.Retries != 0 {
		t.Fatalf("budget %+v", st)
	}
}

func TestHedgeAtTheKeysP95(t *testing.T) {
	clock := newFakeClock()
	var srv *tailServer
	var stallNext atomic.Bool
	srv = newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		if stallNext.CompareAndSwap(true, false) {
			srv.stall(r)
			return
		}
		clock.Advance(10 * time.Millisecond) // every answer takes 10 ms of the fake clock
		modelAnswer(w, model)
	})
	tr, _ := newTestTransport(t, clock, true, WithHedging(0, "*"))
	for range minHedgeSamples - 1 {
		if _, _, err := do(t, tr, post(t, srv.URL, chatBody)); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(clock.Slept()); n != 0 {
		t.Fatalf("hedged before %d samples", minHedgeSamples)
	}
	if _, _, err := do(t, tr, post(t, srv.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	stallNext.Store(true)
	done := roundTripAsync(tr, post(t, srv.URL, chatBody))
	clock.WaitSleepers(t, 1)
	waitFor(t, func() bool { return len(srv.Models()) == minHedgeSamples+1 }, "the first attempt to arrive")
	if s := clock.Slept(); len(s) != 1 || s[0] < 10*time.Millisecond || s[0] > 13*time.Millisecond {
		t.Fatalf("hedge delay %v, want the p95 of 10 ms answers", s)
	}
	clock.Advance(20 * time.Millisecond)
	if r := <-done; r.err != nil {
		t.Fatal(r.err)
	}
	waitFor(t, func() bool { return srv.abandoned.Load() == 1 }, "the stalled attempt to be cancelled")
}

func TestHedgeCallerCancelEndsBoth(t *testing.T) {
	clock := newFakeClock()
	var srv *tailServer
	srv = newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) { srv.stall(r) })
	tr, _ := newTestTransport(t, clock, true, WithHedging(time.Millisecond, "*"))
	ctx, cancel := context.WithCancel(context.Background())
	done := roundTripAsync(tr, post(t, srv.URL, chatBody).WithContext(ctx))
	clock.WaitSleepers(t, 1)
	clock.Advance(time.Millisecond)
	waitFor(t, func() bool { return len(srv.Models()) == 2 }, "the hedge to be sent")
	cancel()
	r := <-done
	if !errors.Is(r.err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", r.err)
	}
	waitFor(t, func() bool { return srv.abandoned.Load() == 2 }, "both attempts to end")
}

// waitFor polls cond, for what other goroutines finish after the call
// returned (a cancelled attempt, a drained body), failing after 10 s.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 10 s for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFallbackAzureInference: Azure AI model inference posts every model
// to /models/chat/completions and names it in the body: its key is the
// body's model, and its fallback rewrites the body, not the route.
func TestFallbackAzureInference(t *testing.T) {
	clock := newFakeClock()
	var got []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = append(got, r.URL.Path+" "+string(b))
		mu.Unlock()
		if strings.Contains(string(b), "DeepSeek-R1") {
			w.WriteHeader(503)
			io.WriteString(w, `{"error":{"code":"model_overloaded"}}`)
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	tr, _ := newTestTransport(t, clock, false, WithFallback("*/DeepSeek-R1", Alternative{Model: "Llama-3.3-70B-Instruct"}))
	req, _ := http.NewRequest("POST", srv.URL+"/models/chat/completions?api-version=2024-05-01-preview",
		strings.NewReader(`{"model":"DeepSeek-R1","messages":[]}`))
	resp, _, err := do(t, tr, req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v, %v (sent %q)", resp, err, got)
	}
	want := `[/models/chat/completions {"model":"DeepSeek-R1","messages":[]} /models/chat/completions {"model":"Llama-3.3-70B-Instruct","messages":[]}]`
	if fmt.Sprint(got) != want {
		t.Errorf("sent %q; want %s", got, want)
	}
}

// TestFallbackModelInThePath: a model named in the path is replaced there,
// escaped as the path spells it, and the fallback is keyed by the
// alternative's model: Bedrock's inference-profile ARN, escaped into one
// segment, and Replicate's {owner}/{name}, whose "/" is a separator (two
// models of one owner are two keys, so only the failing one falls back).
func TestFallbackModelInThePath(t *testing.T) {
	const arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
	for _, tc := range []struct {
		name, from, to, pattern string
		path                    func(model string) string // as sent, escaped
	}{
		{"bedrock arn", arn + "abc123", arn + "xyz789", "*/" + arn + "abc123",
			func(m string) string { return "/model/" + url.PathEscape(m) + "/converse" }},
		{"owner and name", "meta/meta-llama-3-70b-instruct", "mistralai/mixtral-8x7b", "*/meta/meta-llama-3-70b-instruct",
			func(m string) string { return "/v1/models/" + m + "/predictions" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			var paths []string
			var mu sync.Mutex
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.EscapedPath())
				mu.Unlock()
				if strings.Contains(r.URL.Path, tc.from) {
					w.Header().Set("x-amzn-errortype", "ServiceUnavailableException")
					w.WriteHeader(503)
					return
				}
				w.WriteHeader(200)
			}))
			defer srv.Close()
			var keys []string
			tr, _ := newTestTransport(t, clock, false, WithFallback(tc.pattern, Alternative{Model: tc.to}),
				WithObserver(Observer{OnFallback: func(e FallbackEvent) { keys = append(keys, e.Key, e.To) }}))
			req, _ := http.NewRequest("POST", srv.URL+tc.path(tc.from), strings.NewReader(`{"messages":[]}`))
			resp, _, err := do(t, tr, req)
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("%v, %v", resp, err)
			}
			mu.Lock()
			defer mu.Unlock()
			if got, want := fmt.Sprint(paths), "["+tc.path(tc.from)+" "+tc.path(tc.to)+"]"; got != want {
				t.Errorf("paths %s; want %s", got, want)
			}
			host := strings.TrimPrefix(srv.URL, "http://")
			if got, want := fmt.Sprint(keys), "["+host+"/"+tc.from+" "+host+"/"+tc.to+"]"; got != want {
				t.Errorf("fell back from and to %s; want %s", got, want)
			}
		})
	}
}
