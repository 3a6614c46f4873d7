package rebound

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/gate"
	"github.com/rebound-http/rebound/retry"
)

// TestFallbackOfALargeGetBody: a body with GetBody larger than
// MaxBodyBuffer is replayable, so a model fault goes to the fallback, which
// sends the body GetBody gives (the model is in the path, as Gemini's and
// Bedrock's are). The body was read, bounded by MaxBodyBuffer, for the
// copy, and the fallback skipped: the call ended on the first 503.
func TestFallbackOfALargeGetBody(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	var paths []string
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) {
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
		if strings.Contains(r.URL.Path, "pro") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(503)
			io.WriteString(w, `{"error":{"code":503,"status":"UNAVAILABLE","message":"The model is overloaded."}}`)
			return
		}
		modelAnswer(w, "flash")
	})
	tr, ct := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxBodyBuffer: 16}),
		WithFallback("*/gemini-pro", Alternative{Model: "gemini-flash"}))
	body := `{"contents":[{"parts":[{"text":"` + strings.Repeat("x", 64) + `"}]}]}`
	req, _ := http.NewRequest("POST", srv.URL+"/v1beta/models/gemini-pro:generateContent", strings.NewReader(body)) // GetBody set
	resp, _, err := do(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if resp.StatusCode != 200 || len(paths) != 2 || paths[1] != "/v1beta/models/gemini-flash:generateContent" {
		t.Fatalf("upstream saw %v, status %d; want pro then flash, and 200", paths, resp.StatusCode)
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

// TestAttemptHeaderAfterAHedge: each request of a call carries its own
// attempt number: the retry after a hedged race is 3, the hedge took 2.
func TestAttemptHeaderAfterAHedge(t *testing.T) {
	clock := newFakeClock()
	hedged := make(chan struct{})
	var mu sync.Mutex
	var seen []string
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, n int) {
		a := r.Header.Get("X-Attempt")
		mu.Lock()
		seen = append(seen, a)
		mu.Unlock()
		switch n {
		case 1:
			<-hedged // answered after the hedge arrived
		case 2:
			close(hedged)
		}
		w.WriteHeader(500)
	})
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 2}),
		WithHedging(100*time.Millisecond, "*"), WithAttemptHeader("X-Attempt"))
	done := roundTripAsync(tr, post(t, srv.URL, chatBody))
	clock.WaitSleepers(t, 1)
	waitFor(t, func() bool { return len(srv.Models()) == 1 }, "the first attempt")
	clock.Advance(100 * time.Millisecond)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 3 || seen[0] == seen[2] || seen[1] == seen[2] {
		t.Fatalf("attempt headers %v: each request of the call should carry its own number", seen)
	}
}

// TestFallbackTransportErrorKeepsOwnKeysError: when no alternative serves,
// the caller gets the error of the call's own key (WithFallback), an
// *Error, not the raw error of an alternative's Transport.
func TestFallbackTransportErrorKeepsOwnKeysError(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{hangup: true})
	altErr := errors.New("alternative down")
	alt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, altErr
	})
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 1}),
		WithFallback("*", Alternative{Host: "other.example", Transport: alt}))
	_, _, err := do(t, tr, post(t, u.URL, chatBody))
	var e *Error
	if !errors.As(err, &e) || errors.Is(err, altErr) {
		t.Fatalf("err = %v (%T); want the own key's *Error", err, err)
	}
}

// TestFallbackCallsPayForRetries: a call whose own key's breaker is open
// goes to its fallback, which sends: the call reached an upstream, and
// pays for retries as any call does. With Ratio 1 each of ten calls is
// retried once (before, the fallback's request was not counted as the
// call's, and the ten got one retry between them: the floor).
func TestFallbackCallsPayForRetries(t *testing.T) {
	clock := newFakeClock()
	srv := newTailServer(t, func(w http.ResponseWriter, r *http.Request, model string, _ int) {
		w.WriteHeader(429) // retryable, and no evidence against small's breaker
	})
	tr, _ := newTestTransport(t, clock, false,
		WithRetry(retry.Policy{MaxAttempts: 2, Budget: retry.Budget{Ratio: 1, MinRetries: 1}}),
		WithBreaker(breaker.Settings{MinRequests: 1, FailureRatio: 1, OpenTimeout: time.Hour}),
		WithFallback("*/big", Alternative{Model: "small"}))
	body := `{"model":"big"}`
	// Open big's breaker directly.
	g := tr.gates.Get(tr.key(post(t, srv.URL, body), []byte(body)), clock.Now())
	a := tr.gates.Admit(g, clock.Now(), gate.Request{Attempt: 1})
	tr.gates.Report(&a.Ticket, classify.Decision{Verdict: classify.Retryable, Status: 503}, nil, false, time.Time{})
	const calls = 10
	for range calls {
		if _, _, err := do(t, tr, post(t, srv.URL, body)); err != nil {
			t.Fatal(err)
		}
	}
	got := srv.Models()
	for _, m := range got {
		if m != "small" {
			t.Fatalf("upstream saw %v with big's breaker open", got)
		}
	}
	if len(got) != 2*calls {
		t.Fatalf("%d requests for %d calls that each sent and may be retried once (Ratio 1); budget %+v",
			len(got), calls, tr.Stats().Budget)
	}
}

