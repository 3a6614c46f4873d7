package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/failsafe-go/failsafe-go/circuitbreaker"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
	"go.uber.org/goleak"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/bench/sim"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args      []string
		wantErr   string
		scenarios []string
		clients   []string
	}{
		{args: nil, scenarios: sim.Names(), clients: []string{clientBare, clientNaive, clientRetryable, clientFailsafe, clientRebound}},
		{args: []string{"-clients", "rebound-failfast,rebound"}, scenarios: sim.Names(),
			clients: []string{clientRebound, clientReboundFailFast}},
		{args: []string{"-scenarios", "streaming, flaky", "-clients", "rebound,bare"},
			scenarios: []string{sim.Flaky, sim.Streaming}, clients: []string{clientBare, clientRebound}},
		{args: []string{"-scenarios", "flakey"}, wantErr: `unknown scenario "flakey"`},
		{args: []string{"-clients", ","}, wantErr: "no client selected"},
		{args: []string{"-rate", "0"}, wantErr: "-rate 0 must be positive"},
		{args: []string{"-duration", "1s"}, wantErr: "shorter than 2s"},
		{args: []string{"-timeout", "0s"}, wantErr: "-timeout 0s must be positive"},
		{args: []string{"-stated-burst", "-1s"}, wantErr: "-stated-burst -1s must not be negative"},
		{args: []string{"extra"}, wantErr: "unexpected arguments"},
	}
	for _, tt := range tests {
		c, err := parseFlags(tt.args, io.Discard)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%q: error %v, want %q", tt.args, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tt.args, err)
			continue
		}
		if fmt.Sprint(c.scenarios) != fmt.Sprint(tt.scenarios) || fmt.Sprint(c.clients) != fmt.Sprint(tt.clients) {
			t.Errorf("%q: scenarios %v clients %v, want %v %v", tt.args, c.scenarios, c.clients, tt.scenarios, tt.clients)
		}
	}
}

func TestAttemptsWithin(t *testing.T) {
	want := map[string][2]int{ // attempts within 5 s and within 1 minute
		clientBare: {1, 1}, clientNaive: {3, 3}, clientRetryable: {3, 5}, clientFailsafe: {3, 4}, clientRebound: {4, 4}, clientReboundFailFast: {4, 4}, clientReboundFleet: {4, 4}, clientReboundStated: {4, 4}, clientReboundStatedFleet: {4, 4},
		clientReboundHedged: {4, 4}, clientReboundFallback: {4, 4}, clientReboundFirstEvent: {4, 4},
	}
	for _, c := range clients() {
		got := [2]int{c.attemptsWithin(5 * time.Second), c.attemptsWithin(time.Minute)}
		if got != want[c.name] {
			t.Errorf("%s: %v attempts, want %v", c.name, got, want[c.name])
		}
	}
}

// script is an in-memory RoundTripper that answers with the given statuses
// in turn and records the request bodies it saw.
type script struct {
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func (s *script) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var b []byte
	if req.Body != nil {
		b, _ = io.ReadAll(req.Body)
		req.Body.Close()
	}
	s.bodies = append(s.bodies, string(b))
	code := s.statuses[min(len(s.bodies), len(s.statuses))-1]
	return &http.Response{StatusCode: code, Header: http.Header{}, Body: io.NopCloser(strings.NewReader("{}")), Request: req}, nil
}

