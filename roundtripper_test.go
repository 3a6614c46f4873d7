package rebound

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/retry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Seed-shaped answers.
var (
	inferkit429 = reply{status: 429, headers: map[string]string{"Retry-After": "1"},
		body: `{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"9f3c12a8-1"}}`}
	gateway500 = reply{status: 500,
		body: `{"error":{"type":"server_error","code":"internal_error","message":"Unexpected internal gateway error."}}`}
	skytells422 = reply{status: 422,
		body: `{"errorId":"INVALID_INPUT","message":"Input validation failed","requestId":"req_1"}`}
	infe502 = reply{status: 502,
		body: `{"error":{"message":"The upstream inference provider returned an error","type":"api_error","code":"api_error"}}`}
	infe401 = reply{status: 401,
		body: `{"error":{"message":"Invalid API key","type":"invalid_request_error","code":"invalid_api_key"}}`}
	infe402 = reply{status: 402,
		body: `{"error":{"message":"Insufficient credits","type":"invalid_request_error","code":"payment_required"}}`}
	ok200 = reply{status: 200, body: `{"id":"chatcmpl-1","choices":[]}`}
)

// do sends one request through tr and reads the whole answer.
func do(t *testing.T, tr http.RoundTripper, req *http.Request) (*http.Response, []byte, error) {
	t.Helper()
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, nil, err
	}
	b, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		t.Fatalf("reading the final body: %v", rerr)
	}
	return resp, b, nil
}

func post(t *testing.T, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return req
}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello"}]}`

func TestSeedScenarios(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		script   []reply
		wantHits int
		status   int
		minWait  time.Duration // the wait before the last attempt is at least this
	}{
		{"inferkit 429 rate_limited with Retry-After then 200", []Option{WithPreset(InferKit)}, []reply{inferkit429, ok200}, 2, 200, time.Second},
		{"inferkit 429 under the default classifier", nil, []reply{inferkit429, ok200}, 2, 200, time.Second},
		{"gateway 500 internal_error is not retried", []Option{WithPreset(Gateway)}, []reply{gateway500, ok200}, 1, 500, 0},
		{"skytells 422 INVALID_INPUT", []Option{WithPreset(Skytells)}, []reply{skytells422, ok200}, 1, 422, 0},
		{"infe 502, 502, 200", []Option{WithPreset(Infe)}, []reply{infe502, infe502, ok200}, 3, 200, 0},
		{"infe 401", []Option{WithPreset(Infe)}, []reply{infe401, ok200}, 1, 401, 0},
		{"infe 402", []Option{WithPreset(Infe)}, []reply{infe402, ok200}, 1, 402, 0},
		{"502 four times: attempts exhausted, last answer returned", nil, []reply{infe502}, 4, 502, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			u := newUpstream(t, clock, tc.script...)
			tr, ct := newTestTransport(t, clock, false, tc.opts...)
			resp, body, err := do(t, tr, post(t, u.URL, chatBody))
			if err != nil {
				t.Fatalf("RoundTrip: %v", err)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			hits := u.Hits()
			if len(hits) != tc.wantHits {
				t.Fatalf("upstream saw %d requests, want %d", len(hits), tc.wantHits)
			}
			if tc.minWait > 0 {
				if gap := hits[len(hits)-1].at.Sub(hits[len(hits)-2].at); gap < tc.minWait {
					t.Fatalf("retried %v after the hint's answer, want at least %v", gap, tc.minWait)
				}
			}
			if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
				t.Fatalf("%d response bodies opened, %d closed", o, c)
			}
		})
	}
}

func TestFinalBodyIntact(t *testing.T) {
	big := `{"error":{"code":"quota_exceeded","message":"` + strings.Repeat("x", 200<<10) + `"}}`
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 402, body: big})
	tr, _ := newTestTransport(t, clock, false)
	resp, body, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 402 || string(body) != big {
		t.Fatalf("status %d, body %d bytes; want 402 and the %d bytes sent", resp.StatusCode, len(body), len(big))
	}
}

