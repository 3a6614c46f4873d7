package reboundotel

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/classify"
)

// ScopeName is the instrumentation scope of the meter: the module's path.
const ScopeName = "github.com/rebound-http/rebound/otel"

// Config configures a Telemetry. The zero value uses the global
// MeterProvider and DefaultMaxKeys.
type Config struct {
	// MeterProvider provides the meter the instruments are created with.
	// If nil, otel.GetMeterProvider() is used.
	MeterProvider metric.MeterProvider

	// MaxKeys bounds how many keys are recorded under their own
	// server.address and gen_ai.request.model; the ones beyond are recorded
	// as "_OTHER" and left out of the gauges. Zero means DefaultMaxKeys.
	MaxKeys int

	// Observer, when its fields are set, is called too, after the
	// telemetry is recorded: put rebound.SlogObserver or your own here,
	// since a Transport has one Observer.
	Observer rebound.Observer
}

// Telemetry records one Transport's events as metrics and span events. It
// is safe for concurrent use. Use one Telemetry per Transport: its Observer
// goes to rebound.WithObserver, and Watch reads that Transport's state.
type Telemetry struct {
	meter    metric.Meter
	keys     *keys
	user     rebound.Observer
	watching atomic.Bool

	attemptDuration metric.Float64Histogram
	waitDuration    metric.Float64Histogram
	retries         metric.Int64Counter
	giveUps         metric.Int64Counter
	fallbacks       metric.Int64Counter
	transitions     metric.Int64Counter
	storeOutages    metric.Int64Counter

	breakerState    metric.Int64ObservableGauge
	paceRate        metric.Float64ObservableGauge
	quotaHold       metric.Float64ObservableGauge
	budgetRemaining metric.Int64ObservableGauge

	requestsRemaining metric.Int64ObservableGauge
	tokensRemaining   metric.Int64ObservableGauge
}

// Bucket boundaries in seconds: inference calls take up to minutes, waits
// from milliseconds (pace) to a minute (hints).
var (
	attemptBuckets = []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300}
	waitBuckets    = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}
)

