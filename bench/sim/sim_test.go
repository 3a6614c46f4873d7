package sim

import (
	"context"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// testUpstream is an Upstream driven without a network or a wall clock: the
// latency of every answer is skipped and the clock is set by the test.
type testUpstream struct {
	*Upstream
	clock time.Time
}

func newTestUpstream(t *testing.T, s Scenario, seed uint64) *testUpstream {
	t.Helper()
	tu := &testUpstream{Upstream: New(s, seed, epoch), clock: epoch}
	tu.now = func() time.Time { return tu.clock }
	tu.sleep = func(context.Context, time.Duration) bool { return true }
	return tu
}

// at sets the clock to t after the start of the measured window.
func (tu *testUpstream) at(t time.Duration) *testUpstream { tu.clock = epoch.Add(t); return tu }

// do sends one attempt of call id to model and returns the recorded answer.
func (tu *testUpstream) do(model int, id uint64) *httptest.ResponseRecorder {
	return tu.doBody(model, id, `{"model":"m"}`)
}

// doBody is do with the given request body.
func (tu *testUpstream) doBody(model int, id uint64, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set(CallHeader, strconv.FormatUint(id, 10))
	rec := httptest.NewRecorder()
	tu.Handler(model).ServeHTTP(rec, req)
	return rec
}

func scenario(t *testing.T, name string) Scenario {
	t.Helper()
	for _, s := range Scenarios(Options{}) {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no scenario %q", name)
	return Scenario{}
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s = %.4f, want %.4f ± %.4f", what, got, want, tol)
	}
}

func TestFlakyFaultRates(t *testing.T) {
	s := scenario(t, Flaky)
	tu := newTestUpstream(t, s, 42)
	const n = 20000
	statuses := map[int]int{}
	var retryable, fatal int
	for id := uint64(1); id <= n; id++ {
		rec := tu.do(0, id)
		statuses[rec.Code]++
		switch rec.Code {
		case 200:
		case 400, 401, 402:
			fatal++
		case 429:
			retryable++
			ra, ms := rec.Header().Get("Retry-After"), rec.Header().Get("retry-after-ms")
			switch {
			case ra == "1" && ms == "":
			case ra == "" && ms != "":
				v, err := strconv.Atoi(ms)
				if err != nil || v < 300 || v >= 800 {
					t.Errorf("retry-after-ms = %q, want 300..799", ms)
				}
			default:
				t.Errorf("429 hints Retry-After=%q retry-after-ms=%q, want exactly one", ra, ms)
			}
		case 500, 502, 503:
			retryable++
		default:
			t.Fatalf("unexpected status %d", rec.Code)
		}
	}
	// Binomial standard deviations are 0.0028 and 0.001; allow four.
	within(t, "retryable rate", float64(retryable)/n, s.P, 0.012)
	within(t, "fatal rate", float64(fatal)/n, s.Fatal, 0.004)
	for _, code := range []int{400, 401, 402, 429, 500, 502, 503} {
		if statuses[code] == 0 {
			t.Errorf("status %d never drawn", code)
		}
	}
}

func TestFaultsAreReproducible(t *testing.T) {
	run := func(seed uint64) string {
		tu := newTestUpstream(t, scenario(t, Flaky), seed)
		var b strings.Builder
		for id := uint64(1); id <= 300; id++ {
			rec := tu.do(0, id)
			b.WriteString(strconv.Itoa(rec.Code) + rec.Header().Get("retry-after-ms") + rec.Body.String())
		}
		return b.String()
	}
	a, b := run(7), run(7)
	if a != b {
		t.Error("two runs with seed 7 differ")
	}
	if a == run(8) {
		t.Error("runs with seeds 7 and 8 are identical")
	}
}

func TestFaultBodiesAreServiceShapes(t *testing.T) {
	for _, f := range Catalog() {
		body := string(f.Body("req_1"))
		switch f.Service {
		case Skytells:
			if !strings.Contains(body, `"errorId":"`+f.Code+`"`) {
				t.Errorf("%s %s: body %s lacks the errorId", f.Service, f.Code, body)
			}
		default:
			if !strings.HasPrefix(body, `{"error":{`) || !strings.Contains(body, `"code":"`+f.Code+`"`) {
				t.Errorf("%s %s: body %s is not {\"error\":{…\"code\"…}}", f.Service, f.Code, body)
			}
		}
		if f.Retryable == (f.Status >= 400 && f.Status < 429) {
			t.Errorf("%s %s: status %d with retryable=%v", f.Service, f.Code, f.Status, f.Retryable)
		}
	}
}

func TestRateLimitBucketAndHints(t *testing.T) {
	s := scenario(t, RateLimited) // 100 calls/s offered per model: 60 tokens/s, burst 10
	tu := newTestUpstream(t, s, 1)
	for model, header := range []string{"Retry-After", "retry-after-ms"} {
		id := uint64(model * 1000)
		for i := range 10 {
			id++
			if rec := tu.at(0).do(model, id); rec.Code != 200 {
				t.Fatalf("model %d request %d within the burst: status %d", model, i, rec.Code)
			}
		}
		id++
		rec := tu.at(0).do(model, id)
		if rec.Code != 429 {
			t.Fatalf("model %d request past the burst: status %d, want 429", model, rec.Code)
		}
		v, err := strconv.Atoi(rec.Header().Get(header))
		if err != nil {
			t.Fatalf("model %d: %s = %q", model, header, rec.Header().Get(header))
		}
		if header == "Retry-After" && v != 1 || header == "retry-after-ms" && (v < 300 || v >= 800) {
			t.Errorf("model %d: %s = %d", model, header, v)
		}
		// One token is due 1/60 s later, and only one.
		if rec := tu.at(17*time.Millisecond).do(model, id+1); rec.Code != 200 {
			t.Errorf("model %d after one refill: status %d, want 200", model, rec.Code)
		}
		if rec := tu.at(17*time.Millisecond).do(model, id+2); rec.Code != 429 {
			t.Errorf("model %d after one token: status %d, want 429", model, rec.Code)
		}
	}
}

func TestCallAccounting(t *testing.T) {
	s := scenario(t, RateLimited)
	tu := newTestUpstream(t, s, 1)
	for id := uint64(100); id < 110; id++ { // empty model 1's bucket
		tu.at(0).do(1, id)
	}
	rec := tu.at(0).do(1, 1)
	ms, _ := strconv.Atoi(rec.Header().Get("retry-after-ms"))
	if rec.Code != 429 || ms == 0 {
		t.Fatalf("status %d, retry-after-ms %d", rec.Code, ms)
	}
	tu.at(time.Duration(ms-1)*time.Millisecond).do(1, 1) // too early
	tu.at(10*time.Second).do(1, 1)                       // in time
	got := tu.Call(1)
	if got.Attempts != 3 || got.Early != 1 || got.FatalRetried != 0 {
		t.Errorf("call 1: %+v, want 3 attempts, 1 early, 0 fatal retried", got)
	}

	// A retry after a fatal answer is counted.
	tu = newTestUpstream(t, scenario(t, Flaky), 3)
	var fatalID uint64
	for id := uint64(1); fatalID == 0; id++ {
		if c := tu.do(0, id).Code; c >= 400 && c < 429 {
			fatalID = id
		}
	}
	tu.do(0, fatalID)
	if got := tu.Call(fatalID); got.Attempts != 2 || got.FatalRetried != 1 {
		t.Errorf("call %d: %+v, want 2 attempts, 1 fatal retried", fatalID, got)
	}
	if n := len(tu.Arrivals()); n != int(fatalID)+1 {
		t.Errorf("%d arrivals, want %d", n, fatalID+1)
	}
}

func TestOutageWindow(t *testing.T) {
	s := scenario(t, Outage)
	tu := newTestUpstream(t, s, 1)
	tests := []struct {
		t     time.Duration
		model int
		want  int
	}{
		{s.Fault.Start - time.Millisecond, 1, 200},
		{s.Fault.Start, 1, 503},
		{s.Fault.End - time.Millisecond, 1, 503},
		{s.Fault.End, 1, 200},
		{s.Fault.Start, 0, 200},
		{s.Fault.Start, 2, 200},
	}
	for i, tt := range tests {
		rec := tu.at(tt.t).do(tt.model, uint64(i+1))
		if rec.Code != tt.want {
			t.Errorf("model %d at %v: status %d, want %d", tt.model, tt.t, rec.Code, tt.want)
		}
		if rec.Code == 503 && !strings.Contains(rec.Body.String(), "provider_unavailable") {
			t.Errorf("outage body %s", rec.Body.String())
		}
	}
}

func TestSynchronizedWindow(t *testing.T) {
	s := scenario(t, Synchronized)
	if s.Burst != DefaultRate || s.Fault.End-s.Fault.Start != time.Second {
		t.Fatalf("burst %d, window %v", s.Burst, s.Fault)
	}
	tu := newTestUpstream(t, s, 1)
	for i, at := range []time.Duration{s.Fault.Start - 1, s.Fault.Start, s.Fault.End - 1, s.Fault.End} {
		want := 200
		if s.Fault.Contains(at) {
			want = 500
		}
		if rec := tu.at(at).do(0, uint64(i)); rec.Code != want {
			t.Errorf("at %v: status %d, want %d", at, rec.Code, want)
		}
	}
}

func TestOverloadLatencyAndErrors(t *testing.T) {
	s := scenario(t, Overload)
	b := s.Behavior()
	tu := newTestUpstream(t, s, 1)
	decide := func(at time.Duration, inflight int, id uint64) Outcome {
		return b.Decide(Request{T: at, InFlight: inflight, Attempt: 1, Rand: tu.rng(id, 1)})
	}
	// Capacity is 400/s: 10 in flight take the 40 ms service time, 40 take
	// 100 ms, 400 take 1 s, past the 250 ms queue timeout.
	for id := uint64(0); id < 200; id++ {
		if o := decide(0, 10, id); o.Fault != nil || o.Latency > 80*time.Millisecond {
			t.Fatalf("light load: %+v", o)
		}
		if o := decide(0, 40, id); o.Fault != nil || o.Latency < 50*time.Millisecond || o.Latency >= 250*time.Millisecond {
			t.Fatalf("heavy load: %+v", o)
		}
		if o := decide(0, 400, id); o.Fault == nil || o.Fault.Status != 503 || o.Latency != 250*time.Millisecond {
			t.Fatalf("overload: %+v", o)
		}
		// During the cut (80/s), 40 in flight take 0.5 s: a queue timeout.
		if o := decide(s.Fault.Start, 40, id); o.Fault == nil || o.Fault.Status != 503 || o.Latency != 250*time.Millisecond {
			t.Fatalf("cut capacity: %+v", o)
		}
	}
}

func TestStreamFirstEventErrors(t *testing.T) {
	s := scenario(t, Streaming)
	tu := newTestUpstream(t, s, 5)
	const n = 4000
	var errs int
	for id := uint64(1); id <= n; id++ {
		rec := tu.do(0, id)
		if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/event-stream" {
			t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
		}
		body := rec.Body.String()
		switch {
		case strings.HasPrefix(body, "event: error\ndata: {\"error\":"):
			errs++
		case strings.HasPrefix(body, "data: {") && strings.HasSuffix(body, "data: [DONE]\n\n"):
		default:
			t.Fatalf("unexpected stream %q", body)
		}
	}
	within(t, "first-event error rate", float64(errs)/n, 0.20, 0.025)
}

