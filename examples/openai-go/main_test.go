package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fast is the retry policy of the tests: rebound's defaults, with backoff in
// milliseconds instead of seconds. Server hints are still honoured in full.
var fast = retry.Policy{InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond}

// setup starts a fake upstream and an OpenAI client on rebound configured by
// opts (after the OpenAI preset and the fast policy), and stops both when the
// test ends.
func setup(t *testing.T, opts ...rebound.Option) (*fakeupstream.Server, openai.Client) {
	t.Helper()
	up := fakeupstream.Start()
	base := &http.Transport{}
	t.Cleanup(func() {
		base.CloseIdleConnections()
		up.Close()
	})
	rt := rebound.New(base, append([]rebound.Option{rebound.WithPreset(rebound.OpenAI), rebound.WithRetry(fast)}, opts...)...)
	if err := rt.Err(); err != nil {
		t.Fatalf("rebound.New: %v", err)
	}
	return up, newClient(up.URL+"/v1", rt)
}

// wantSDKRetriesOff asserts that every request up saw is the SDK's first try:
// the SDK numbers its own retries in X-Stainless-Retry-Count, and rebound's
// retries are copies of the SDK's one request.
func wantSDKRetriesOff(t *testing.T, up *fakeupstream.Server) {
	t.Helper()
	for i, r := range up.Requests(path) {
		if got := r.Header.Get("X-Stainless-Retry-Count"); got != "0" {
			t.Errorf("request %d: X-Stainless-Retry-Count = %q, want 0 (SDK retries off)", i+1, got)
		}
	}
}

func TestRateLimitHintIsHonoured(t *testing.T) {
	up, client := setup(t)
	const hint = 50 * time.Millisecond
	up.Script(path, fakeupstream.OpenAIRateLimited(hint), fakeupstream.OpenAIChat(model, "Hello!"))

	answer, err := ask(context.Background(), client)
	if err != nil || answer != "Hello!" {
		t.Fatalf("ask = %q, %v; want Hello!, nil", answer, err)
	}
	reqs := up.Requests(path)
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < hint {
		t.Errorf("retry came %v after the 429, before its %v hint", gap, hint)
	}
	wantSDKRetriesOff(t, up)
}

func TestRetryableThenSuccess(t *testing.T) {
	up, client := setup(t)
	up.Script(path, fakeupstream.OpenAIUnavailable(), fakeupstream.OpenAIUnavailable(), fakeupstream.OpenAIChat(model, "Hello!"))

	answer, err := ask(context.Background(), client)
	if err != nil || answer != "Hello!" {
		t.Fatalf("ask = %q, %v; want Hello!, nil", answer, err)
	}
	if got := up.Count(path); got != 3 {
		t.Errorf("upstream saw %d requests, want 3 (two 503s retried by rebound)", got)
	}
	wantSDKRetriesOff(t, up)
}

// With the SDK's retries off, a call that keeps failing costs exactly
// rebound's attempts, and the SDK reports the last response as its own error.
func TestRetriesDoNotMultiply(t *testing.T) {
	up, client := setup(t)
	up.Script(path, fakeupstream.OpenAIUnavailable())

	_, err := ask(context.Background(), client)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want an *openai.Error with status 503", err)
	}
	if got, want := up.Count(path), retry.DefaultMaxAttempts; got != want {
		t.Errorf("upstream saw %d requests, want %d (rebound's attempts, SDK retries off)", got, want)
	}
	wantSDKRetriesOff(t, up)
}

func TestFatalIsTheSDKsError(t *testing.T) {
	up, client := setup(t)
	up.Script(path, fakeupstream.OpenAIInvalidKey())

	_, err := ask(context.Background(), client)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("err = %#v, want an *openai.Error", err)
	}
	if apiErr.StatusCode != http.StatusUnauthorized || apiErr.Code != "invalid_api_key" {
		t.Errorf("got status %d code %q, want 401 invalid_api_key", apiErr.StatusCode, apiErr.Code)
	}
	if got := up.Count(path); got != 1 {
		t.Errorf("upstream saw %d requests, want 1 (a 401 is not retried)", got)
	}
	if strings.Contains(err.Error(), "sk-test") {
		t.Errorf("error text %q shows the API key", err)
	}
}

