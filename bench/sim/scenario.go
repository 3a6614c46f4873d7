package sim

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// DefaultRate is the offered load, in calls per second, when Options.Rate is
// zero. A 2-core machine sustains it with every client and the upstream in
// one process.
const DefaultRate = 200

// Default measured windows.
const (
	// DefaultMeasure is the measured window of every scenario by default
	// (the overload scenario stretches it to 3.5 s, the burst scenario to a
	// whole 4 s cycle).
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
	Noisy429     = "noisy-429"
	RateLimited  = "rate-limited"
	BurstLoad    = "burst"
	Quota        = "quota"
	Tokens       = "tokens"
	Outage       = "outage"
	Overload     = "overload"
	Synchronized = "synchronized"
	Storm        = "storm"
	SlowTail     = "slow-tail"
	Streaming    = "streaming"
	Stall        = "stall"
	SlowLimited  = "slow-limited"
)

// Names returns the scenario names in their default order.
func Names() []string {
	return []string{Flaky, Noisy429, RateLimited, BurstLoad, Quota, Tokens, Outage, Overload, Synchronized, Storm, SlowTail, Streaming, Stall, SlowLimited}
}

// Options parameterize Scenarios. The zero value gives the default,
// time-compressed set.
type Options struct {
	// Rate is the offered load in calls per second; capacities and bucket
	// sizes scale with it. Zero means DefaultRate.
	Rate float64
	// Measure is the measured window of each scenario (the overload scenario
	// stretches it to fit 1.5 capacity cuts of recovery after its cut, the
	// burst scenario to whole 4 s cycles). Zero means DefaultMeasure, or
	// LongMeasure when Long is set.
	Measure time.Duration
	// Long selects the literature-faithful timings: the overload scenario
	// cuts capacity for 10 s instead of 1 s, outages last a third of a long
	// window, the quota and tokens windows last 10 s instead of 1 s.
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

// Phase is a span [From, To) of a load cycle with its Poisson rate in calls
// per second.
type Phase struct {
	From, To time.Duration
	Rate     float64
}

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
	// Rate is the offered load in calls per second (the rate of the busiest
	// phase when Cycle is set).
	Rate float64
	// Cycle, when set, makes the offered load vary: the phases of one
	// cycle, from 0 to the last phase's To, repeated before and after the
	// measured window starts (warm-up and tail included). Nil means Rate
	// throughout.
	Cycle []Phase
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
	// P and Fatal are the per-attempt probabilities of a retryable and of a
	// fatal error of the statistical scenarios (flaky, noisy-429,
	// streaming); zero elsewhere.
	P, Fatal float64
	// Sizes, when set, draws the size of each call's body: its prompt in
	// tokens and its max_tokens. Nil means the default body.
	Sizes func(r *rand.Rand) (promptTokens, maxTokens int)

	// RequestLimit and TokenLimit are the provider's limits, per second,
	// over all models: the quota the quota and tokens scenarios tell, the
	// buckets of rate-limited and burst; zero elsewhere.
	RequestLimit, TokenLimit float64

	// meter says whether the upstream reads each request's body to charge
	// it tokens (see Charge).
	meter       bool
	newBehavior func() Behavior
	optimum     func(s Scenario, deadline time.Duration) Optimum
}

// Behavior returns a new Behavior for one run of s.
func (s Scenario) Behavior() Behavior { return s.newBehavior() }

// Optimum returns what a client that knew s's fault in advance could reach
// with the given call deadline (see Optimum).
func (s Scenario) Optimum(deadline time.Duration) Optimum { return s.optimum(s, deadline) }

// RateAt returns the offered rate at t, measured from the start of the
// measured window.
func (s Scenario) RateAt(t time.Duration) float64 {
	if len(s.Cycle) == 0 {
		return s.Rate
	}
	period := s.Cycle[len(s.Cycle)-1].To
	u := (t%period + period) % period
	for _, p := range s.Cycle {
		if u >= p.From && u < p.To {
			return p.Rate
		}
	}
	return 0
}

