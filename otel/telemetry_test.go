package reboundotel

import (
	"context"
	"errors"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/retry"
)

// runScenario builds a Transport observed by a Telemetry on r, sends the
// scenario's calls through wrap(transport) and checks what each returns.
func runScenario(t *testing.T, r *rig, ctx context.Context, inner http.RoundTripper, wrap func(http.RoundTripper) http.RoundTripper) (u *upstream, host, port string) {
	t.Helper()
	u = newUpstream(t, scenario)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	tr := rebound.New(inner, append(scenarioOptions(), rebound.WithObserver(tel.Observer()))...)
	reg, err := tel.Watch(tr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Unregister() })
	rt := wrap(tr)
	for i, model := range scenarioCalls {
		resp, err := call(t, ctx, rt, u.URL, model)
		want := 200
		switch {
		case model == "m-down" && i == 2:
			want = 503 // retries exhausted: the last answer
		case model == "m-down":
			if !errors.Is(err, rebound.ErrCircuitOpen) {
				t.Fatalf("call %d (%s): err %v; want the open circuit", i, model, err)
			}
			continue
		}
		if err != nil || resp.StatusCode != want {
			t.Fatalf("call %d (%s): resp %v err %v; want %d", i, model, resp, err, want)
		}
	}
	pu, _ := url.Parse(u.URL)
	return u, pu.Hostname(), pu.Port()
}

func TestScenarioMetrics(t *testing.T) {
	r := newRig(t)
	_, host, port := runScenario(t, r, context.Background(), r.base, func(rt http.RoundTripper) http.RoundTripper { return rt })
	got := r.collect(t)
	for _, name := range sortedKeys(got) {
		for _, p := range got[name] {
			t.Logf("%s %v = %v (sum %v)", name, p.attrs, p.value, p.sum)
		}
	}
	key := func(model string, kv ...string) map[string]string {
		m := map[string]string{"server.address": host, "server.port": port, "gen_ai.request.model": model}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	checks := []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{"rebound.attempt.duration", key("m-retry", "http.response.status_code", "503", "rebound.verdict", "retryable", "error.type", "503"), 1},
		{"rebound.attempt.duration", key("m-retry", "http.response.status_code", "200", "rebound.verdict", "success"), 1},
		{"rebound.attempt.duration", key("m-hint", "http.response.status_code", "429", "error.type", "429"), 1},
		{"rebound.attempt.duration", key("m-down"), 3},
		{"rebound.attempt.duration", key("m-paced", "rebound.verdict", "success"), 2},
		{"rebound.attempt.duration", nil, 9},
		{"rebound.retries", key("m-retry", "error.type", "503", "rebound.error.code", "model_overloaded"), 1},
		{"rebound.retries", key("m-hint", "error.type", "429", "rebound.error.code", "rate_limit_exceeded"), 1},
		{"rebound.retries", key("m-down"), 2},
		{"rebound.retries", nil, 4},
		{"rebound.give_ups", key("m-down", "rebound.give_up.reason", "attempts", "http.response.status_code", "503"), 1},
		{"rebound.give_ups", key("m-down", "rebound.give_up.reason", "circuit_open"), 1},
		{"rebound.give_ups", nil, 2},
		{"rebound.wait.duration", key("m-retry", "rebound.wait.cause", "backoff"), 1},
		{"rebound.wait.duration", key("m-hint", "rebound.wait.cause", "hint"), 1},
		{"rebound.wait.duration", key("m-down", "rebound.wait.cause", "backoff"), 2},
		{"rebound.wait.duration", key("m-paced", "rebound.wait.cause", "rate_limit"), 1},
		{"rebound.breaker.transitions", key("m-down", "rebound.breaker.state", "open", "rebound.breaker.previous_state", "closed"), 1},
		{"rebound.breaker.transitions", nil, 1},
		{"rebound.breaker.state", key("m-down", "rebound.breaker.state", "open"), 1},
		{"rebound.breaker.state", key("m-down", "rebound.breaker.state", "closed"), 0},
		{"rebound.breaker.state", key("m-retry", "rebound.breaker.state", "closed"), 1},
	}
	for _, c := range checks {
		if v, _ := total(got[c.metric], c.attrs); v != c.want {
			t.Errorf("%s %v = %v; want %v", c.metric, c.attrs, v, c.want)
		}
	}
	if _, sum := total(got["rebound.wait.duration"], key("m-hint", "rebound.wait.cause", "hint")); sum < 0.02 || sum > 0.03 {
		t.Errorf("hint waits sum to %vs; want the 20ms asked for and a little jitter", sum)
	}
	if _, sum := total(got["rebound.wait.duration"], key("m-paced", "rebound.wait.cause", "rate_limit")); sum <= 0 || sum > 0.05 {
		t.Errorf("rate-limit waits sum to %vs; want up to the 50ms of a 20/s limit", sum)
	}
	if ps := got["rebound.retry_budget.remaining"]; len(ps) != 1 || len(ps[0].attrs) != 0 || ps[0].value <= 0 {
		t.Errorf("retry budget points %v; want one positive, without attributes", ps)
	}
	for _, p := range got["rebound.pace.rate"] {
		if p.value <= 0 || p.value == math.MaxFloat64 {
			t.Errorf("pace %v = %v; want a finite positive rate", p.attrs, p.value)
		}
	}
	for name, ps := range got {
		for _, p := range ps {
			for k, v := range p.attrs {
				if strings.Contains(v, "secret") || strings.Contains(v, "/v1/") {
					t.Errorf("%s: attribute %s=%q", name, k, v)
				}
			}
		}
	}
}

