package sim

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// DefaultRate is the offered load, in calls per second, when Options.Rate is
// zero. A 2-core machine sustains it with every client and the upstream in
// one process.
const DefaultRate = 200

// Default measured windows.
const (
	// DefaultMeasure is the measured window of every scenario by default
	// (the overload scenario stretches it to 3.5 s).
	DefaultMeasure = 2500 * time.Millisecond
	// LongMeasure is the measured window with Options.Long.
	LongMeasure = 40 * time.Second
	// warmup precedes every measured window; its calls are discarded.
	warmup = 250 * time.Millisecond
	// step is the grain of fault windows: the 250 ms buckets in which the
	// report measures recovery start at a window's end.
	step = 250 * time.Millisecond
)

// Scenario names, in the order Scenarios returns them.
const (
	Flaky        = "flaky"
	RateLimited  = "rate-limited"
	Outage       = "outage"
	Overload     = "overload"
	Synchronized = "synchronized"
	SlowTail     = "slow-tail"
	Streaming    = "streaming"
)

// Names returns the scenario names in their default order.
func Names() []string {
	return []string{Flaky, RateLimited, Outage, Overload, Synchronized, SlowTail, Streaming}
}

// Options parameterize Scenarios. The zero value gives the default,
// time-compressed set.
type Options struct {
	// Rate is the offered load in calls per second; capacities and bucket
	// sizes scale with it. Zero means DefaultRate.
	Rate float64
	// Measure is the measured window of each scenario (the overload scenario
	// stretches it to fit 1.5 capacity cuts of recovery after its cut). Zero
	// means DefaultMeasure, or LongMeasure when Long is set.
	Measure time.Duration
	// Long selects the literature-faithful timings: the overload scenario
	// cuts capacity for 10 s instead of 1 s, outages last a third of a long
	// window.
	Long bool
}

// Validate reports whether o is usable.
func (o Options) Validate() error {
	var errs []error
	if o.Rate < 0 {
		errs = append(errs, fmt.Errorf("sim: rate %g must not be negative", o.Rate))
	}
	if o.Measure < 0 {
		errs = append(errs, fmt.Errorf("sim: measured window %v must not be negative", o.Measure))
	}
	if m := o.withDefaults().Measure; m < 2*time.Second {
		errs = append(errs, fmt.Errorf("sim: measured window %v is shorter than 2s, too short for the fault windows", m))
	}
	return errors.Join(errs...)
}

// withDefaults is the one place where Options' defaults are applied.
func (o Options) withDefaults() Options {
	if o.Rate == 0 {
		o.Rate = DefaultRate
	}
	if o.Measure == 0 {
		o.Measure = DefaultMeasure
		if o.Long {
			o.Measure = LongMeasure
		}
	}
	return o
}

// Window is a span of the measured window, [Start, End), both measured from
// the start of the measured window.
type Window struct {
	Start, End time.Duration
}

// IsZero reports whether w is the empty window.
func (w Window) IsZero() bool { return w.Start == 0 && w.End == 0 }

// Contains reports whether t lies in w.
func (w Window) Contains(t time.Duration) bool { return t >= w.Start && t < w.End }

// Scenario describes one upstream behaviour and the load it is measured
// under. Scenarios are values; Behavior returns fresh state for each run.
type Scenario struct {
	// Name is the short name used by the -scenarios flag.
	Name string
	// Title says in a line what the upstream does.
	Title string
	// Models are the model names; the upstream listens once per model and
	// the load spreads calls over them uniformly.
	Models []string
	// Stream says whether calls ask for a text/event-stream response.
	Stream bool
	// Rate is the offered load in calls per second.
	Rate float64
	// Warmup precedes the measured window; its calls are discarded.
	Warmup time.Duration
	// Measure is the length of the measured window.
	Measure time.Duration
	// Fault is the window in which the scenario's fault is active; zero
	// when the fault is permanent or statistical. Recovery is measured from
	// Fault.End.
	Fault Window
	// Burst is the number of calls sent together at Fault.Start on top of
	// the Poisson arrivals ("all clients start together"); zero for none.
	Burst int
	// P and Fatal are the flaky scenario's per-attempt probabilities of a
	// retryable and of a fatal error; zero elsewhere.
	P, Fatal float64

	newBehavior func() Behavior
}