func TestOptions(t *testing.T) {
	tests := []struct {
		o       Options
		wantErr string
	}{
		{Options{}, ""},
		{Options{Long: true}, ""},
		{Options{Rate: -1}, "rate"},
		{Options{Measure: time.Second}, "shorter than 2s"},
	}
	for _, tt := range tests {
		err := tt.o.Validate()
		if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: Validate() = %v, want %q", tt.o, err, tt.wantErr)
		}
	}
	all := Scenarios(Options{Long: true})
	for i, s := range append(all, Scenarios(Options{})...) {
		i %= len(all)
		if s.Name != Names()[i] {
			t.Errorf("scenario %d is %q, want %q", i, s.Name, Names()[i])
		}
		if s.Fault.End > s.Measure {
			t.Errorf("%s: fault %v ends after the window %v", s.Name, s.Fault, s.Measure)
		}
		if s.Fault.Start%(250*time.Millisecond) != 0 || s.Fault.End%(250*time.Millisecond) != 0 {
			t.Errorf("%s: fault %v is not on the 250 ms grid of the report's buckets", s.Name, s.Fault)
		}
	}
	if o := all[slices.Index(Names(), Overload)]; o.Fault.End-o.Fault.Start != 10*time.Second {
		t.Errorf("long overload cut is %v, want 10s", o.Fault.End-o.Fault.Start)
	}
}

