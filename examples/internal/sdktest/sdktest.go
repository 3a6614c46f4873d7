// Package sdktest is the test suite every example SDK runs: one set of
// scenarios, scripted on a fake upstream and asserted on what the upstream
// really received, run over each SDK's description (as uber-go/ratelimit
// runs one suite over every limiter).
//
// An SDK's test is its description and a call to Run:
//
//	func TestSDK(t *testing.T) {
//		sdktest.Run(t, sdktest.SDK[openai.Client]{SDK: sdk, APIKey: "sk-test", ...})
//	}
//
// Where SDKs legitimately differ, the difference is a field of SDK, so each
// SDK states what it does and the suite holds it to that.
package sdktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/examples/internal/demo"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
	"github.com/rebound-http/rebound/retry"
)

// SDK describes one SDK, whose clients have type C, to the suite.
type SDK[C any] struct {
	// SDK is the description the SDK's example program runs the demo with.
	demo.SDK[C]

	// APIKey is the key the SDK's NewClient sends. No error text may show
	// it.
	APIKey string

	// RetryCountHeader is the request header in which the SDK numbers its
	// own tries ("X-Stainless-Retry-Count"), or "" if it sends none. When
	// set, every request the upstream sees must say 0: the SDK's retries
	// are off, and rebound's retries are copies of the SDK's one request.
	RetryCountHeader string

	// CancelPassesReboundError says what the SDK returns when the call is
	// cancelled while rebound waits to retry. True: the *rebound.Error from
	// the transport, as http.Client.Do wrapped it, whose Last is the 429
	// being waited on (go-openai). False: the context's error alone, with
	// no *rebound.Error in its chain, because the SDK checks the context
	// first (openai-go, anthropic-sdk-go).
	CancelPassesReboundError bool
}

// Run runs the suite over sdk, one subtest per scenario.
func Run[C any](t *testing.T, sdk SDK[C]) {
	t.Helper()
	tests := []struct {
		name string
		test func(*testing.T, SDK[C])
	}{
		{"RateLimitHintIsHonoured", testRateLimitHintIsHonoured[C]},
		{"RetryableThenSuccess", testRetryableThenSuccess[C]},
		{"RetriesDoNotMultiply", testRetriesDoNotMultiply[C]},
		{"FatalIsTheSDKsError", testFatalIsTheSDKsError[C]},
		{"OpenBreakerThroughTheSDK", testOpenBreakerThroughTheSDK[C]},
		{"DeadlineShorterThanHint", testDeadlineShorterThanHint[C]},
		{"CancelDuringWait", testCancelDuringWait[C]},
		{"Demo", testDemo[C]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.test(t, sdk) })
	}
}

// fast is the retry policy of the tests: rebound's defaults, with backoff in
// milliseconds instead of seconds. Server hints are still honoured in full.
var fast = retry.Policy{InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond}

// setup starts a fake upstream and a client of sdk on rebound configured by
// opts (after the API's preset and the fast policy), and stops both when the
// test ends.
func setup[C any](t *testing.T, sdk SDK[C], opts ...rebound.Option) (*fakeupstream.Server, C) {
	t.Helper()
	up := fakeupstream.Start()
	base := &http.Transport{}
	t.Cleanup(func() {
		base.CloseIdleConnections()
		up.Close()
	})
	rt := rebound.New(base, append([]rebound.Option{rebound.WithPreset(sdk.API.Preset), rebound.WithRetry(fast)}, opts...)...)
	if err := rt.Err(); err != nil {
		t.Fatalf("rebound.New: %v", err)
	}
	return up, sdk.NewClient(up.URL+sdk.API.BasePath, rt)
}

// wantSDKRetriesOff asserts that every request up saw is the SDK's first
// try, if the SDK numbers its tries (see SDK.RetryCountHeader).
func wantSDKRetriesOff[C any](t *testing.T, sdk SDK[C], up *fakeupstream.Server) {
	t.Helper()
	if sdk.RetryCountHeader == "" {
		return
	}
	for i, r := range up.Requests(sdk.API.Path) {
		if got := r.Header.Get(sdk.RetryCountHeader); got != "0" {
			t.Errorf("request %d: %s = %q, want 0 (SDK retries off)", i+1, sdk.RetryCountHeader, got)
		}
	}
}