// Behavior returns a new Behavior for one run of s.
func (s Scenario) Behavior() Behavior { return s.newBehavior() }

// Scenarios returns the seven scenarios for o, in the order of Names.
// It panics if o is invalid; call Validate first.
func Scenarios(o Options) []Scenario {
	if err := o.Validate(); err != nil {
		panic(err)
	}
	o = o.withDefaults()
	m := o.Measure
	base := func(name, title string, models ...string) Scenario {
		return Scenario{Name: name, Title: title, Models: models, Rate: o.Rate, Warmup: warmup, Measure: m}
	}

	flaky := base(Flaky, "independent errors: 20% retryable (429/500/502/503/model_overloaded), 2% fatal (400/401/402)", "m-flaky")
	flaky.P, flaky.Fatal = 0.20, 0.02
	flaky.newBehavior = func() Behavior { return &flakyBehavior{p: flaky.P, fatal: flaky.Fatal} }

	// Each model's bucket refills at 60% of the load it is offered.
	limited := base(RateLimited, "token bucket per model at 60% of the offered load; 429 with Retry-After (model a) or retry-after-ms (model b)", "m-limit-a", "m-limit-b")
	perModel := o.Rate / float64(len(limited.Models))
	limited.newBehavior = func() Behavior { return newRateLimit(len(limited.Models), 0.6*perModel, perModel/10) }

	outage := base(Outage, "model b of three fails every request (503) for a third of the window, then heals", "m-out-a", "m-out-b", "m-out-c")
	outage.Fault = Window{Start: (m / 3).Round(step), End: (2 * m / 3).Round(step)}
	outage.newBehavior = func() Behavior { return &outageBehavior{model: 1, window: outage.Fault} }

	cut := time.Second
	if o.Long {
		cut = 10 * time.Second
	}
	overload := base(Overload, fmt.Sprintf("capacity twice the load; latency grows with requests in flight, past 250 ms a request fails (503 model_overloaded) after 250 ms; capacity cut by 80%% for %v", cut), "m-overload")
	cutStart := max((m / 4).Round(step), cut)
	overload.Measure = max(m, cutStart+cut*5/2)
	overload.Fault = Window{Start: cutStart, End: cutStart + cut}
	overload.newBehavior = func() Behavior {
		return &overloadBehavior{capacity: 2 * o.Rate, cut: 0.2, window: overload.Fault, service: 40 * time.Millisecond, timeout: 250 * time.Millisecond}
	}

	syncf := base(Synchronized, "every request fails (500) for 1 s; a burst of one second's calls starts with it", "m-sync")
	syncf.Fault = Window{Start: (m / 4).Round(step), End: (m / 4).Round(step) + time.Second}
	syncf.Burst = int(o.Rate)
	syncf.newBehavior = func() Behavior { return &windowBehavior{window: syncf.Fault, fault: infeServerError} }

	slow := base(SlowTail, "lognormal latency (median 50 ms, sigma 0.5) with 1% stragglers 10x slower; no errors", "m-slow")
	slow.newBehavior = func() Behavior { return slowTailBehavior{} }

	stream := base(Streaming, "SSE responses; 20% open with an error event (stream_error) after a 200", "m-stream")
	stream.Stream = true
	stream.newBehavior = func() Behavior { return &streamBehavior{p: 0.20} }

	return []Scenario{flaky, limited, outage, overload, syncf, slow, stream}
}

// Theory returns the flaky scenario's closed form for a client that makes at
// most n attempts: its success rate and its upstream requests per call. A
// client that retries only retryable errors stops at a fatal one, so it
// succeeds with (1−p−f)/(1−p)·(1−p^n) and sends (1−p^n)/(1−p) requests; a
// client that retries every error fails only when all n attempts fail:
// 1−(p+f)^n and (1−(p+f)^n)/(1−p−f). With f = 0 both are 1−p^n and
// (1−p^n)/(1−p).
func (s Scenario) Theory(n int, retriesFatal bool) (success, perCall float64) {
	p, f := s.P, s.Fatal
	if retriesFatal {
		p, f = p+f, 0
	}
	pn := math.Pow(p, float64(n))
	return (1 - p - f) / (1 - p) * (1 - pn), (1 - pn) / (1 - p)
}