// TestOtelhttpOutside: otelhttp wraps rebound, so each call is one client
// span and its attempts, waits and retries are events on it.
func TestOtelhttpOutside(t *testing.T) {
	r := newRig(t)
	runScenario(t, r, context.Background(), r.base, func(rt http.RoundTripper) http.RoundTripper {
		return otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(r.tp), otelhttp.WithMeterProvider(r.mp))
	})
	spans := r.spans.Ended()
	if len(spans) != len(scenarioCalls) {
		t.Fatalf("%d spans; want one per call, %d", len(spans), len(scenarioCalls))
	}
	want := [][]string{
		{"rebound.attempt", "rebound.retry", "rebound.wait", "rebound.attempt"}, // m-retry
		{"rebound.attempt", "rebound.retry", "rebound.wait", "rebound.attempt"}, // m-hint
		{"rebound.attempt", "rebound.retry", "rebound.wait", "rebound.attempt", "rebound.retry", "rebound.wait",
			"rebound.attempt", "rebound.give_up"}, // m-down: attempts exhausted
		{"rebound.give_up"},                 // m-down: circuit open
		{"rebound.attempt"},                 // m-paced
		{"rebound.wait", "rebound.attempt"}, // m-paced: rate limited
	}
	for i, s := range spans {
		if got := strings.Join(eventNames(s), " "); got != strings.Join(want[i], " ") {
			t.Errorf("span %d (%s) events: %s\nwant %s", i, scenarioCalls[i], got, strings.Join(want[i], " "))
		}
		checkNoSecrets(t, s)
	}
	first := attrsOf(spans[0].Events()[0])
	for k, v := range map[string]string{"rebound.attempt": "1", "http.response.status_code": "503", "rebound.verdict": "retryable",
		"rebound.evidence": "body", "error.type": "503", "rebound.error.code": "model_overloaded",
		"rebound.request_id": "req_503", "gen_ai.request.model": "m-retry"} {
		if first[k] != v {
			t.Errorf("first attempt event %s = %q; want %q (all: %v)", k, first[k], v, first)
		}
	}
	if hint := attrsOf(spans[1].Events()[2]); hint["rebound.wait.cause"] != "hint" || !strings.HasPrefix(hint["rebound.wait.duration"], "0.02") {
		t.Errorf("m-hint wait event %v; want the 20ms hint", hint)
	}
	if g := attrsOf(spans[3].Events()[0]); g["rebound.give_up.reason"] != "circuit_open" || g["rebound.attempts"] != "0" {
		t.Errorf("give-up event %v; want circuit_open after 0 attempts", g)
	}
	if w := attrsOf(spans[5].Events()[0]); w["rebound.wait.cause"] != "rate_limit" {
		t.Errorf("m-paced wait event %v; want rate_limit", w)
	}
}