// TestHedgeLoserDoneWhenWinnerClosed: the hedge that loses its race may
// still be out when RoundTrip returns the winner, holding the caller's
// request (whose Header map it shares, and which send reads once it is
// answered). The caller may reuse its request once it has closed the
// winner's body (the RoundTripper contract): Close waits for the loser,
// cancelled, to be done. Run with -race: it was a data race.
func TestHedgeLoserDoneWhenWinnerClosed(t *testing.T) {
	clock := newFakeClock()
	var n atomic.Int32
	started, proceed := make(chan struct{}), make(chan struct{})
	inner := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if n.Add(1) == 1 {
			close(started)
			<-r.Context().Done() // cancelled: the hedge won
			<-proceed            // an answer that was on its way
			return &http.Response{StatusCode: 500, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("")), Request: r}, nil
		}
		return &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), Request: r}, nil
	})
	ended := make(chan struct{}, 2)
	tr := withClock(New(inner, WithHedging(10*time.Millisecond, "*"),
		WithObserver(Observer{OnAttempt: func(AttemptEvent) { ended <- struct{}{} }})), clock, true)
	req := post(t, "http://api.example", chatBody)
	req.Header.Set("Authorization", "Bearer sk-the-first-token-0123456789")
	type rt struct {
		resp *http.Response
		err  error
	}
	done := make(chan rt, 1)
	go func() { resp, err := tr.RoundTrip(req); done <- rt{resp, err} }()
	<-started
	clock.WaitSleepers(t, 1)
	clock.Advance(10 * time.Millisecond)
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	io.ReadAll(r.resp.Body)
	close(proceed)
	r.resp.Body.Close()
	// The call is over for the caller: it reuses its request.
	req.Header.Set("Authorization", "Bearer sk-the-next-token-9876543210")
	<-ended
	<-ended
}

// TestFallbackToAnotherHostKeepsTheBody: an alternative that changes only
// the host sends the caller's body as it is (from GetBody, not read for
// the copy), under the key of the new host and the body's model.
func TestFallbackToAnotherHostKeepsTheBody(t *testing.T) {
	clock := newFakeClock()
	down := newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, _ int) { w.WriteHeader(503) })
	got := make(chan []byte, 1)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
		modelAnswer(w, "ok")
	}))
	defer up.Close()
	upHost := strings.TrimPrefix(up.URL, "http://")
	var to string
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 1}),
		WithFallback("*", Alternative{Host: upHost}),
		WithObserver(Observer{OnFallback: func(e FallbackEvent) { to = e.To }}))
	resp, _, err := do(t, tr, post(t, down.URL, chatBody))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%v, %v", resp, err)
	}
	if b := <-got; string(b) != chatBody {
		t.Fatalf("the alternative got %q, want the caller's body", b)
	}
	if want := upHost + "/gpt-4o-mini"; to != want {
		t.Fatalf("fell back to %q, want %q", to, want)
	}
}

// TestFallbackEndTellsOneGiveUp: a call whose fallback chain ends on a
// failure tells OnGiveUp once, whichever way the chain ended: on an
// alternative's own Transport (which tells nothing itself), on an
// alternative sent through this Transport (which tells its own), or with
// no alternative that applies (the own key's end, held back for the chain).
func TestFallbackEndTellsOneGiveUp(t *testing.T) {
	failing := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("alternative down")
	})
	for _, tc := range []struct {
		name, body string
		alt        Alternative
		reason     Reason
	}{
		{"own transport", chatBody, Alternative{Host: "other.example", Transport: failing}, ReasonFatal},
		{"this transport", chatBody, Alternative{Model: "gpt-4o"}, ReasonAttempts},
		{"none applies", `{"messages":[]}`, Alternative{Model: "gpt-4o"}, ReasonAttempts}, // no model to replace
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			u := newUpstream(t, clock, reply{status: 503})
			var gaveUp []GiveUpEvent
			tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 2}),
				WithFallback("*", tc.alt),
				WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { gaveUp = append(gaveUp, e) }}))
			resp, err := tr.RoundTrip(post(t, u.URL, tc.body))
			if resp != nil {
				resp.Body.Close()
			}
			if len(gaveUp) != 1 || gaveUp[0].Reason != tc.reason {
				t.Fatalf("give-ups %+v (err %v); want one, %v", gaveUp, err, tc.reason)
			}
		})
	}
}

// TestFallbackTransportErrorScrubbed: an alternative's own Transport may
// be none of ours, and its error may quote the request's credentials: the
// give-up event tells it scrubbed.
func TestFallbackTransportErrorScrubbed(t *testing.T) {
	const key = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 503})
	leaky := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, errors.New("refused for api-key " + r.Header.Get("Api-Key"))
	})
	var gaveUp []GiveUpEvent
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxAttempts: 1}),
		WithFallback("*", Alternative{Host: "other.example", Transport: leaky}),
		WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { gaveUp = append(gaveUp, e) }}))
	req := post(t, u.URL, chatBody)
	req.Header.Set("Api-Key", key)
	resp, err := tr.RoundTrip(req)
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil && strings.Contains(err.Error(), key) {
		t.Fatalf("the caller's error holds the key: %v", err)
	}
	if len(gaveUp) != 1 {
		t.Fatalf("give-ups %+v, want one", gaveUp)
	}
	if g := gaveUp[0]; strings.Contains(g.Decision.Message, key) || g.Err != nil && strings.Contains(g.Err.Error(), key) {
		t.Fatalf("the give-up holds the key: %+v", g)
	}
}
