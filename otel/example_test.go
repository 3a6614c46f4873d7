package reboundotel_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	reboundotel "github.com/rebound-http/rebound/otel"
	"github.com/rebound-http/rebound/retry"
)

// A Transport observed by a Telemetry, under otelhttp, calling an upstream
// that answers 503 once: the metrics show the two attempts and the retry.
func ExampleNew() {
	var n atomic.Int32
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"model_overloaded"}}`)
			return
		}
		io.WriteString(w, `{"choices":[]}`)
	}))
	defer upstream.Close()
	base := &http.Transport{}
	defer base.CloseIdleConnections()

	reader := sdkmetric.NewManualReader() // in a service: the Prometheus or OTLP exporter
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	tel, err := reboundotel.New(reboundotel.Config{MeterProvider: mp})
	if err != nil {
		panic(err)
	}
	tr := rebound.New(base, rebound.WithObserver(tel.Observer()),
		rebound.WithRetry(retry.Policy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond}))
	reg, err := tel.Watch(tr)
	if err != nil {
		panic(err)
	}
	defer reg.Unregister()
	client := &http.Client{Transport: otelhttp.NewTransport(tr)}

	resp, err := client.Post(upstream.URL+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","messages":[]}`))
	if err != nil {
		panic(err)
	}
	resp.Body.Close()
	fmt.Println(resp.Status)

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		panic(err)
	}
	var lines []string
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s count=%d %s", m.Name, p.Count, attrs(p.Attributes.ToSlice())))
				}
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					lines = append(lines, fmt.Sprintf("%s value=%d %s", m.Name, p.Value, attrs(p.Attributes.ToSlice())))
				}
			}
		}
	}
	sort.Strings(lines)
	fmt.Println(strings.Join(lines, "\n"))
	// Output:
	// 200 OK
	// rebound.attempt.duration count=1 error.type=503 gen_ai.request.model=gpt-4o http.response.status_code=503 rebound.verdict=retryable
	// rebound.attempt.duration count=1 gen_ai.request.model=gpt-4o http.response.status_code=200 rebound.verdict=success
	// rebound.retries value=1 error.type=503 gen_ai.request.model=gpt-4o rebound.error.code=model_overloaded
	// rebound.wait.duration count=1 gen_ai.request.model=gpt-4o rebound.wait.cause=backoff
}

// attrs prints attributes as key=value, the server's address and port
// left out (they change from run to run).
func attrs(kvs []attribute.KeyValue) string {
	var out []string
	for _, kv := range kvs {
		if kv.Key != "server.address" && kv.Key != "server.port" {
			out = append(out, string(kv.Key)+"="+kv.Value.String())
		}
	}
	return strings.Join(out, " ")
}

// Config.Observer keeps a Transport's other observer: here rebound's slog
// lines, beside the telemetry.
func ExampleConfig_observer() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // for a stable Output
			}
			return a
		}}))
	tel, err := reboundotel.New(reboundotel.Config{Observer: rebound.SlogObserver(logger)})
	if err != nil {
		panic(err)
	}
	obs := tel.Observer()
	obs.OnBreakerChange(rebound.BreakerEvent{Key: "api.openai.com/gpt-4o", From: breaker.Closed, To: breaker.Open})
	// Output:
	// level=WARN msg="rebound breaker" key=api.openai.com/gpt-4o from=closed to=open
}