func TestBodyReplayedByteIdentical(t *testing.T) {
	payload := `{"model":"m","messages":[{"role":"user","content":"` + strings.Repeat("é", 3000) + `"}]}`
	want := sha256.Sum256([]byte(payload))
	for _, tc := range []struct {
		name    string
		makeReq func(url string) *http.Request
	}{
		{"GetBody", func(url string) *http.Request {
			r, _ := http.NewRequest("POST", url, strings.NewReader(payload))
			return r
		}},
		{"no GetBody, buffered", func(url string) *http.Request {
			r, _ := http.NewRequest("POST", url, io.NopCloser(strings.NewReader(payload)))
			if r.GetBody != nil {
				t.Fatal("test setup: request has GetBody")
			}
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			u := newUpstream(t, clock, infe502, infe502, ok200)
			tr, _ := newTestTransport(t, clock, false)
			if _, _, err := do(t, tr, tc.makeReq(u.URL)); err != nil {
				t.Fatal(err)
			}
			hits := u.Hits()
			if len(hits) != 3 {
				t.Fatalf("%d requests, want 3", len(hits))
			}
			for i, h := range hits {
				if h.bodyHash != want {
					t.Fatalf("attempt %d sent a different body", i+1)
				}
			}
		})
	}
}

// closeTracker records whether a request body was closed.
type closeTracker struct {
	io.Reader
	closed bool
}

func (c *closeTracker) Close() error { c.closed = true; return nil }

func TestUnreplayableBodyGetsOneAttempt(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, infe502, ok200)
	tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{MaxBodyBuffer: 1024}))
	payload := strings.Repeat("a", 4096)
	body := &closeTracker{Reader: strings.NewReader(payload)}
	req, _ := http.NewRequest("POST", u.URL, body)
	resp, _, err := do(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 502 {
		t.Fatalf("status %d, want the 502 returned as is", resp.StatusCode)
	}
	hits := u.Hits()
	if len(hits) != 1 || hits[0].bodyHash != sha256.Sum256([]byte(payload)) {
		t.Fatalf("%d requests; want exactly one carrying the whole body", len(hits))
	}
	if !body.closed {
		t.Fatal("the caller's body was not closed")
	}
}

func TestCallerRequestNotModified(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, infe502, ok200)
	tr, _ := newTestTransport(t, clock, false, WithIdempotencyKey("Idempotency-Key"), WithAttemptHeader("X-Rebound-Attempt"))
	req := post(t, u.URL, chatBody)
	hdr := req.Header.Clone()
	resp, _, err := do(t, tr, req)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Header) != len(hdr) || req.Header.Get("Idempotency-Key") != "" {
		t.Fatalf("caller's headers changed: %v", req.Header)
	}
	if resp.Request != req {
		t.Fatal("resp.Request is not the caller's request")
	}
	hits := u.Hits()
	if len(hits) != 2 {
		t.Fatalf("%d requests, want 2", len(hits))
	}
	k1, k2 := hits[0].header.Get("Idempotency-Key"), hits[1].header.Get("Idempotency-Key")
	if k1 == "" || k1 != k2 {
		t.Fatalf("idempotency keys %q, %q: want one non-empty key on every attempt", k1, k2)
	}
	if a1, a2 := hits[0].header.Get("X-Rebound-Attempt"), hits[1].header.Get("X-Rebound-Attempt"); a1 != "1" || a2 != "2" {
		t.Fatalf("attempt headers %q, %q", a1, a2)
	}
}

func TestHintLongerThanCapOrDeadlineReturnsAtOnce(t *testing.T) {
	hour := reply{status: 429, headers: map[string]string{"Retry-After": "3600"}, body: `{"error":{"code":"rate_limited"}}`}
	five := reply{status: 429, headers: map[string]string{"Retry-After": "5"}, body: `{"error":{"code":"rate_limited"}}`}
	for _, tc := range []struct {
		name    string
		script  reply
		timeout time.Duration
	}{
		{"hint of one hour", hour, 0},
		{"deadline shorter than the hint", five, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := newFakeClock()
			u := newUpstream(t, clock, tc.script, ok200)
			tr, _ := newTestTransport(t, clock, false)
			req := post(t, u.URL, chatBody)
			if tc.timeout > 0 {
				// The fake clock does not move the context's deadline, so the
				// deadline is set on the fake clock's reading of "now".
				ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(tc.timeout))
				defer cancel()
				req = req.WithContext(ctx)
				tr.clk.now = time.Now
			}
			resp, _, err := do(t, tr, req)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 429 || len(u.Hits()) != 1 {
				t.Fatalf("status %d after %d requests, want the 429 after 1", resp.StatusCode, len(u.Hits()))
			}
			if s := clock.Slept(); len(s) != 0 {
				t.Fatalf("slept %v; want no sleep at all", s)
			}
		})
	}
}

