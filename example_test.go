package rebound_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// flaky starts a server whose first n answers are status with body, and
// whose later answers are 200.
func flaky(n int32, status int, headers map[string]string, body string) *httptest.Server {
	var calls atomic.Int32
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= n {
			for k, v := range headers {
				w.Header().Set(k, v)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
		io.WriteString(w, `{"choices":[{"message":{"content":"hi"}}]}`)
	}))
}

// The quick start: wrap the default transport, use the client as always.
func Example() {
	srv := flaky(1, 429, map[string]string{"retry-after-ms": "20"},
		`{"error":{"type":"requests","code":"rate_limit_exceeded","message":"Rate limit reached"}}`)
	defer srv.Close()

	client := &http.Client{Transport: rebound.New(nil)}
	resp, err := client.Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(body))
	// Output: 200 {"choices":[{"message":{"content":"hi"}}]}
}

// A preset selects the service's own catalog: for the inference gateway,
// a 500 internal_error is final, so it is returned at once.
func ExampleWithPreset() {
	srv := flaky(1, 500, nil, `{"error":{"type":"server_error","code":"internal_error","message":"Unexpected internal gateway error."}}`)
	defer srv.Close()

	client := &http.Client{Transport: rebound.New(nil, rebound.WithPreset(rebound.Gateway))}
	resp, err := client.Get(srv.URL + "/v1/models")
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 500
}

// A custom classifier can add a rule and defer to a catalog for the rest.
func ExampleWithClassifier() {
	srv := flaky(1, 418, nil, `{"error":"teapot busy"}`)
	defer srv.Close()

	base := classify.OpenAI()
	cl := classify.Func(func(resp *http.Response, err error) classify.Decision {
		if resp != nil && resp.StatusCode == http.StatusTeapot {
			return classify.Decision{Verdict: classify.Retryable, Status: resp.StatusCode, Code: "teapot"}
		}
		return base.Classify(resp, err)
	})
	tr := rebound.New(nil, rebound.WithClassifier(cl),
		rebound.WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	resp.Body.Close()
	fmt.Println(resp.StatusCode)
	// Output: 200
}

// SlogObserver logs retries, give-ups and breaker changes.
func ExampleSlogObserver() {
	srv := flaky(1, 503, map[string]string{"Retry-After": "0"}, `{"error":{"code":"model_overloaded","message":"busy"}}`)
	defer srv.Close()

	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey || a.Key == "wait" || a.Key == "key" {
				return slog.Attr{} // drop what changes from run to run
			}
			return a
		},
	}))
	tr := rebound.New(nil, rebound.WithObserver(rebound.SlogObserver(logger)),
		rebound.WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
	resp, err := (&http.Client{Transport: tr}).Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	// Output: level=INFO msg="rebound retry" attempt=1 from_hint=false decision.verdict=retryable decision.status=503 decision.code=model_overloaded decision.evidence=body decision.request_id="" decision.retry_after=0s
}

// Per-model circuit breakers: a model that keeps failing is cut off while
// other models work. By default a call that meets an open breaker waits for
// its half-open verdict when the call's deadline leaves room; with FailFast
// (for callers with a fallback of their own) it fails at once with
// ErrCircuitOpen.
func ExampleWithBreaker() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/models/broken") {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "{}")
	}))
	defer srv.Close()

	tr := rebound.New(nil,
		rebound.WithRetry(retry.Policy{MaxAttempts: 1}),
		rebound.WithBreaker(breaker.Settings{MinRequests: 3, FailureRatio: 0.5, OpenTimeout: time.Minute, FailFast: true}))
	client := &http.Client{Transport: tr}
	call := func(model string) string {
		resp, err := client.Post(srv.URL+"/v1beta/models/"+model+":generateContent", "application/json", strings.NewReader("{}"))
		if err != nil {
			if errors.Is(err, rebound.ErrCircuitOpen) {
				return "circuit open"
			}
			return err.Error()
		}
		resp.Body.Close()
		return resp.Status
	}
	for i := 0; i < 4; i++ {
		fmt.Printf("broken: %s, healthy: %s\n", call("broken"), call("healthy"))
	}
	// Output:
	// broken: 503 Service Unavailable, healthy: 200 OK
	// broken: 503 Service Unavailable, healthy: 200 OK
	// broken: 503 Service Unavailable, healthy: 200 OK
	// broken: circuit open, healthy: 200 OK
}