func TestServesOnLoopback(t *testing.T) {
	s := scenario(t, SlowTail)
	u := New(s, 1, time.Now())
	urls, err := u.Start()
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequest(http.MethodPost, urls[0]+"/v1/chat/completions", strings.NewReader(`{}`))
	req.Header.Set(CallHeader, "9")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"object":"chat.completion"`) {
		t.Errorf("status %d body %s", resp.StatusCode, body)
	}
	if u.Call(9).Attempts != 1 {
		t.Errorf("call 9: %+v", u.Call(9))
	}
}

func TestTheory(t *testing.T) {
	s := Scenario{P: 0.2}
	tests := []struct {
		n            int
		fatal        float64
		retriesFatal bool
		success, per float64
	}{
		{1, 0, false, 0.8, 1},
		{3, 0, false, 1 - 0.008, 1.24},             // 1−p³, 1+p+p²
		{4, 0, true, 1 - 0.0016, 1.248},            // f = 0: the same either way
		{3, 0.02, false, 0.78 / 0.8 * 0.992, 1.24}, // a fatal answer ends the call
		{3, 0.02, true, 1 - 0.22*0.22*0.22, 1 + 0.22 + 0.22*0.22},
	}
	for _, tt := range tests {
		s.Fatal = tt.fatal
		success, per := s.Theory(tt.n, tt.retriesFatal)
		if math.Abs(success-tt.success) > 1e-12 || math.Abs(per-tt.per) > 1e-12 {
			t.Errorf("n=%d f=%v retriesFatal=%v: %v %v, want %v %v", tt.n, tt.fatal, tt.retriesFatal, success, per, tt.success, tt.per)
		}
	}
}