// Phases splits [from, to) into spans of constant offered rate.
func (s Scenario) Phases(from, to time.Duration) []Phase {
	if len(s.Cycle) == 0 {
		return []Phase{{From: from, To: to, Rate: s.Rate}}
	}
	period := s.Cycle[len(s.Cycle)-1].To
	var out []Phase
	for k := floorDiv(from, period); time.Duration(k)*period < to; k++ {
		for _, p := range s.Cycle {
			a, b := time.Duration(k)*period+p.From, time.Duration(k)*period+p.To
			if a, b = max(a, from), min(b, to); a < b {
				out = append(out, Phase{From: a, To: b, Rate: p.Rate})
			}
		}
	}
	return out
}

// floorDiv returns ⌊t/d⌋ for d > 0.
func floorDiv(t, d time.Duration) int64 {
	q := int64(t / d)
	if t%d < 0 {
		q--
	}
	return q
}

// Parameters of the scenarios whose limits are told in headers.
const (
	// quotaShare is the quota and tokens scenarios' limit as a share of the
	// load offered to it: the load is 120% of the limit.
	quotaShare = 1 / 1.2
	// promptMedian and promptSigma draw the tokens scenario's prompt sizes
	// (lognormal, mean promptMedian·e^(σ²/2) ≈ 413 tokens).
	promptMedian = 300
	promptSigma  = 0.8
)

// maxTokensChoices are the tokens scenario's max_tokens values, drawn
// uniformly (mean 396.8).
var maxTokensChoices = []int{64, 128, 256, 512, 1024}

// drawSizes draws a tokens-scenario call: a lognormal prompt and one of
// maxTokensChoices.
func drawSizes(r *rand.Rand) (promptTokens, maxTokens int) {
	p := max(1, int(math.Round(promptMedian*math.Exp(promptSigma*r.NormFloat64()))))
	return p, maxTokensChoices[r.IntN(len(maxTokensChoices))]
}

// meanCharge is the expected Charge of a tokens-scenario call.
func meanCharge() float64 {
	var m float64
	for _, v := range maxTokensChoices {
		m += float64(v)
	}
	return promptMedian*math.Exp(promptSigma*promptSigma/2) + m/float64(len(maxTokensChoices))
}