// openai-go returns the transport's error as http.Client.Do wrapped it (in a
// *url.Error), so rebound's sentinel and typed error are reachable.
func TestOpenBreakerThroughTheSDK(t *testing.T) {
	up, client := setup(t,
		rebound.WithRetry(retry.Policy{MaxAttempts: 1}),
		rebound.WithBreaker(breaker.Settings{MinRequests: 2, OpenTimeout: time.Minute}),
	)
	up.Script(path, fakeupstream.OpenAIUnavailable())
	ctx := context.Background()
	for i := range 2 {
		if _, err := ask(ctx, client); err == nil {
			t.Fatalf("call %d succeeded against a 503", i+1)
		}
	}

	_, err := ask(ctx, client)
	if !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("err = %v, want errors.Is(err, rebound.ErrCircuitOpen)", err)
	}
	var rerr *rebound.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %v, want a *rebound.Error", err)
	}
	if want := hostOf(t, up.URL) + "/" + model; rerr.Key != want {
		t.Errorf("Key = %q, want %q", rerr.Key, want)
	}
	var oerr *breaker.OpenError
	if !errors.As(err, &oerr) || !oerr.Until.After(time.Now()) {
		t.Errorf("err = %v, want a *breaker.OpenError saying when the breaker turns half-open", err)
	}
	var uerr *url.Error
	if !errors.As(err, &uerr) {
		t.Errorf("err = %T, want http.Client's *url.Error around rebound's error", err)
	}
	if got := up.Count(path); got != 2 {
		t.Errorf("upstream saw %d requests, want 2 (the open breaker sent none)", got)
	}
}

// A 429 asking for longer than the caller's deadline comes back at once as
// the SDK's *openai.Error (not context.DeadlineExceeded: the deadline has not
// passed). The next call to the cooling-down model fails before sending
// anything, with rebound.ErrWouldExceedDeadline.
func TestDeadlineShorterThanHint(t *testing.T) {
	up, client := setup(t)
	const hint = 10 * time.Second
	up.Script(path, fakeupstream.OpenAIRateLimited(hint), fakeupstream.OpenAIChat(model, "too late"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	start := time.Now()
	_, err := ask(ctx, client)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("call took %v; want it back at once, well under the %v hint", elapsed, hint)
	}
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want an *openai.Error with status 429", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v matches context.DeadlineExceeded; the deadline has not passed", err)
	}

	_, err = ask(ctx, client)
	if !errors.Is(err, rebound.ErrWouldExceedDeadline) {
		t.Fatalf("second call: err = %v, want errors.Is(err, rebound.ErrWouldExceedDeadline)", err)
	}
	var rerr *rebound.Error
	if !errors.As(err, &rerr) || rerr.Key != hostOf(t, up.URL)+"/"+model {
		t.Errorf("second call: err = %v, want a *rebound.Error for this model", err)
	}
	var werr *ratelimit.WaitError
	if !errors.As(err, &werr) || werr.Wait <= 2*time.Second {
		t.Errorf("second call: err = %v, want a *ratelimit.WaitError with the cool-down's wait (up to %v)", err, hint)
	}
	if got := up.Count(path); got != 1 {
		t.Errorf("upstream saw %d requests, want 1", got)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("both calls took %v; want them back at once", elapsed)
	}
}

// Cancelling the call while rebound waits out a hint stops the wait at once.
// The SDK checks the context before anything else once the transport
// returns, so it returns the context's error itself, not rebound's.
func TestCancelDuringWait(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// OnRetry runs just before rebound waits: cancel there, with no request
	// in flight.
	up, client := setup(t, rebound.WithObserver(rebound.Observer{
		OnRetry: func(rebound.RetryEvent) { cancel() },
	}))
	up.Script(path, fakeupstream.OpenAIRateLimited(30*time.Second))

	start := time.Now()
	_, err := ask(ctx, client)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("call took %v after the cancel; want it back at once", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var rerr *rebound.Error
	if errors.As(err, &rerr) {
		t.Errorf("err = %v wraps a *rebound.Error; the SDK was expected to return ctx.Err()", err)
	}
	if got := up.Count(path); got != 1 {
		t.Errorf("upstream saw %d requests, want 1", got)
	}
}

func TestDemo(t *testing.T) {
	up, client := setup(t)
	var out bytes.Buffer
	if err := demo(context.Background(), &out, up, client, 20*time.Millisecond); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`"Hello!" after 2 requests`,
		`503, then 200: "Hello!" after 2 requests`,
		"401: *openai.Error 401 invalid_api_key after 1 request",
		"429 asking for 1m with 2s left: *openai.Error 429, back in",
		"cools down: rebound.ErrWouldExceedDeadline, 1 request sent in all",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}

func hostOf(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