// key returns the rebound key of sdk's model on up: host/model.
func key[C any](t *testing.T, sdk SDK[C], up *fakeupstream.Server) string {
	t.Helper()
	u, err := url.Parse(up.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host + "/" + sdk.Model
}

func testRateLimitHintIsHonoured[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	const hint = 50 * time.Millisecond
	up.Script(sdk.API.Path, sdk.API.RateLimited(hint), sdk.API.OK(sdk.Model, "Hello!"))

	answer, err := sdk.Ask(context.Background(), client)
	if err != nil || answer != "Hello!" {
		t.Fatalf("ask = %q, %v; want Hello!, nil", answer, err)
	}
	reqs := up.Requests(sdk.API.Path)
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests, want 2", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < hint {
		t.Errorf("retry came %v after the 429, before its %v hint", gap, hint)
	}
	wantSDKRetriesOff(t, sdk, up)
}

func testRetryableThenSuccess[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	up.Script(sdk.API.Path, sdk.API.Retryable(), sdk.API.Retryable(), sdk.API.OK(sdk.Model, "Hello!"))

	answer, err := sdk.Ask(context.Background(), client)
	if err != nil || answer != "Hello!" {
		t.Fatalf("ask = %q, %v; want Hello!, nil", answer, err)
	}
	if got := up.Count(sdk.API.Path); got != 3 {
		t.Errorf("upstream saw %d requests, want 3 (two %ds retried by rebound)", got, sdk.API.RetryableStatus)
	}
	wantSDKRetriesOff(t, sdk, up)
}

// With the SDK's retries off, a call that keeps failing costs exactly
// rebound's attempts, and the SDK reports the last response as its own error.
func testRetriesDoNotMultiply[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	up.Script(sdk.API.Path, sdk.API.Retryable())

	_, err := sdk.Ask(context.Background(), client)
	status, code, ok := sdk.APIError(err)
	if !ok || status != sdk.API.RetryableStatus || code != sdk.API.RetryableCode {
		t.Fatalf("err = %v, want an %s with status %d code %q", err, sdk.ErrorType, sdk.API.RetryableStatus, sdk.API.RetryableCode)
	}
	if got, want := up.Count(sdk.API.Path), retry.DefaultMaxAttempts; got != want {
		t.Errorf("upstream saw %d requests, want %d (rebound's attempts, SDK retries off)", got, want)
	}
	wantSDKRetriesOff(t, sdk, up)
}

func testFatalIsTheSDKsError[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	up.Script(sdk.API.Path, sdk.API.Fatal())

	_, err := sdk.Ask(context.Background(), client)
	status, code, ok := sdk.APIError(err)
	if !ok {
		t.Fatalf("err = %#v, want an %s", err, sdk.ErrorType)
	}
	if status != http.StatusUnauthorized || code != sdk.API.FatalCode {
		t.Errorf("got status %d code %q, want 401 %s", status, code, sdk.API.FatalCode)
	}
	if got := up.Count(sdk.API.Path); got != 1 {
		t.Errorf("upstream saw %d requests, want 1 (a 401 is not retried)", got)
	}
	if sdk.APIKey == "" {
		t.Fatal("SDK.APIKey is empty; the suite cannot check that errors hide the key")
	}
	if strings.Contains(err.Error(), sdk.APIKey) {
		t.Errorf("error text %q shows the API key", err)
	}
}

