package reboundotel

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

// answer is one scripted response.
type answer struct {
	status int
	header map[string]string
	body   string
}

var (
	ok200      = answer{status: 200, body: `{"id":"chatcmpl-1","choices":[]}`}
	overloaded = answer{status: 503, header: map[string]string{"x-request-id": "req_503"},
		body: `{"error":{"code":"model_overloaded","message":"sk-secret123456789012345 is busy"}}`}
	throttled = answer{status: 429, header: map[string]string{"retry-after-ms": "20"},
		body: `{"error":{"code":"rate_limit_exceeded"}}`}
)

// upstream answers each model from its script in turn, repeating the last
// answer once the script runs out.
type upstream struct {
	*httptest.Server
	mu      sync.Mutex
	scripts map[string][]answer
	hits    map[string]int
}

func newUpstream(t *testing.T, scripts map[string][]answer) *upstream {
	t.Helper()
	u := &upstream{scripts: scripts, hits: map[string]int{}}
	u.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Model string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		u.mu.Lock()
		script := u.scripts[body.Model]
		n := u.hits[body.Model]
		u.hits[body.Model]++
		u.mu.Unlock()
		a := answer{status: 404}
		if len(script) > 0 {
			a = script[min(n, len(script)-1)]
		}
		for k, v := range a.header {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	t.Cleanup(u.Close)
	return u
}

// scenario is the fault scenario every test runs: per model,
//
//	m-retry: 503, then 200   — a retry after a backoff
//	m-hint:  429 asking 20ms, then 200 — a retry after the server's hint
//	m-down:  503 always      — 3 attempts trip the breaker; the next call meets it open
//	m-paced: 200, limited to 20/s with a burst of 1 — the second call waits ~50ms
var scenario = map[string][]answer{
	"m-retry": {overloaded, ok200},
	"m-hint":  {throttled, ok200},
	"m-down":  {overloaded},
	"m-paced": {ok200},
}

// scenarioCalls are the calls of the scenario, in order.
var scenarioCalls = []string{"m-retry", "m-hint", "m-down", "m-down", "m-paced", "m-paced"}

// scenarioOptions configure the Transport for the scenario.
func scenarioOptions() []rebound.Option {
	return []rebound.Option{
		rebound.WithRetry(retry.Policy{MaxAttempts: 3, InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}),
		rebound.WithBreaker(breaker.Settings{MinRequests: 3, FailureRatio: 1, OpenTimeout: time.Hour, FailFast: true}),
		rebound.WithRateLimits(ratelimit.Limits{Rules: []ratelimit.Rule{
			{Pattern: "*/m-paced", Limit: ratelimit.Limit{Rate: 20, Burst: 1}}}}),
	}
}

// rig is a Transport under test with a metric reader and a span recorder.
type rig struct {
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	base   *http.Transport
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(), base: &http.Transport{}}
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	t.Cleanup(func() {
		r.base.CloseIdleConnections()
		r.mp.Shutdown(context.Background())
		r.tp.Shutdown(context.Background())
	})
	return r
}

// call posts a chat request for model through rt with ctx.
func call(t *testing.T, ctx context.Context, rt http.RoundTripper, url, model string) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions?api_key=sk-secret",
		strings.NewReader(`{"model":"`+model+`","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer sk-secret123456789012345")
	resp, err := rt.RoundTrip(req)
	if resp != nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// point is one data point: its attributes and its value (a sum's value, a
// gauge's value, a histogram's count).
type point struct {
	attrs map[string]string
	value float64
	sum   float64 // a histogram's sum
}

// collect reads every data point of the scope, by metric name.
func (r *rig) collect(t *testing.T) map[string][]point {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string][]point{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: attrMap(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: attrMap(p.Attributes), value: float64(p.Value)})
				}
			case metricdata.Gauge[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: attrMap(p.Attributes), value: p.Value})
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					out[m.Name] = append(out[m.Name], point{attrs: attrMap(p.Attributes), value: float64(p.Count), sum: p.Sum})
				}
			default:
				t.Fatalf("%s: unexpected data %T", m.Name, m.Data)
			}
		}
	}
	return out
}

func attrMap(s attribute.Set) map[string]string {
	m := map[string]string{}
	for _, kv := range s.ToSlice() {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

// total sums the values of the points whose attributes include want.
func total(ps []point, want map[string]string) (value, sum float64) {
	for _, p := range ps {
		if matches(p.attrs, want) {
			value += p.value
			sum += p.sum
		}
	}
	return value, sum
}

func matches(attrs, want map[string]string) bool {
	for k, v := range want {
		if attrs[k] != v {
			return false
		}
	}
	return true
}

// eventNames lists the names of a span's events in order.
func eventNames(s sdktrace.ReadOnlySpan) []string {
	var names []string
	for _, e := range s.Events() {
		names = append(names, e.Name)
	}
	return names
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