// Scenarios returns the scenarios for o, in the order of Names.
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
	flaky.optimum = theoryOptimum(time.Second, "the longest hint, Retry-After: 1")

	noisy := base(Noisy429, "5% of attempts refused at random (429, Retry-After: 1), whatever the load; no other fault", "m-noisy")
	noisy.P = 0.05
	noisy.newBehavior = func() Behavior { return &noisyBehavior{p: noisy.P} }
	noisy.optimum = theoryOptimum(time.Second, "its Retry-After: 1")

	// Each model's bucket refills at 60% of the load offered to it.
	limited := base(RateLimited, "token bucket per model at 60% of the offered load; 429 with Retry-After (model a) or retry-after-ms (model b)", "m-limit-a", "m-limit-b")
	perModel := o.Rate / float64(len(limited.Models))
	limited.RequestLimit = 0.6 * o.Rate
	limited.newBehavior = func() Behavior { return newRateLimit(len(limited.Models), 0.6*perModel, perModel/10) }
	limited.optimum = pacedOptimum("a FIFO pacer at the buckets' rate", lane{share: 1, capacity: bucketCap{rate: 0.6 * o.Rate, burst: o.Rate / 10}})

	// The provider's limit L is two thirds of the peak load: the load is
	// 150% of L for 2 s, then 50% for 2 s, so over a cycle it offers what the
	// bucket serves and a pacer can carry the burst's excess into the quiet
	// phase (the last of it waits about 0.9 s). -long repeats the cycle.
	const burstFor = 2 * time.Second
	limit := o.Rate / 1.5
	burst := base(BurstLoad, fmt.Sprintf("token bucket (the provider's limit L) offered 150%% of L for %v, then 50%% for %v, cycle after cycle; 429 with Retry-After", burstFor, burstFor), "m-burst")
	burst.Cycle = []Phase{{From: 0, To: burstFor, Rate: 1.5 * limit}, {From: burstFor, To: 2 * burstFor, Rate: 0.5 * limit}}
	burst.Measure = time.Duration(math.Ceil(float64(m)/float64(2*burstFor))) * 2 * burstFor
	burst.RequestLimit = limit
	burst.newBehavior = func() Behavior { return newRateLimit(1, limit, limit/10) }
	burst.optimum = pacedOptimum("a FIFO pacer at the bucket's rate", lane{share: 1, capacity: bucketCap{rate: limit, burst: limit / 10}})

	// The quota and tokens windows: a minute's limit, time-compressed.
	qw := time.Second
	if o.Long {
		qw = 10 * time.Second
	}
	requests := int(quotaShare * o.Rate * qw.Seconds())
	quota := base(Quota, fmt.Sprintf("fixed-window quota of %d requests per %v told on every response (x-ratelimit-*-requests, -tokens), offered 120%% of it; 429 with Retry-After, retry-after-ms", requests, qw), "m-quota")
	quota.meter = true
	quota.RequestLimit = float64(requests) / qw.Seconds()
	quota.newBehavior = func() Behavior {
		return newQuota(1, qw, requests, generous(o.Rate*qw.Seconds()*(2+defaultMaxTokens)), false)
	}
	quota.optimum = pacedOptimum("a FIFO pacer within the quota", lane{share: 1, capacity: windowCap{per: float64(requests), window: qw}})

	budget := int(math.Round(quotaShare*o.Rate*qw.Seconds()*meanCharge()/1000) * 1000)
	tokens := base(Tokens, fmt.Sprintf("fixed-window quota of %d tokens per %v (prompt estimate + max_tokens per request) told on every response, offered 120%% of it with varied prompts and max_tokens; 429 with Retry-After, retry-after-ms", budget, qw), "m-tokens")
	tokens.meter = true
	tokens.TokenLimit = float64(budget) / qw.Seconds()
	tokens.Sizes = drawSizes
	tokens.newBehavior = func() Behavior {
		return newQuota(1, qw, generous(o.Rate*qw.Seconds()), budget, true)
	}
	tokens.optimum = pacedOptimum("a FIFO pacer within the token quota, in tokens (mean charge "+fmt.Sprintf("%.0f", meanCharge())+")",
		lane{share: 1, capacity: windowCap{per: float64(budget) / meanCharge(), window: qw}})

	outage := base(Outage, "model b of three fails every request (503) for a third of the window, then heals", "m-out-a", "m-out-b", "m-out-c")
	outage.Fault = Window{Start: (m / 3).Round(step), End: (2 * m / 3).Round(step)}
	outage.newBehavior = func() Behavior { return &outageBehavior{model: 1, window: outage.Fault} }
	outage.optimum = func(s Scenario, d time.Duration) Optimum {
		return pacedOptimum("holding model b's calls until the outage ends", lane{share: 2.0 / 3, capacity: openCap{}},
			lane{share: 1.0 / 3, capacity: openCap{closed: s.Fault}})(s, d)
	}

	cut := time.Second
	if o.Long {
		cut = 10 * time.Second
	}
	overload := base(Overload, fmt.Sprintf("capacity twice the load; latency grows with requests in flight, past 250 ms a request fails (503 model_overloaded) after 250 ms; capacity cut by 80%% for %v", cut), "m-overload")
	cutStart := max((m / 4).Round(step), cut)
	overload.Measure = max(m, cutStart+cut*5/2)
	overload.Fault = Window{Start: cutStart, End: cutStart + cut}
	overloadService := 40 * time.Millisecond
	overload.newBehavior = func() Behavior {
		return &overloadBehavior{capacity: 2 * o.Rate, cut: 0.2, window: overload.Fault, service: overloadService, timeout: 250 * time.Millisecond}
	}
	overload.optimum = func(s Scenario, d time.Duration) Optimum {
		return pacedOptimum("a FIFO pacer at the server's capacity, cut included", lane{share: 1, service: overloadService,
			capacity: cutCap{rate: 2 * s.Rate, cut: 0.2, window: s.Fault}})(s, d)
	}

	syncf := base(Synchronized, "every request fails (500) for 1 s; a burst of one second's calls starts with it", "m-sync")
	syncf.Fault = Window{Start: (m / 4).Round(step), End: (m / 4).Round(step) + time.Second}
	syncf.Burst = int(o.Rate)
	syncf.newBehavior = func() Behavior { return &windowBehavior{window: syncf.Fault, fault: infeServerError} }
	syncf.optimum = func(s Scenario, d time.Duration) Optimum {
		return pacedOptimum("holding every call until the failure ends", lane{share: 1, capacity: openCap{closed: s.Fault}})(s, d)
	}

	storm := base(Storm, fmt.Sprintf("all %d models answer 503 model_overloaded with retry-after-ms: 10 to everything, all the time", stormModels), stormNames()...)
	storm.newBehavior = func() Behavior { return stormBehavior{} }
	storm.optimum = func(Scenario, time.Duration) Optimum {
		return Optimum{Success: 0, PerCall: 1, How: "nothing succeeds; one request per call learns it"}
	}

	slow := base(SlowTail, "lognormal latency (median 50 ms, sigma 0.5) with 1% stragglers 10x slower; no errors", "m-slow")
	slow.newBehavior = func() Behavior { return slowTailBehavior{} }
	slow.optimum = func(Scenario, time.Duration) Optimum {
		return Optimum{Success: 1, PerCall: 1, P50: slowMedian, How: "no fault: bare's; p50 the latency's median"}
	}

	stream := base(Streaming, "SSE responses; 20% open with an error event (stream_error) after a 200", "m-stream")
	stream.Stream = true
	stream.P = 0.20
	stream.newBehavior = func() Behavior { return &streamBehavior{p: stream.P} }
	stream.optimum = theoryOptimum(3*time.Millisecond, "an error event, about 3 ms, no hint")

	// A stalled stream sends its 200 and headers at once, and then nothing
	// for longer than any call deadline: only a client that gives up on it
	// and asks again gets an answer.
	stall := base(Stall, fmt.Sprintf("SSE responses; %d%% send their 200 and headers, then no event for %v", int(stallShare*100), stallFor), "m-stall")
	stall.Stream = true
	stall.P = stallShare
	stall.newBehavior = func() Behavior { return &stallBehavior{p: stall.P, stall: stallFor} }
	stall.optimum = theoryOptimum(stallNotice, fmt.Sprintf("a stall noticed %v after its headers (no normal first event is that late)", stallNotice))

	// rate-limited as a model serves it: its answers take about a second
	// (they are generated), its 429s come at once, so that when the first
	// 429s come most of what was sent before them is still out.
	slowLimited := base(SlowLimited, fmt.Sprintf("token bucket at 60%% of the offered load, as rate-limited, with answers that take a lognormal %v (sigma %.1f), as a model generates them; 429s at once", generateMedian, generateSigma), "m-gen")
	slowLimited.RequestLimit = 0.6 * o.Rate
	slowLimited.newBehavior = func() Behavior {
		b := newRateLimit(1, 0.6*o.Rate, o.Rate/10)
		b.answer = func(r *rand.Rand) time.Duration { return lognormal(r, generateMedian, generateSigma) }
		return b
	}
	slowLimited.optimum = pacedOptimum("a FIFO pacer at the bucket's rate",
		lane{share: 1, capacity: bucketCap{rate: 0.6 * o.Rate, burst: o.Rate / 10}, service: generateMedian})

	return []Scenario{flaky, noisy, limited, burst, quota, tokens, outage, overload, syncf, storm, slow, stream, stall, slowLimited}
}

// The slow-limited scenario's answers: a lognormal latency of this median
// and sigma (its mean about 1.13 s).
const (
	generateMedian = time.Second
	generateSigma  = 0.5
)

// The stall scenario's stalled share, how long a stalled stream withholds
// its first event, and how soon after its headers a client that knew the
// upstream's latencies could tell a stall (a normal first event comes
// after 20 ms·e^(0.3·N(0,1)): 61 ms is its 99.99th percentile).
const (
	stallShare  = 0.10
	stallFor    = 30 * time.Second
	stallNotice = 100 * time.Millisecond
)

// stormModels is the number of models of the storm scenario.
const stormModels = 300

func stormNames() []string {
	names := make([]string, stormModels)
	for i := range names {
		names[i] = fmt.Sprintf("m-storm-%03d", i)
	}
	return names
}

// generous returns a limit ten times use, rounded up to a thousand: one the
// load never reaches.
func generous(use float64) int {
	return int(math.Ceil(10*use/1000) * 1000)
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