func TestCancelDuringWaitReturnsPromptly(t *testing.T) {
	u := newUpstream(t, nil, reply{status: 503, headers: map[string]string{"Retry-After": "30"}})
	tr := New(nil) // real time: the wait would be 30 s
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u.onHit = func(*http.Request) { cancel() } // cancel while the answer is on its way
	req := post(t, u.URL, chatBody).WithContext(ctx)
	start := time.Now()
	_, err := tr.RoundTrip(req)
	if elapsed := time.Since(start); elapsed > 2*time.Second {
		t.Fatalf("returned after %v", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err %T is not *Error", err)
	}
}

func TestCancelMidWaitWithFakeClock(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 503, headers: map[string]string{"Retry-After": "30"}})
	tr, ct := newTestTransport(t, clock, true)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := tr.RoundTrip(post(t, u.URL, chatBody).WithContext(ctx))
		errc <- err
	}()
	clock.WaitSleepers(t, 1) // the call is waiting out the 30 s hint
	cancel()
	select {
	case err := <-errc:
		var e *Error
		if !errors.Is(err, context.Canceled) || !errors.As(err, &e) || e.Attempts != 1 || e.Last.Status != 503 {
			t.Fatalf("err = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("RoundTrip did not return after cancel")
	}
	if o, c := ct.opened.Load(), ct.closed.Load(); o != 1 || c != 1 {
		t.Fatalf("bodies opened %d closed %d, want 1 and 1", o, c)
	}
}

func TestTransportErrorRetriedThenError(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{hangup: true}, ok200)
	tr, _ := newTestTransport(t, clock, false)
	resp, _, err := do(t, tr, post(t, u.URL, chatBody))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("resp %v err %v; want a 200 after the hang-up", resp, err)
	}

	u2 := newUpstream(t, clock, reply{hangup: true})
	_, err = tr.RoundTrip(post(t, u2.URL, chatBody))
	var e *Error
	if !errors.As(err, &e) || e.Attempts != 4 || e.Last.Verdict != classify.Retryable || e.Last.Evidence != classify.ByTransport {
		t.Fatalf("err = %#v", err)
	}
	if len(u2.Hits()) != 4 {
		t.Fatalf("%d requests, want 4", len(u2.Hits()))
	}
}

// TestBudgetBoundsAmplification: an upstream that fails everything gets at
// most Ratio more requests than calls (plus the floor), whether its answers
// carry a hint or not.
func TestBudgetBoundsAmplification(t *testing.T) {
	for _, rep := range []reply{
		{status: 503, body: `{"error":{"code":"model_overloaded"}}`},
		{status: 503, headers: map[string]string{"Retry-After-Ms": "10"}, body: `{"error":{"code":"model_overloaded"}}`},
	} {
		clock := newFakeClock()
		u := newUpstream(t, clock, rep)
		budget := retry.Budget{Ratio: 0.2, MinRetries: 5, Window: time.Hour} // the sleeps of every call move the one clock
		tr, _ := newTestTransport(t, clock, false, WithRetry(retry.Policy{Budget: budget}),
			WithBreaker(breaker.Settings{Disabled: true}))
		const calls = 200
		var wg sync.WaitGroup
		for i := 0; i < calls; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := tr.RoundTrip(post(t, u.URL, chatBody))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
		limit := int(calls*(1+budget.Ratio)) + budget.MinRetries
		if n := len(u.Hits()); n > limit || n <= calls {
			t.Fatalf("%v: upstream saw %d requests for %d calls; want more than %d and at most %d", rep.headers, n, calls, calls, limit)
		}
		st := tr.Stats().Budget
		if st.Calls != calls || st.Denied == 0 {
			t.Fatalf("budget stats %+v", st)
		}
	}
}