// The SDK returns the transport's error as http.Client.Do wrapped it (in a
// *url.Error), so rebound's sentinel and typed error are reachable.
func testOpenBreakerThroughTheSDK[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk,
		rebound.WithRetry(retry.Policy{MaxAttempts: 1}),
		rebound.WithBreaker(breaker.Settings{MinRequests: 2, OpenTimeout: time.Minute, FailFast: true}),
	)
	up.Script(sdk.API.Path, sdk.API.Retryable())
	ctx := context.Background()
	for i := range 2 {
		if _, err := sdk.Ask(ctx, client); err == nil {
			t.Fatalf("call %d succeeded against a %d", i+1, sdk.API.RetryableStatus)
		}
	}

	_, err := sdk.Ask(ctx, client)
	if !errors.Is(err, rebound.ErrCircuitOpen) {
		t.Fatalf("err = %v, want errors.Is(err, rebound.ErrCircuitOpen)", err)
	}
	var rerr *rebound.Error
	if !errors.As(err, &rerr) {
		t.Fatalf("err = %v, want a *rebound.Error", err)
	}
	if want := key(t, sdk, up); rerr.Key != want {
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
	if got := up.Count(sdk.API.Path); got != 2 {
		t.Errorf("upstream saw %d requests, want 2 (the open breaker sent none)", got)
	}
}

// A 429 asking for longer than the caller's deadline comes back at once as
// the SDK's own error (not context.DeadlineExceeded: the deadline has not
// passed). The 429 delays no other caller: the next call is sent.
func testDeadlineShorterThanHint[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	const hint = 10 * time.Second
	up.Script(sdk.API.Path, sdk.API.RateLimited(hint), sdk.API.OK(sdk.Model, "too late"))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()

	start := time.Now()
	_, err := sdk.Ask(ctx, client)
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("call took %v; want it back at once, well under the %v hint", elapsed, hint)
	}
	if status, _, ok := sdk.APIError(err); !ok || status != http.StatusTooManyRequests {
		t.Fatalf("err = %v, want an %s with status 429", err, sdk.ErrorType)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v matches context.DeadlineExceeded; the deadline has not passed", err)
	}

	// A single 429 is no evidence that the model's quota is spent: the
	// next caller is not held, and gets its answer.
	if _, err = sdk.Ask(ctx, client); err != nil {
		t.Fatalf("second call: err = %v, want the upstream's answer", err)
	}
	if got := up.Count(sdk.API.Path); got != 2 {
		t.Errorf("upstream saw %d requests, want 2", got)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("both calls took %v; want them back at once", elapsed)
	}
}

// Cancelling the call while rebound waits out a hint stops the wait at once,
// and errors.Is finds context.Canceled; whether rebound's *rebound.Error
// comes through as well is the SDK's choice (SDK.CancelPassesReboundError).
func testCancelDuringWait[C any](t *testing.T, sdk SDK[C]) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// OnRetry runs just before rebound waits: cancel there, with no request
	// in flight.
	up, client := setup(t, sdk, rebound.WithObserver(rebound.Observer{
		OnRetry: func(rebound.RetryEvent) { cancel() },
	}))
	up.Script(sdk.API.Path, sdk.API.RateLimited(30*time.Second))

	start := time.Now()
	_, err := sdk.Ask(ctx, client)
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("call took %v after the cancel; want it back at once", elapsed)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
	var rerr *rebound.Error
	passed := errors.As(err, &rerr)
	switch {
	case sdk.CancelPassesReboundError && (!passed || rerr.Last.Status != http.StatusTooManyRequests):
		t.Errorf("err = %v, want a *rebound.Error whose last answer was the 429", err)
	case !sdk.CancelPassesReboundError && passed:
		t.Errorf("err = %v wraps a *rebound.Error; the SDK was expected to return ctx.Err()", err)
	}
	if got := up.Count(sdk.API.Path); got != 1 {
		t.Errorf("upstream saw %d requests, want 1", got)
	}
}

// The demo the example program runs prints what happened.
func testDemo[C any](t *testing.T, sdk SDK[C]) {
	up, client := setup(t, sdk)
	var out bytes.Buffer
	if err := demo.Run(context.Background(), &out, up, sdk.SDK, client, 20*time.Millisecond); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		`"Hello!" after 2 requests`,
		fmt.Sprintf(`%s, then 200: "Hello!" after 2 requests`, sdk.API.RetryableName),
		fmt.Sprintf("401: %s 401 %s after 1 request", sdk.ErrorType, sdk.API.FatalCode),
		fmt.Sprintf("429 asking for 1m with 2s left: %s 429, back in", sdk.ErrorType),
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
}