// TestOtelhttpInside: rebound wraps otelhttp, so each attempt is a client
// span of its own, and rebound's events go on the caller's span.
func TestOtelhttpInside(t *testing.T) {
	r := newRig(t)
	u := newUpstream(t, scenario)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	inner := otelhttp.NewTransport(r.base, otelhttp.WithTracerProvider(r.tp), otelhttp.WithMeterProvider(r.mp))
	tr := rebound.New(inner, append(scenarioOptions(), rebound.WithObserver(tel.Observer()))...)
	ctx, parent := r.tp.Tracer("test").Start(context.Background(), "call")
	if resp, err := call(t, ctx, tr, u.URL, "m-retry"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("resp %v err %v", resp, err)
	}
	parent.End()
	spans := r.spans.Ended()
	if len(spans) != 3 {
		t.Fatalf("%d spans; want 2 attempts and the caller's", len(spans))
	}
	for _, s := range spans[:2] {
		if s.Parent().SpanID() != parent.SpanContext().SpanID() || s.SpanKind().String() != "client" {
			t.Errorf("attempt span %q kind %v parent %v; want a client span under the caller's", s.Name(), s.SpanKind(), s.Parent().SpanID())
		}
		if len(s.Events()) != 0 {
			t.Errorf("attempt span has events %v", eventNames(s))
		}
	}
	if got := strings.Join(eventNames(spans[2]), " "); got != "rebound.attempt rebound.retry rebound.wait rebound.attempt" {
		t.Errorf("caller's span events: %s", got)
	}
	checkNoSecrets(t, spans[2])
}

func attrsOf(e sdktrace.Event) map[string]string {
	m := map[string]string{}
	for _, kv := range e.Attributes {
		m[string(kv.Key)] = kv.Value.String()
	}
	return m
}

func checkNoSecrets(t *testing.T, s sdktrace.ReadOnlySpan) {
	t.Helper()
	for _, e := range s.Events() {
		for k, v := range attrsOf(e) {
			if strings.Contains(v, "secret") || strings.Contains(v, "busy") || strings.Contains(v, "/v1/") {
				t.Errorf("event %s: %s=%q", e.Name, k, v)
			}
		}
	}
}

// TestGauges: the gauges read the Transport's state, here given as Stats.
func TestGauges(t *testing.T) {
	r := newRig(t)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	st := rebound.Stats{
		Budget: retry.BudgetStats{Calls: 10, WindowRetries: 3, WindowAllowed: 12},
		Keys: []rebound.KeyState{
			{Key: "api.openai.com/gpt-4o", Breaker: breaker.HalfOpen, Rate: 2.5, QuotaAt: now.Add(-time.Second),
				Quota: classify.Quota{
					Requests: classify.Window{Limit: 500, Remaining: 42, Reset: 2 * time.Second, Known: true},
					Tokens:   classify.Window{Limit: 30000, Remaining: 1000, Reset: 500 * time.Millisecond, Known: true}, // reset since
				}},
			{Key: "api.groq.com/llama", QuotaAt: now, Quota: classify.Quota{
				Tokens: classify.Window{Remaining: 7, Known: true}}},
			{Key: "api.anthropic.com", Breaker: breaker.Closed, HoldUntil: now.Add(1500 * time.Millisecond)},
			{Key: "api.mistral.ai/m", HoldUntil: now.Add(-time.Second)}, // a hold that has ended
			{Key: "api.mistral.ai/n", Rate: math.MaxFloat64},            // rate.Inf: not limited
		},
	}
	reg, err := tel.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		tel.observe(o, st, now)
		return nil
	}, tel.breakerState, tel.paceRate, tel.quotaHold, tel.budgetRemaining, tel.requestsRemaining, tel.tokensRemaining)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	got := r.collect(t)
	openai := map[string]string{"server.address": "api.openai.com", "gen_ai.request.model": "gpt-4o"}
	anthropic := map[string]string{"server.address": "api.anthropic.com"}
	checks := []struct {
		metric string
		attrs  map[string]string
		want   float64
	}{
		{"rebound.retry_budget.remaining", nil, 9},
		{"rebound.pace.rate", openai, 2.5},
		{"rebound.pace.rate", nil, 2.5},
		{"rebound.quota.hold", anthropic, 1.5},
		{"rebound.quota.hold", nil, 1.5},
		{"rebound.breaker.state", map[string]string{"server.address": "api.openai.com", "rebound.breaker.state": "half_open"}, 1},
		{"rebound.breaker.state", map[string]string{"rebound.breaker.state": "half_open"}, 1},
		{"rebound.breaker.state", map[string]string{"rebound.breaker.state": "closed"}, 4},
		{"rebound.breaker.state", nil, 5},
		{"rebound.quota.requests.remaining", openai, 42},
		{"rebound.quota.requests.remaining", nil, 42},
		{"rebound.quota.tokens.remaining", map[string]string{"server.address": "api.groq.com"}, 7},
		{"rebound.quota.tokens.remaining", nil, 7},
	}
	for _, c := range checks {
		if v, _ := total(got[c.metric], c.attrs); v != c.want {
			t.Errorf("%s %v = %v; want %v", c.metric, c.attrs, v, c.want)
		}
	}
	for _, p := range got["rebound.breaker.state"] {
		if _, ok := p.attrs["gen_ai.request.model"]; !ok && p.attrs["server.address"] == "api.openai.com" {
			t.Errorf("point %v lacks the model", p.attrs)
		}
		if _, ok := p.attrs["gen_ai.request.model"]; ok && p.attrs["server.address"] == "api.anthropic.com" {
			t.Errorf("a key without a model got one: %v", p.attrs)
		}
	}
}