// TestFailingModelLeavesOthersRetries: a model that fails every call
// spends its own calls' share of the retry budget, and the floor, but not
// the retries the other model's calls pay for: the other model, whose
// calls fail once and then succeed, keeps every retry once its calls pay
// for one (1/Ratio calls: until then the floor, which the failing model
// may have spent, is all there is). With one budget for the Transport, the
// failing model spent it and 79 of the other's 100 calls failed. Over
// both, the upstream gets no more than the budget allows.
// TestBudgetCountsOnlyCallsSent: calls refused before they send (here,
// a quota spent for an hour) pay for no retry; the budget counts the calls
// that reached the upstream.
func TestBudgetCountsOnlyCallsSent(t *testing.T) {
	clock := newFakeClock()
	u := newUpstream(t, clock, reply{status: 200, body: `{"ok":true}`, headers: openAIQuota("0", "1h")})
	tr, _ := newTestTransport(t, clock, false)
	if _, _, err := do(t, tr, post(t, u.URL, chatBody)); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		var e *Error
		if _, err := tr.RoundTrip(post(t, u.URL, chatBody)); !errors.As(err, &e) || e.Reason != ReasonQuotaSpent {
			t.Fatalf("err = %v, want ReasonQuotaSpent", err)
		}
	}
	if n := len(u.Hits()); n != 1 {
		t.Fatalf("%d requests sent, want 1", n)
	}
	if b := tr.Stats().Budget; b.Calls != 1 {
		t.Fatalf("budget %+v: want 1 call, the one sent", b)
	}
}

func TestFailingModelLeavesOthersRetries(t *testing.T) {
	clock := newFakeClock()
	var mu sync.Mutex
	sent := map[string]int{}
	failedOnce := map[string]bool{}
	next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		b, _ := io.ReadAll(r.Body)
		model := "m-up"
		if strings.Contains(string(b), "m-down") {
			model = "m-down"
		}
		mu.Lock()
		defer mu.Unlock()
		sent[model]++
		status := 200
		call := r.Header.Get("X-Call")
		switch {
		case model == "m-down":
			status = 503
		case !failedOnce[call]:
			failedOnce[call] = true
			status = 502
		}
		return &http.Response{StatusCode: status, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(`{}`)), Request: r}, nil
	})
	budget := retry.Budget{Ratio: 0.2, MinRetries: 5, Window: time.Hour}
	tr := withClock(New(next, WithRetry(retry.Policy{Budget: budget}), WithBreaker(breaker.Settings{Disabled: true})), clock, false)
	const calls = 100
	upFailed := 0
	for i := range calls {
		for _, model := range []string{"m-down", "m-up"} {
			req := post(t, "http://api.test", `{"model":"`+model+`","messages":[]}`)
			req.Header.Set("X-Call", strconv.Itoa(i))
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if model == "m-up" && resp.StatusCode != 200 && float64(i+1)*budget.Ratio >= 1 {
				upFailed++
			}
		}
	}
	if upFailed > 0 {
		t.Errorf("%d of m-up's calls that paid for a retry failed: the failing model spent their retries", upFailed)
	}
	if limit := calls + int(budget.Ratio*calls) + budget.MinRetries; sent["m-down"] > limit {
		t.Errorf("m-down got %d requests for %d calls, more than its share allows (%d)", sent["m-down"], calls, limit)
	}
	if st := tr.Stats().Budget; st.Denied == 0 {
		t.Errorf("budget stats %+v: want m-down's retries denied", st)
	}
}

func TestInvalidConfiguration(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"negative attempts", WithRetry(retry.Policy{MaxAttempts: -1}), "MaxAttempts"},
		{"cap below initial", WithRetry(retry.Policy{InitialInterval: time.Second, MaxInterval: time.Millisecond}), "MaxInterval"},
		{"unknown preset", WithPreset("nope"), "unknown preset"},
		{"nil classifier", WithClassifier(nil), "WithClassifier"},
		{"bad header", WithAttemptHeader("bad header"), "header"},
		{"bad breaker ratio", WithBreaker(breaker.Settings{FailureRatio: 2}), "FailureRatio"},
		{"disabled breaker still validated", WithBreaker(breaker.Settings{Disabled: true, OpenTimeout: -1}), "OpenTimeout"},
		{"bad catalog", WithClassifier(&classify.Catalog{Name: "x", Codes: map[string]classify.Verdict{"": classify.Fatal},
			Statuses: map[int]classify.Verdict{99: classify.Fatal}}), "Statuses[99]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := New(nil, tc.opt)
			err := tr.Err()
			if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v; want ErrInvalidConfig mentioning %q", err, tc.want)
			}
			body := &closeTracker{Reader: strings.NewReader("x")}
			req, _ := http.NewRequest("POST", "http://127.0.0.1:1/", body)
			if _, err := tr.RoundTrip(req); !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("RoundTrip err = %v", err)
			}
			if !body.closed {
				t.Fatal("request body not closed")
			}
		})
	}
}

