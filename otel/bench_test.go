package reboundotel

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/classify"
)

// memTransport answers every request with a canned 200 at once, reading and
// closing the request body as a real transport would.
type memTransport struct{ body []byte }

func (m *memTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
	}
	return &http.Response{
		StatusCode: 200, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
		Body:          io.NopCloser(bytes.NewReader(m.body)),
		ContentLength: int64(len(m.body)),
		Request:       r,
	}, nil
}

var chat1KiB = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + strings.Repeat("lorem ipsum ", 80) + `"}]}`

// successRigs are the Transports the success path is measured through: the
// plain one, and one observed by a Telemetry whose MeterProvider has a
// ManualReader (never collected during the run). span: the request's
// context carries a recording span of an SDK TracerProvider (one span for
// the whole run, so the cost measured is the event's, not the span's);
// without it the context has no span, as for a caller that does not trace.
func successRigs(tb testing.TB) (bare http.RoundTripper, rts []struct {
	name string
	rt   http.RoundTripper
	ctx  context.Context
}) {
	mem := &memTransport{body: []byte(`{"id":"chatcmpl-1","choices":[]}`)}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(tracetest.NewSpanRecorder()))
	tel, err := New(Config{MeterProvider: mp})
	if err != nil {
		tb.Fatal(err)
	}
	observed := rebound.New(mem, rebound.WithObserver(tel.Observer()))
	reg, err := tel.Watch(observed)
	if err != nil {
		tb.Fatal(err)
	}
	spanCtx, span := tp.Tracer("bench").Start(context.Background(), "call")
	tb.Cleanup(func() {
		span.End()
		reg.Unregister()
		mp.Shutdown(context.Background())
		tp.Shutdown(context.Background())
	})
	bg := context.Background()
	return mem, []struct {
		name string
		rt   http.RoundTripper
		ctx  context.Context
	}{
		{"rebound", rebound.New(mem), bg},
		{"rebound+otel", observed, bg},
		{"rebound+otel+span", observed, spanCtx},
	}
}

var successCases = []struct {
	name string
	req  func(context.Context) *http.Request
}{
	{"get", func(ctx context.Context) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, "GET", "http://api.example.com/v1/models", nil)
		return r
	}},
	{"post-1KiB", func(ctx context.Context) *http.Request {
		r, _ := http.NewRequestWithContext(ctx, "POST", "http://api.example.com/v1/chat/completions", strings.NewReader(chat1KiB))
		return r
	}},
}

// BenchmarkTransport compares the success path through a plain Transport
// (rt:rebound) with the same Transport observed by a Telemetry
// (rt:rebound+otel), and with a recording span in the context
// (rt:rebound+otel+span). Building the request costs the same for all.
func BenchmarkTransport(b *testing.B) {
	_, rts := successRigs(b)
	for _, c := range successCases {
		for _, rt := range rts {
			b.Run("case:"+c.name+";rt:"+rt.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					resp, err := rt.rt.RoundTrip(c.req(rt.ctx))
					if err != nil {
						b.Fatal(err)
					}
					resp.Body.Close()
				}
			})
		}
	}
}

// TestSuccessPathAllocations holds the observed success path, without a
// recording span, to at most 3 allocations over the plain Transport.
func TestSuccessPathAllocations(t *testing.T) {
	_, rts := successRigs(t)
	for _, c := range successCases {
		run := func(rt http.RoundTripper, ctx context.Context) float64 {
			return testing.AllocsPerRun(200, func() {
				resp, err := rt.RoundTrip(c.req(ctx))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
			})
		}
		run(rts[1].rt, rts[1].ctx) // build the key's attribute sets
		plain, observed := run(rts[0].rt, rts[0].ctx), run(rts[1].rt, rts[1].ctx)
		if observed-plain > 3 {
			t.Errorf("%s: %v allocs/op observed, %v plain: budget is +3", c.name, observed, plain)
		}
		t.Logf("%s: %v allocs/op observed, %v plain", c.name, observed, plain)
	}
}

// BenchmarkOnAttempt measures the observer's share of the success path
// alone: one successful attempt's event, recorded on a MeterProvider with a
// ManualReader, with no span in the context.
func BenchmarkOnAttempt(b *testing.B) {
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer mp.Shutdown(context.Background())
	tel, err := New(Config{MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	on := tel.Observer().OnAttempt
	e := rebound.AttemptEvent{Context: context.Background(), Key: "api.openai.com/gpt-4o-mini", Attempt: 1,
		Decision: classify.Decision{Status: 200}, Duration: 300 * time.Millisecond}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			on(e)
		}
	})
}