// TestCardinality: keys past MaxKeys and codes past 64 collapse to _OTHER,
// and past-MaxKeys keys stay out of the gauges.
func TestCardinality(t *testing.T) {
	r := newRig(t)
	tel, err := New(Config{MeterProvider: r.mp, MaxKeys: 2})
	if err != nil {
		t.Fatal(err)
	}
	obs := tel.Observer()
	ctx := context.Background()
	for i := range 5 {
		obs.OnAttempt(rebound.AttemptEvent{Context: ctx, Key: "h" + strconv.Itoa(i) + ":443/m", Attempt: 1,
			Decision: classify.Decision{Status: 200}})
	}
	for i := range 100 {
		obs.OnRetry(rebound.RetryEvent{Context: ctx, Key: "h0:443/m",
			Decision: classify.Decision{Verdict: classify.Retryable, Status: 200, Code: "code" + strconv.Itoa(i)}})
	}
	st := rebound.Stats{Keys: []rebound.KeyState{{Key: "h0:443/m"}, {Key: "h4:443/m", Breaker: breaker.Open}}}
	reg, err := tel.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		tel.observe(o, st, time.Now())
		return nil
	}, tel.breakerState)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	got := r.collect(t)
	if n := len(got["rebound.attempt.duration"]); n != 3 {
		t.Errorf("%d attempt series; want 2 keys and _OTHER", n)
	}
	if v, _ := total(got["rebound.attempt.duration"], map[string]string{"server.address": "_OTHER", "gen_ai.request.model": "_OTHER"}); v != 3 {
		t.Errorf("_OTHER attempts = %v; want 3", v)
	}
	if v, _ := total(got["rebound.attempt.duration"], map[string]string{"server.address": "h0", "server.port": "443"}); v != 1 {
		t.Errorf("h0 attempts = %v; want 1", v)
	}
	if n := len(got["rebound.retries"]); n != maxCodes+1 {
		t.Errorf("%d retry series; want %d codes and _OTHER", n, maxCodes)
	}
	if v, _ := total(got["rebound.retries"], map[string]string{"rebound.error.code": "_OTHER", "error.type": "code70"}); v != 0 {
		t.Errorf("error.type escaped the bound")
	}
	if v, _ := total(got["rebound.retries"], map[string]string{"rebound.error.code": "_OTHER", "error.type": "_OTHER"}); v != 100-maxCodes {
		t.Errorf("_OTHER codes = %v; want %d", v, 100-maxCodes)
	}
	if ps := got["rebound.breaker.state"]; len(ps) != len(states) {
		t.Errorf("breaker state points %v; want h0's only", ps)
	}
}

