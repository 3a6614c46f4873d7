package report

import (
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Report is everything one bench invocation measured.
type Report struct {
	// Command is the command line that produced the report.
	Command string
	// Environment describes the machine (Go version, OS, CPUs).
	Environment string
	// Seed, Rate, Warmup, Timeout and Long are the run's settings.
	Seed    uint64
	Rate    float64
	Warmup  time.Duration
	Timeout time.Duration
	Long    bool
	// Wall is how long the whole invocation took.
	Wall time.Duration
	// Scenarios and Clients describe what ran, in report order.
	Scenarios []Scenario
	Clients   []Client
	// Runs holds one entry per (scenario, client) pair.
	Runs []Run
	// Theory compares the flaky scenario with its closed form; empty when
	// the flaky scenario did not run.
	Theory []Theory
}

// Scenario describes one scenario.
type Scenario struct {
	Name, Title string
	// Measure is the measured window.
	Measure time.Duration
	// FaultStart and FaultEnd bound the fault window; both zero when the
	// fault is not a window.
	FaultStart, FaultEnd time.Duration
	// Optimum is what a client that knew the fault in advance could reach;
	// nil when not known.
	Optimum *Optimum
}

// Optimum is a scenario's reference row: the success rate, upstream
// requests per call and median latency of successes (zero when not given)
// a client that knew the fault in advance could reach, and how they are
// derived.
type Optimum struct {
	Success, PerCall float64
	P50              time.Duration
	How              string
}

// Client describes one client.
type Client struct {
	Name, Config string
}

// Run is the measurement of one client on one scenario.
type Run struct {
	Scenario, Client string
	// Calls is the number of calls in the measured window.
	Calls int
	// SuccessRate is the share of calls that succeeded.
	SuccessRate float64
	// Success and All are latency histograms in microseconds.
	Success, All *hdrhistogram.Histogram
	// AmpMean is upstream requests per call; AmpSeries the same per time
	// bucket of width Bucket, and AmpPeak its maximum.
	AmpMean, AmpPeak float64
	AmpSeries        []float64
	Bucket           time.Duration
	// Throttled is the share of the upstream requests answered 429.
	Throttled float64
	// Replicas is how many independent instances of the client ran, the
	// calls dealt among them.
	Replicas int
	// UpstreamRate is the upstream requests per second in the measured
	// window, and TokenRate the tokens per second accepted for the
	// measured calls; RequestLimit and TokenLimit the provider's quota per
	// second, when the scenario has one.
	UpstreamRate, TokenRate, RequestLimit, TokenLimit float64
	// Early counts retries sent before the server's hint expired;
	// FatalRetried retries of an answer documented as not retryable.
	Early, FatalRetried int
	// HasFault, Recovered and Recovery give the time to recover after the
	// fault window (see load.Summary).
	HasFault, Recovered bool
	Recovery            time.Duration
	// ScheduledRate and AchievedRate check the generator; Invalid says why
	// the run is invalid, empty when it is valid.
	ScheduledRate, AchievedRate float64
	Invalid                     string
	// Failures counts failed calls by kind.
	Failures map[string]int
	// TailSent is the number of unmeasured tail calls sent after the
	// window, while measured calls were still under way.
	TailSent int
}

// Theory is one client's row of the flaky scenario's closed form.
type Theory struct {
	Client string
	// Attempts is the number of attempts the client gets within the call
	// deadline.
	Attempts int
	// Success and PerCall are the predicted success rate and upstream
	// requests per call; MeasuredSuccess and MeasuredPerCall the measured
	// ones.
	Success, PerCall                 float64
	MeasuredSuccess, MeasuredPerCall float64
}
