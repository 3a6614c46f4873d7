package reboundotel

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/classify"
)

// TestInvalidUTF8KeyKeepsTheScrape: a key may hold bytes that are not
// UTF-8 (a KeyFunc's; key.Of keeps such an escape escaped). Put as it is
// into gen_ai.request.model, it made every Prometheus scrape fail (promhttp
// answers 500: "label value is not valid UTF-8"), and an OTLP export fails
// to marshal its whole batch: one odd request lost all metrics.
func TestInvalidUTF8KeyKeepsTheScrape(t *testing.T) {
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	}))
	defer upstream.Close()

	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		t.Fatal(err)
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))
	defer mp.Shutdown(context.Background())
	tel, err := New(Config{MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	keyOf := func(r *http.Request, _ []byte) string {
		return strings.ReplaceAll(r.URL.Host+r.URL.Path, "%FF", "\xff") // the byte, not UTF-8
	}
	tr := rebound.New(base, rebound.WithObserver(tel.Observer()), rebound.WithKeyFunc(keyOf))
	for _, path := range []string{"/model/anthropic.claude-v2/invoke", "/model/%FF%FE/invoke"} {
		req, _ := http.NewRequest("POST", upstream.URL+path, strings.NewReader(`{}`))
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}

	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "anthropic.claude-v2") {
		t.Fatalf("scrape: %d\n%.400s", resp.StatusCode, body)
	}
}

// TestSpanAttributesValidUTF8: the span events carry the key's model
// and the fallback's key as they are; OTLP cannot marshal them.
func TestSpanAttributesValidUTF8(t *testing.T) {
	r := newRig(t)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := r.tp.Tracer("test").Start(context.Background(), "call")
	o := tel.Observer()
	o.OnAttempt(rebound.AttemptEvent{Context: ctx, Key: "h/\xff", Attempt: 1,
		Decision: classify.Decision{Verdict: classify.Retryable, Status: 200, Code: "c\xfe"}})
	o.OnFallback(rebound.FallbackEvent{Context: ctx, Key: "h/\xff", To: "h/\xfd", Alternative: 1})
	span.End()
	eachAttr(t, r, func(where, k, v string) {
		if !utf8.ValidString(v) {
			t.Errorf("%s: %s = %q is not UTF-8", where, k, v)
		}
	})
}

// eachAttr calls f with every attribute of the first ended span's events
// and of the metrics collected: where it is, its key and its value.
func eachAttr(t *testing.T, r *rig, f func(where, k, v string)) {
	t.Helper()
	for _, e := range r.spans.Ended()[0].Events() {
		for _, kv := range e.Attributes {
			f("event "+e.Name, string(kv.Key), kv.Value.String())
		}
	}
	for name, ps := range r.collect(t) {
		for _, p := range ps {
			for k, v := range p.attrs {
				f(name, k, v)
			}
		}
	}
}

// TestErrorTypeRedacted: error.type falls back to the provider's code
// when the status says nothing (a 200 stream's error event, a custom
// Classifier). rebound.error.code is redacted on the span; error.type, on
// the same event, and both on the metrics, are not.
func TestErrorTypeRedacted(t *testing.T) {
	r := newRig(t)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := r.tp.Tracer("test").Start(context.Background(), "call")
	o := tel.Observer()
	const secret = "sk-proj-abcdefghijklmnop1234"
	d := classify.Decision{Verdict: classify.Retryable, Status: 200, Code: secret}
	o.OnAttempt(rebound.AttemptEvent{Context: ctx, Key: "h/m", Attempt: 1, Decision: d})
	o.OnRetry(rebound.RetryEvent{Context: ctx, Key: "h/m", Attempt: 1, Decision: d})
	span.End()
	eachAttr(t, r, func(where, k, v string) {
		if strings.Contains(v, "abcdefghijklmnop") {
			t.Errorf("%s: %s = %q", where, k, v)
		}
	})
}