func TestNaiveRetry(t *testing.T) {
	tests := []struct {
		statuses []int
		want     int
		attempts int
	}{
		{[]int{200}, 200, 1},
		{[]int{500, 200}, 200, 2},
		{[]int{400, 401, 200}, 200, 3}, // fatal answers are retried: that is the naive part
		{[]int{503, 503, 503, 200}, 503, 3},
	}
	for _, tt := range tests {
		s := &script{statuses: tt.statuses}
		c := &http.Client{Transport: &naiveRetry{next: s, attempts: 3}}
		resp, err := c.Post("http://upstream.test/v1/chat/completions", "application/json", strings.NewReader(`{"model":"m"}`))
		if err != nil {
			t.Fatalf("%v: %v", tt.statuses, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.want || len(s.bodies) != tt.attempts {
			t.Errorf("%v: status %d after %d attempts, want %d after %d", tt.statuses, resp.StatusCode, len(s.bodies), tt.want, tt.attempts)
		}
		for i, b := range s.bodies {
			if b != `{"model":"m"}` {
				t.Errorf("%v: attempt %d sent body %q", tt.statuses, i+1, b)
			}
		}
	}

	// A cancelled context ends the wait between attempts.
	ctx, cancel := context.WithCancel(context.Background())
	s := &script{statuses: []int{503}}
	c := &http.Client{Transport: &naiveRetry{next: cancelAfter{s, cancel}, attempts: 3, delay: time.Hour}}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://upstream.test/", nil)
	if _, err := c.Do(req); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled wait: %v, want context.Canceled", err)
	}
}

// cancelAfter cancels a context once its RoundTripper has answered.
type cancelAfter struct {
	next   http.RoundTripper
	cancel context.CancelFunc
}

func (c cancelAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	defer c.cancel()
	return c.next.RoundTrip(req)
}

func TestErrKind(t *testing.T) {
	wrap := func(err error) error { return &url.Error{Op: "Post", URL: "http://x", Err: err} }
	tests := []struct {
		err  error
		want string
	}{
		{wrap(fmt.Errorf("rebound: %w", rebound.ErrCircuitOpen)), "rebound: circuit open"},
		{wrap(rebound.ErrWouldExceedDeadline), "rebound: wait would exceed deadline"},
		{wrap(rebound.ErrQuotaSpent), "rebound: quota spent"},
		{wrap(circuitbreaker.ErrOpen), "failsafe: circuit open"},
		{wrap(retrypolicy.ExceededError{}), "failsafe: retries exceeded"},
		{wrap(errors.New("POST http://x giving up after 5 attempt(s)")), "retryablehttp: gave up"},
		{wrap(context.DeadlineExceeded), "deadline"},
		{wrap(errors.New("connection reset by peer")), "transport error"},
	}
	for _, tt := range tests {
		if got := errKind(tt.err); got != tt.want {
			t.Errorf("errKind(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// shortScenario returns the named scenario squeezed to a 0.5 s window.
func shortScenario(t *testing.T, name string, rate float64) sim.Scenario {
	t.Helper()
	for _, s := range sim.Scenarios(sim.Options{Rate: rate}) {
		if s.Name == name {
			s.Warmup, s.Measure = 100*time.Millisecond, 500*time.Millisecond
			return s
		}
	}
	t.Fatalf("no scenario %q", name)
	return sim.Scenario{}
}

func TestRunOneMeasuresEveryClient(t *testing.T) {
	t.Parallel()
	s := shortScenario(t, sim.Flaky, 400)
	for _, c := range clients() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // each run has its own upstream and transport
			fl := fleetOptions{}
			if c.newWithStore != nil {
				// Two replicas sharing their gates on the Redis server CI
				// starts (.ci/run), or none: then the client cannot run.
				if fl.redis = os.Getenv("REBOUND_REDIS_ADDR"); fl.redis == "" {
					t.Skip("REBOUND_REDIS_ADDR not set: no Redis server for " + c.name)
				}
				fl.replicas = 2
			}
			r, err := runOne(context.Background(), s, c, 1, time.Second, fl, nil)
			if err != nil {
				t.Fatal(err)
			}
			// 400 calls/s for 0.5 s: 200 expected, Poisson sd 14.
			if r.Calls < 130 || r.Calls > 270 || r.All.TotalCount() != int64(r.Calls) {
				t.Errorf("%d calls, %d in the histogram", r.Calls, r.All.TotalCount())
			}
			if got := r.Success.TotalCount(); got != int64(float64(r.Calls)*r.SuccessRate+0.5) {
				t.Errorf("%d successes recorded at success rate %.3f of %d", got, r.SuccessRate, r.Calls)
			}
			if len(r.AmpSeries) != 2 || r.AmpPeak < r.AmpSeries[0] || r.AmpPeak < r.AmpSeries[1] {
				t.Errorf("amplification series %v, peak %v", r.AmpSeries, r.AmpPeak)
			}
			switch c.name {
			case clientBare:
				if r.AmpMean != 1 || r.FatalRetried != 0 || r.Early != 0 {
					t.Errorf("%.2f requests per call, %d fatal retried, %d early", r.AmpMean, r.FatalRetried, r.Early)
				}
				if r.SuccessRate < 0.65 || r.SuccessRate > 0.9 { // 78% expected
					t.Errorf("success %.3f, want about 0.78", r.SuccessRate)
				}
			case clientNaive:
				// Its retries come 500 ms after a failure, within the 1 s
				// deadline only if the generator sent the call on time (a
				// busy machine, building the other packages' tests, can
				// make it lag by that much: the run says so).
				if r.Invalid == "" && (r.AmpMean <= 1 || r.AmpMean > 3) {
					t.Errorf("%.4f requests per call, %d calls, failures %v", r.AmpMean, r.Calls, r.Failures)
				}
			default:
				if r.FatalRetried != 0 {
					t.Errorf("retried %d fatal answers", r.FatalRetried)
				}
			}
		})
	}
}

func TestRunWritesReport(t *testing.T) {
	t.Parallel()
	cfg, err := parseFlags([]string{"-clients", "bare", "-out", t.TempDir()}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	scenarios := []sim.Scenario{shortScenario(t, sim.SlowTail, 200)}
	if err := run(context.Background(), cfg, scenarios, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(stdout.String(), "| slow-tail | bare | 100.0% |") {
		t.Errorf("stdout lacks the run's row:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "[ 1/1] slow-tail") {
		t.Errorf("no progress line:\n%s", stderr.String())
	}
	md, err := os.ReadFile(filepath.Join(cfg.out, "results.md"))
	if err != nil || !strings.Contains(string(md), stdout.String()[:200]) || !strings.Contains(string(md), "![latency-slow-tail](latency-slow-tail.png)") {
		t.Errorf("results.md (%v):\n%s", err, md)
	}
	for _, name := range []string{"success.png", "latency-slow-tail.png"} {
		if st, err := os.Stat(filepath.Join(cfg.out, name)); err != nil || st.Size() < 1000 {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// holdTransport delays every request by hold, then sends it, and records
// the max_tokens of each body.
type holdTransport struct {
	next http.RoundTripper
	hold time.Duration

	mu        sync.Mutex
	maxTokens map[int]int
}

func (h *holdTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(req.Body)
	req.Body.Close()
	var body struct {
		MaxTokens int `json:"max_tokens"`
	}
	_ = json.Unmarshal(b, &body)
	h.mu.Lock()
	h.maxTokens[body.MaxTokens]++
	h.mu.Unlock()
	t := time.NewTimer(h.hold)
	defer t.Stop()
	select {
	case <-t.C:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(b))
	return h.next.RoundTrip(r)
}

func TestRunOneTailAndSizes(t *testing.T) {
	t.Parallel()
	// A client that puts every call off by 300 ms: the calls of the window's
	// last 300 ms finish in the tail, which must be under load, yet neither
	// the tail's nor the warm-up's requests count as the measured calls'.
	s := shortScenario(t, sim.Tokens, 400)
	ht := &holdTransport{hold: 300 * time.Millisecond, maxTokens: map[int]int{}}
	c := client{name: "hold", attempts: 1, new: func(base http.RoundTripper, _ upstream) *http.Client {
		ht.next = base
		return &http.Client{Transport: ht}
	}}
	r, err := runOne(context.Background(), s, c, 1, 5*time.Second, fleetOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// 400 calls/s over at least the 300 ms the last measured call is held:
	// 120 tail calls or more (Poisson sd 11; more when a busy machine slows
	// the calls down), and at most the 5 s deadline's 2000.
	if r.TailSent < 60 || r.TailSent > 2400 {
		t.Errorf("%d tail calls sent, want 120 to 2000", r.TailSent)
	}
	if r.AmpMean != 1 || r.Calls < 130 {
		t.Errorf("%.3f requests per call over %d calls, want exactly 1", r.AmpMean, r.Calls)
	}
	for i, v := range r.AmpSeries {
		if v > 1.5 {
			t.Errorf("bucket %d: %.2f requests per call from one request per call", i, v)
		}
	}
	ht.mu.Lock()
	defer ht.mu.Unlock()
	if len(ht.maxTokens) != 5 || ht.maxTokens[0] != 0 {
		t.Errorf("max_tokens sent: %v, want the five sizes of the tokens scenario", ht.maxTokens)
	}
}

func TestFleetDealsCallsAmongReplicas(t *testing.T) {
	s := shortScenario(t, sim.Flaky, 400)
	var c client
	for _, x := range clients() {
		if x.name == clientRebound {
			c = x
		}
	}
	r, err := runOne(context.Background(), s, c, 1, time.Second, fleetOptions{replicas: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Replicas != 3 || r.Calls < 130 || r.SuccessRate < 0.5 {
		t.Fatalf("fleet of 3: %d replicas, %d calls, success %.2f", r.Replicas, r.Calls, r.SuccessRate)
	}
}