// TestConfigObserver: Config.Observer is called after the telemetry.
func TestConfigObserver(t *testing.T) {
	r := newRig(t)
	var attempts, retries, waits, giveUps, changes, stores, fallbacks int
	tel, err := New(Config{MeterProvider: r.mp, Observer: rebound.Observer{
		OnAttempt:       func(rebound.AttemptEvent) { attempts++ },
		OnRetry:         func(rebound.RetryEvent) { retries++ },
		OnWait:          func(rebound.WaitEvent) { waits++ },
		OnGiveUp:        func(rebound.GiveUpEvent) { giveUps++ },
		OnBreakerChange: func(rebound.BreakerEvent) { changes++ },
		OnStore:         func(rebound.StoreEvent) { stores++ },
		OnFallback:      func(rebound.FallbackEvent) { fallbacks++ },
	}})
	if err != nil {
		t.Fatal(err)
	}
	o := tel.Observer()
	o.OnAttempt(rebound.AttemptEvent{Key: "k"}) // a nil Context is taken for Background
	o.OnRetry(rebound.RetryEvent{Key: "k"})
	o.OnWait(rebound.WaitEvent{Key: "k"})
	o.OnGiveUp(rebound.GiveUpEvent{Key: "k"})
	o.OnBreakerChange(rebound.BreakerEvent{Key: "k", From: breaker.Closed, To: breaker.Open})
	o.OnStore(rebound.StoreEvent{Err: errors.New("down")})
	o.OnStore(rebound.StoreEvent{Up: true})
	o.OnFallback(rebound.FallbackEvent{Key: "k", To: "k2", Alternative: 1, Reason: rebound.ReasonCircuitOpen})
	if attempts != 1 || retries != 1 || waits != 1 || giveUps != 1 || changes != 1 || stores != 2 || fallbacks != 1 {
		t.Errorf("user observer called %d %d %d %d %d %d %d times; want once each, the store twice",
			attempts, retries, waits, giveUps, changes, stores, fallbacks)
	}
	got := r.collect(t)
	if ps := got["rebound.store.outages"]; len(ps) != 1 || ps[0].value != 1 || len(ps[0].attrs) != 0 {
		t.Errorf("rebound.store.outages = %v; want 1, without attributes", ps)
	}
	if v, _ := total(got["rebound.fallbacks"], map[string]string{"rebound.fallback.reason": "circuit_open", "rebound.fallback.to": "k2"}); v != 1 {
		t.Errorf("rebound.fallbacks = %v; want 1", got["rebound.fallbacks"])
	}
}

func TestConfigErrors(t *testing.T) {
	if _, err := New(Config{MaxKeys: -1}); err == nil {
		t.Error("New accepted a negative MaxKeys")
	}
	r := newRig(t)
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tel.Watch(nil); err == nil {
		t.Error("Watch(nil) succeeded")
	}
	tr := rebound.New(r.base, rebound.WithObserver(tel.Observer()))
	reg, err := tel.Watch(tr)
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Unregister()
	if _, err := tel.Watch(tr); err == nil {
		t.Error("a second Watch succeeded")
	}
}

// TestFallbackRecorded: a call that leaves an overloaded model for its
// fallback is counted under the key it left, with why and where it went,
// and is an event on the call's span.
func TestFallbackRecorded(t *testing.T) {
	r := newRig(t)
	u := newUpstream(t, map[string][]answer{"m-over": {overloaded}, "m-alt": {ok200}})
	tel, err := New(Config{MeterProvider: r.mp})
	if err != nil {
		t.Fatal(err)
	}
	tr := rebound.New(r.base, rebound.WithObserver(tel.Observer()),
		rebound.WithFallback("*/m-over", rebound.Alternative{Model: "m-alt"}))
	ctx, span := r.tp.Tracer("test").Start(context.Background(), "call")
	if resp, err := call(t, ctx, tr, u.URL, "m-over"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("resp %v err %v; want the fallback's 200", resp, err)
	}
	span.End()
	pu, _ := url.Parse(u.URL)
	to := pu.Host + "/m-alt"
	got := r.collect(t)
	want := map[string]string{"server.address": pu.Hostname(), "gen_ai.request.model": "m-over",
		"rebound.fallback.reason": "attempts", "rebound.fallback.to": to}
	if ps := got["rebound.fallbacks"]; len(ps) != 1 || !matches(ps[0].attrs, want) || ps[0].value != 1 {
		t.Errorf("rebound.fallbacks = %v; want one, %v", ps, want)
	}
	spans := r.spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans; want the caller's", len(spans))
	}
	if got := strings.Join(eventNames(spans[0]), " "); got != "rebound.attempt rebound.fallback rebound.attempt" {
		t.Fatalf("span events: %s", got)
	}
	e := attrsOf(spans[0].Events()[1])
	for k, v := range map[string]string{"rebound.fallback.alternative": "1", "rebound.fallback.to": to,
		"rebound.fallback.reason": "attempts", "http.response.status_code": "503", "rebound.error.code": "model_overloaded"} {
		if e[k] != v {
			t.Errorf("fallback event %s = %q; want %q (%v)", k, e[k], v, e)
		}
	}
	checkNoSecrets(t, spans[0])
}