// Client-side rate limits per model: a wait that cannot end before the
// deadline fails at once with ErrWouldExceedDeadline.
func ExampleWithRateLimits() {
	srv := flaky(0, 200, nil, "")
	defer srv.Close()

	tr := rebound.New(nil, rebound.WithRateLimits(ratelimit.Limits{
		Rules: []ratelimit.Rule{{Pattern: "*/gpt-4o", Limit: ratelimit.PerMinute(1)}},
	}))
	client := &http.Client{Transport: tr}
	for i := 0; i < 2; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o"}`))
		resp, err := client.Do(req)
		cancel()
		switch {
		case errors.Is(err, rebound.ErrWouldExceedDeadline):
			fmt.Println("would wait past the deadline")
		case err != nil:
			fmt.Println("error:", err)
		default:
			resp.Body.Close()
			fmt.Println(resp.StatusCode)
		}
	}
	// Output:
	// 200
	// would wait past the deadline
}

// When retries cannot help, the caller gets the response; classify turns it
// into one typed error, with credentials redacted.
func Example_apiError() {
	srv := flaky(1, 401, nil, `{"error":{"code":"invalid_api_key","message":"Invalid API key sk-proj-abc123secret","request_id":"req_42"}}`)
	defer srv.Close()

	resp, err := (&http.Client{Transport: rebound.New(nil)}).Get(srv.URL)
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	var apiErr *classify.APIError
	if errors.As(classify.ResponseError(resp), &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.Retryable)
		fmt.Println(apiErr)
	}
	// Output:
	// 401 invalid_api_key false
	// 401 invalid_api_key: Invalid API key sk-proj-… (request id req_42)
}

// A model that is overloaded falls back to another at the same host: the
// request is sent again as a copy naming the other model, and the response
// says which alternative answered.
func ExampleWithFallback() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(string(b), `"gpt-4o"`) {
			w.WriteHeader(503)
			io.WriteString(w, `{"error":{"code":"model_overloaded","message":"try later"}}`)
			return
		}
		io.WriteString(w, `{"model":"gpt-4o-mini","choices":[]}`)
	}))
	defer srv.Close()

	tr := rebound.New(nil, rebound.WithFallback("*/gpt-4o", rebound.Alternative{Model: "gpt-4o-mini"}))
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	alt, n := rebound.AnsweredBy(resp)
	fmt.Println(resp.StatusCode, string(b))
	fmt.Println("answered by alternative", n, alt.Model)
	// Output:
	// 200 {"model":"gpt-4o-mini","choices":[]}
	// answered by alternative 1 gpt-4o-mini
}

// A stream that sends its headers and then no event is abandoned after the
// first-event timeout and asked again.
func ExampleWithFirstEventTimeout() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // a server notices a client gone once it has read the request
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		if calls.Add(1) == 1 {
			<-r.Context().Done() // stalls until the client gives up
			return
		}
		io.WriteString(w, "data: {\"choices\":[{\"delta\":{\"content\":\"hi\"}}]}\n\ndata: [DONE]\n\n")
	}))
	defer srv.Close()

	tr := rebound.New(nil,
		rebound.WithFirstEventTimeout(50*time.Millisecond, "*/gpt-4o*"),
		rebound.WithRetry(retry.Policy{InitialInterval: 10 * time.Millisecond}))
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","stream":true}`))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Printf("%d after %d requests: %s", resp.StatusCode, calls.Load(), b)
	// Output:
	// 200 after 2 requests: data: {"choices":[{"delta":{"content":"hi"}}]}
	//
	// data: [DONE]
}

// A call whose first attempt has not been answered after the hedge delay
// is sent a second time; the first good answer wins and the slow attempt
// is cancelled.
func ExampleWithHedging() {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.ReadAll(r.Body) // a server notices a client gone once it has read the request
		if r.Header.Get("X-Attempt") == "1" {
			<-r.Context().Done() // a straggler
			return
		}
		calls.Add(1)
		io.WriteString(w, `{"choices":[{"message":{"content":"hi"}}]}`)
	}))
	defer srv.Close()

	// A fixed delay here; zero would mean the key's recent p95 latency.
	tr := rebound.New(nil, rebound.WithHedging(20*time.Millisecond, "*/gpt-4o-mini"), rebound.WithAttemptHeader("X-Attempt"))
	resp, err := (&http.Client{Transport: tr}).Post(srv.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o-mini"}`))
	if err != nil {
		fmt.Println("error:", err)
		return
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(b), "hedges charged:", tr.Stats().Budget.Retries)
	// Output:
	// 200 {"choices":[{"message":{"content":"hi"}}]} hedges charged: 1
}