func TestDefaultClientJustWorks(t *testing.T) {
	u := newUpstream(t, nil, ok200)
	client := &http.Client{Transport: New(nil)}
	resp, err := client.Post(u.URL, "application/json", bytes.NewReader([]byte(chatBody)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestErrorNeverLeaksSecrets(t *testing.T) {
	e := &Error{Key: "api.example.com/m", Attempts: 2, Last: classify.Decision{Status: 401},
		Err: errors.New("upstream said: key sk-proj-abcdef1234567890 is invalid; Bearer ik_live_secret123")}
	msg := e.Error()
	for _, s := range []string{"abcdef1234567890", "secret123"} {
		if strings.Contains(msg, s) {
			t.Fatalf("Error() leaks %q: %s", s, msg)
		}
	}
}

// TestSentCredentialsNeverTold: a token without a known prefix, sent in
// Authorization and in ?key=, echoed by a transport error and by a
// classifier of the user's that copies the body, appears in no error, no
// observer event and no log line: the Transport cuts the request's own
// credentials out by their values.
func TestSentCredentialsNeverTold(t *testing.T) {
	const token, query = "Zq81mNs0pLk2vTq9", "plainKey0001x"
	for _, tc := range []struct {
		name string
		next http.RoundTripper
	}{
		{"transport error", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, errors.New("auth proxy refused " + r.Header.Get("Authorization") + " for " + r.URL.String())
		})},
		{"echoed body", roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 401, Header: http.Header{}, Request: r,
				Body: io.NopCloser(strings.NewReader("bad token " + token))}, nil
		})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var told []string
			var logged bytes.Buffer
			slogObs := SlogObserver(slog.New(slog.NewTextHandler(&logged, nil)))
			echo := classify.Func(func(resp *http.Response, err error) classify.Decision {
				if err != nil {
					return classify.Decision{Verdict: classify.Retryable, Message: err.Error()}
				}
				b, _ := io.ReadAll(resp.Body)
				return classify.Decision{Status: resp.StatusCode, Verdict: classify.Fatal, Message: string(b), RequestID: "req-" + token}
			})
			tr := New(tc.next, WithClassifier(echo), WithRetry(retry.Policy{MaxAttempts: 1}), WithObserver(Observer{
				OnAttempt: func(e AttemptEvent) {
					told = append(told, e.Decision.Message, e.Decision.RequestID)
					slogObs.OnAttempt(e)
				},
				OnGiveUp: func(e GiveUpEvent) { told = append(told, e.Decision.Message, e.Err.Error()); slogObs.OnGiveUp(e) },
			}))
			req, _ := http.NewRequest("POST", "https://api.example.com/v1/chat?key="+query, strings.NewReader(chatBody))
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := tr.RoundTrip(req)
			if err != nil {
				told = append(told, err.Error())
			} else {
				resp.Body.Close()
			}
			told = append(told, logged.String())
			if len(told) < 3 {
				t.Fatalf("told %q: want the attempt and its end", told)
			}
			for _, s := range told {
				for _, secret := range []string{token, query} {
					if strings.Contains(s, secret) {
						t.Errorf("%q tells the credential %q", s, secret)
					}
				}
			}
		})
	}
}

// TestSlogObserverWithoutAnswer: a call that ends, or leaves for its
// fallback, before any attempt has no answer to log, and logs none (not a
// zero Decision, which reads as a success).
func TestSlogObserverWithoutAnswer(t *testing.T) {
	var logged bytes.Buffer
	o := SlogObserver(slog.New(slog.NewTextHandler(&logged, nil)))
	o.OnGiveUp(GiveUpEvent{Context: context.Background(), Key: "h/m", Reason: ReasonCircuitOpen, Err: ErrCircuitOpen})
	o.OnFallback(FallbackEvent{Context: context.Background(), Key: "h/m", To: "h/n", Alternative: 1, Reason: ReasonCircuitOpen})
	o.OnGiveUp(GiveUpEvent{Context: context.Background(), Key: "h/m", Attempts: 1, Reason: ReasonAttempts,
		Decision: classify.Decision{Verdict: classify.Retryable, Status: 503}})
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("logged %q; want 3 lines", lines)
	}
	for _, l := range lines[:2] {
		if strings.Contains(l, "decision.") {
			t.Errorf("%q: logs a decision for a call that had no answer", l)
		}
	}
	if !strings.Contains(lines[2], "decision.verdict=retryable decision.status=503") {
		t.Errorf("%q: want the last answer's decision", lines[2])
	}
}