// New creates the instruments. It fails when the MeterProvider refuses one
// or cfg.MaxKeys is negative.
func New(cfg Config) (*Telemetry, error) {
	if cfg.MaxKeys < 0 {
		return nil, errors.New("reboundotel: negative MaxKeys")
	}
	if cfg.MaxKeys == 0 {
		cfg.MaxKeys = DefaultMaxKeys
	}
	mp := cfg.MeterProvider
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(ScopeName, metric.WithSchemaURL(semconv.SchemaURL))
	t := &Telemetry{meter: m, keys: newKeys(cfg.MaxKeys), user: cfg.Observer}
	var err, e error
	t.attemptDuration, e = m.Float64Histogram("rebound.attempt.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of each attempt, from sending to the classified answer."),
		metric.WithExplicitBucketBoundaries(attemptBuckets...))
	err = errors.Join(err, e)
	t.waitDuration, e = m.Float64Histogram("rebound.wait.duration", metric.WithUnit("s"),
		metric.WithDescription("Waits before attempts, as planned, by cause."),
		metric.WithExplicitBucketBoundaries(waitBuckets...))
	err = errors.Join(err, e)
	t.retries, e = m.Int64Counter("rebound.retries", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries decided on, by the failed attempt's error."))
	err = errors.Join(err, e)
	t.giveUps, e = m.Int64Counter("rebound.give_ups", metric.WithUnit("{call}"),
		metric.WithDescription("Calls that ended without success, by reason."))
	err = errors.Join(err, e)
	t.fallbacks, e = m.Int64Counter("rebound.fallbacks", metric.WithUnit("{call}"),
		metric.WithDescription("Calls sent on to an alternative of their fallback chain, by the key they left and why."))
	err = errors.Join(err, e)
	t.storeOutages, e = m.Int64Counter("rebound.store.outages", metric.WithUnit("{outage}"),
		metric.WithDescription("Times the Transport's Store stopped answering and the Transport fell back to its local state."))
	err = errors.Join(err, e)
	t.transitions, e = m.Int64Counter("rebound.breaker.transitions", metric.WithUnit("{transition}"),
		metric.WithDescription("Circuit breaker state changes."))
	err = errors.Join(err, e)
	t.breakerState, e = m.Int64ObservableGauge("rebound.breaker.state", metric.WithUnit("{state}"),
		metric.WithDescription("1 for the state each key's circuit breaker is in, 0 for the others."))
	err = errors.Join(err, e)
	t.paceRate, e = m.Float64ObservableGauge("rebound.pace.rate", metric.WithUnit("{request}/s"),
		metric.WithDescription("The adaptive pace a key is sent at."))
	err = errors.Join(err, e)
	t.quotaHold, e = m.Float64ObservableGauge("rebound.quota.hold", metric.WithUnit("s"),
		metric.WithDescription("Time until a held key's spent quota resets."))
	err = errors.Join(err, e)
	t.budgetRemaining, e = m.Int64ObservableGauge("rebound.retry_budget.remaining", metric.WithUnit("{retry}"),
		metric.WithDescription("Retries the retry budget allows in its current window."))
	err = errors.Join(err, e)
	t.requestsRemaining, e = m.Int64ObservableGauge("rebound.quota.requests.remaining", metric.WithUnit("{request}"),
		metric.WithDescription("What the provider last said is left of a key's request limit, until that window resets."))
	err = errors.Join(err, e)
	t.tokensRemaining, e = m.Int64ObservableGauge("rebound.quota.tokens.remaining", metric.WithUnit("{token}"),
		metric.WithDescription("What the provider last said is left of a key's token limit, until that window resets."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// Observer returns the Observer to give rebound.WithObserver. It calls
// Config.Observer's functions too.
func (t *Telemetry) Observer() rebound.Observer {
	return rebound.Observer{
		OnAttempt:       t.onAttempt,
		OnRetry:         t.onRetry,
		OnWait:          t.onWait,
		OnGiveUp:        t.onGiveUp,
		OnBreakerChange: t.onBreakerChange,
		OnStore:         t.onStore,
		OnFallback:      t.onFallback,
	}
}

// Watch registers the gauges' callback, which reads tr.Stats() at each
// collection: each key's breaker state, pace, quota hold and remaining
// quota, and the retry budget's balance. Unregister the returned Registration when tr is no
// longer used. A Telemetry watches one Transport; a second Watch fails.
func (t *Telemetry) Watch(tr *rebound.Transport) (metric.Registration, error) {
	if tr == nil {
		return nil, errors.New("reboundotel: Watch(nil)")
	}
	if !t.watching.CompareAndSwap(false, true) {
		return nil, errors.New("reboundotel: Watch called twice; use one Telemetry per Transport")
	}
	reg, err := t.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		t.observe(o, tr.Stats(), time.Now())
		return nil
	}, t.breakerState, t.paceRate, t.quotaHold, t.budgetRemaining, t.requestsRemaining, t.tokensRemaining)
	if err != nil {
		t.watching.Store(false)
		return nil, err
	}
	return reg, nil
}

func (t *Telemetry) observe(o metric.Observer, st rebound.Stats, now time.Time) {
	if b := st.Budget; b.WindowAllowed > 0 || b.Calls > 0 {
		o.ObserveInt64(t.budgetRemaining, max(b.WindowAllowed-b.WindowRetries, 0))
	}
	for _, ks := range st.Keys {
		k := t.keys.get(ks.Key)
		if !k.own {
			continue // a key past MaxKeys: its "_OTHER" would be observed twice
		}
		for _, s := range states {
			var v int64
			if s == ks.Breaker {
				v = 1
			}
			o.ObserveInt64(t.breakerState, v, k.set(setID{kind: stateSet, a: uint8(s)}).obs...)
		}
		if ks.Rate > 0 && ks.Rate < math.MaxFloat64 { // rate.Inf: paced, but at no limit
			o.ObserveFloat64(t.paceRate, ks.Rate, k.set(setID{kind: baseSet}).obs...)
		}
		if hold := ks.HoldUntil.Sub(now); !ks.HoldUntil.IsZero() && hold > 0 {
			o.ObserveFloat64(t.quotaHold, hold.Seconds(), k.set(setID{kind: baseSet}).obs...)
		}
		if ks.QuotaAt.IsZero() {
			continue
		}
		if w := ks.Quota.Requests; w.Known && (w.Reset == 0 || ks.QuotaAt.Add(w.Reset).After(now)) {
			o.ObserveInt64(t.requestsRemaining, w.Remaining, k.set(setID{kind: baseSet}).obs...)
		}
		if w := ks.Quota.Tokens; w.Known && (w.Reset == 0 || ks.QuotaAt.Add(w.Reset).After(now)) {
			o.ObserveInt64(t.tokensRemaining, w.Remaining, k.set(setID{kind: baseSet}).obs...)
		}
	}
}

func (t *Telemetry) onAttempt(e rebound.AttemptEvent) {
	ctx := contextOf(e.Context)
	k := t.keys.get(e.Key)
	id := setID{kind: attemptSet, status: status(e.Decision.Status), a: uint8(e.Decision.Verdict)}
	if e.Decision.Verdict != classify.Success && id.status < 400 {
		id.code = t.keys.code(e.Decision.Code)
	}
	t.attemptDuration.Record(ctx, e.Duration.Seconds(), k.set(id).rec...)
	attemptEvent(ctx, e)
	if h := t.user.OnAttempt; h != nil {
		h(e)
	}
}

func (t *Telemetry) onRetry(e rebound.RetryEvent) {
	ctx := contextOf(e.Context)
	k := t.keys.get(e.Key)
	id := setID{kind: retrySet, status: status(e.Decision.Status), code: t.keys.code(e.Decision.Code)}
	t.retries.Add(ctx, 1, k.set(id).add...)
	retryEvent(ctx, e)
	if h := t.user.OnRetry; h != nil {
		h(e)
	}
}

func (t *Telemetry) onWait(e rebound.WaitEvent) {
	ctx := contextOf(e.Context)
	k := t.keys.get(e.Key)
	t.waitDuration.Record(ctx, e.Wait.Seconds(), k.set(setID{kind: waitSet, a: uint8(e.Cause)}).rec...)
	waitEvent(ctx, e)
	if h := t.user.OnWait; h != nil {
		h(e)
	}
}

func (t *Telemetry) onGiveUp(e rebound.GiveUpEvent) {
	ctx := contextOf(e.Context)
	k := t.keys.get(e.Key)
	id := setID{kind: giveUpSet, a: uint8(e.Reason)}
	if e.Attempts > 0 {
		id.status = status(e.Decision.Status)
	}
	t.giveUps.Add(ctx, 1, k.set(id).add...)
	giveUpEvent(ctx, e)
	if h := t.user.OnGiveUp; h != nil {
		h(e)
	}
}

func (t *Telemetry) onFallback(e rebound.FallbackEvent) {
	ctx := contextOf(e.Context)
	k := t.keys.get(e.Key)
	t.fallbacks.Add(ctx, 1, k.set(setID{kind: fallbackSet, a: uint8(e.Reason), code: t.keys.alternative(e.To)}).add...)
	fallbackEvent(ctx, e)
	if h := t.user.OnFallback; h != nil {
		h(e)
	}
}

func (t *Telemetry) onStore(e rebound.StoreEvent) {
	if !e.Up {
		t.storeOutages.Add(context.Background(), 1)
	}
	if h := t.user.OnStore; h != nil {
		h(e)
	}
}

func (t *Telemetry) onBreakerChange(e rebound.BreakerEvent) {
	k := t.keys.get(e.Key)
	t.transitions.Add(context.Background(), 1, k.set(setID{kind: transitionSet, a: uint8(e.To), b: uint8(e.From)}).add...)
	if h := t.user.OnBreakerChange; h != nil {
		h(e)
	}
}

func contextOf(ctx context.Context) context.Context {
	if ctx == nil {
		return context.Background()
	}
	return ctx
}
