// Command prometheus serves rebound's OpenTelemetry metrics on /metrics
// through the OpenTelemetry Prometheus exporter. It first calls a local fake
// of an inference API that answers 429, 503 and 200 (no network, no key
// needed), so the metrics show retries, waits, an open breaker and a
// give-up, then serves them until interrupted:
//
//	go run ./example/prometheus &
//	curl -s localhost:9464/metrics | grep rebound_
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	reboundotel "github.com/rebound-http/rebound/otel"
	"github.com/rebound-http/rebound/ratelimit"
	"github.com/rebound-http/rebound/retry"
)

func main() {
	addr := flag.String("addr", "localhost:9464", "where to serve /metrics")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, ln, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run calls the fake upstream, reporting each call to out, then serves
// /metrics on ln until ctx is done.
func run(ctx context.Context, ln net.Listener, out io.Writer) error {
	upstream := newFakeAPI()
	defer upstream.Close()

	// The setup the README shows.
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg))
	if err != nil {
		return err
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter))
	defer mp.Shutdown(context.Background())
	tel, err := reboundotel.New(reboundotel.Config{MeterProvider: mp})
	if err != nil {
		return err
	}
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	tr := rebound.New(base, append(options(), rebound.WithObserver(tel.Observer()))...)
	watch, err := tel.Watch(tr)
	if err != nil {
		return err
	}
	defer watch.Unregister()
	client := &http.Client{Transport: tr}

	for _, model := range calls {
		fmt.Fprintf(out, "%s: %s\n", model, chat(ctx, client, upstream.URL, model))
	}

	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	fmt.Fprintf(out, "serving http://%s/metrics\n", ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// options configure the Transport so that the short demo shows every
// metric: fast backoff, a breaker that opens after 3 failures and fails
// fast, and a limit of 10 calls a second on gpt-4o-mini.
func options() []rebound.Option {
	return []rebound.Option{
		rebound.WithRetry(retry.Policy{MaxAttempts: 3, InitialInterval: 10 * time.Millisecond, MaxInterval: 10 * time.Millisecond}),
		rebound.WithBreaker(breaker.Settings{MinRequests: 3, FailureRatio: 1, OpenTimeout: time.Minute, FailFast: true}),
		rebound.WithRateLimits(ratelimit.Limits{Rules: []ratelimit.Rule{
			{Pattern: "*/gpt-4o-mini", Limit: ratelimit.Limit{Rate: 10, Burst: 1}}}}),
	}
}

// calls are the demo's calls, by model, in order.
var calls = []string{"gpt-4o", "gpt-4o-mini", "gpt-4o-mini", "o3", "o3"}

// chat sends one chat completion for model and describes the outcome.
func chat(ctx context.Context, client *http.Client, url, model string) string {
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions",
		strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"Hi"}]}`))
	if err != nil {
		return err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Status
}
