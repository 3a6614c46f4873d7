package sim

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"time"
)

// Optimum is what a client that knew a scenario's fault in advance could
// reach: the reference row beside the clients in the report. Each scenario
// derives it from its own parameters; the derivations are simple on
// purpose (a closed form, or a fluid model of the capacity), so Optimum is a
// ceiling to read the clients against, not a prediction of any of them.
type Optimum struct {
	// Success is the share of the measured calls that succeed.
	Success float64
	// PerCall is upstream requests per call.
	PerCall float64
	// P50 is the median latency of the successful calls, from their
	// intended send time; zero when not given.
	P50 time.Duration
	// How says in a line how the figures are derived.
	How string
}

// Median latencies of the upstream's answers (see normal and
// slowTailBehavior): the latency of a call sent once and answered at once.
const (
	normalMedian = 20 * time.Millisecond
	slowMedian   = 50 * time.Millisecond
)

// theoryOptimum is the optimum of a scenario of independent per-attempt
// faults (flaky, noisy-429, streaming): the closed form of Scenario.Theory
// for a client that retries every retryable error and no fatal one, each
// retry after wait (the longest hint the scenario sends, or the time an
// error takes when it sends none), so that N = 1 + ⌊(deadline−1ns)/wait⌋
// attempts fit in the deadline. Most calls succeed at the first attempt, so
// the median latency is that of one answer.
func theoryOptimum(wait time.Duration, what string) func(Scenario, time.Duration) Optimum {
	return func(s Scenario, deadline time.Duration) Optimum {
		n := hintedAttempts(deadline, wait)
		success, perCall := s.Theory(n, false)
		return Optimum{Success: success, PerCall: perCall, P50: normalMedian,
			How: fmt.Sprintf("closed form (1−p−f)/(1−p)·(1−p^N), (1−p^N)/(1−p) with p = %g, f = %g: every retryable error retried after %s, N = %d attempts within the deadline",
				s.P, s.Fatal, what, n)}
	}
}

// hintedAttempts returns how many attempts, wait apart, start before the
// deadline.
func hintedAttempts(deadline, wait time.Duration) int {
	if wait <= 0 || deadline <= 0 {
		return 1
	}
	return 1 + int((deadline-1)/wait)
}

// capacity is what serves a lane of a paced optimum, in calls.
type capacity interface {
	// refill returns the calls the lane may send in the step [t, t+dt),
	// given the unused allowance have left from the step before; first is
	// set for the first step.
	refill(have float64, t, dt time.Duration, first bool) float64
}

// bucketCap is a token bucket: rate calls per second, at most burst saved.
type bucketCap struct{ rate, burst float64 }

func (c bucketCap) refill(have float64, _, dt time.Duration, first bool) float64 {
	if first {
		return c.burst
	}
	return min(max(c.burst, c.rate*dt.Seconds()), have+c.rate*dt.Seconds())
}

// windowCap is a fixed-window quota: per calls in each window [k·window,
// (k+1)·window), unused ones lost at its end.
type windowCap struct {
	per    float64
	window time.Duration
}

func (c windowCap) refill(have float64, t, dt time.Duration, first bool) float64 {
	if first || floorDiv(t, c.window) != floorDiv(t-dt, c.window) {
		return c.per
	}
	return have
}

// cutCap is a server completing rate calls per second, cut·rate during
// window; capacity not used is lost.
type cutCap struct {
	rate, cut float64
	window    Window
}

func (c cutCap) refill(_ float64, t, dt time.Duration, _ bool) float64 {
	r := c.rate
	if c.window.Contains(t) {
		r *= c.cut
	}
	return r * dt.Seconds()
}

// openCap serves any number of calls, except none during closed.
type openCap struct{ closed Window }

func (c openCap) refill(_ float64, t, _ time.Duration, _ bool) float64 {
	if c.closed.Contains(t) {
		return 0
	}
	return math.Inf(1)
}

// lane is a share of a scenario's calls (a model, or models alike) and the
// capacity that serves them.
type lane struct {
	share    float64
	capacity capacity
	// service is the median latency of an answer; zero means normalMedian.
	service time.Duration
}

// pacedStep is the time step of the fluid model.
const pacedStep = time.Millisecond

// pacedOptimum is the optimum of a scenario whose fault is a limited
// capacity (a bucket, a quota, a cut, a window in which nothing succeeds):
// a fluid model of a client that knows the capacity and queues its calls in
// order of arrival, sending each once, when the capacity can take it. From
// the start of the warm-up, in 1 ms steps, each lane receives its share of
// the offered load (and of the scenario's burst); its queue is served
// first-in first-out with the capacity of the step; a call still queued when
// it could no longer finish before its deadline (waited + service >
// deadline) is dropped, unsent. Warm-up calls take capacity like the
// others; calls after the window would only queue behind the measured ones,
// so they are left out. Success is the measured calls served over the
// measured calls offered, one request each; P50 the median of wait + service
// over the calls served. No client does better on success: the model wastes
// no capacity while a call that can still make its deadline waits.
func pacedOptimum(how string, lanes ...lane) func(Scenario, time.Duration) Optimum {
	return func(s Scenario, deadline time.Duration) Optimum {
		type cohort struct {
			at       time.Duration
			mass     float64
			measured bool
		}
		type served struct {
			latency time.Duration
			mass    float64
		}
		var offered, ok float64
		var lat []served
		for _, l := range lanes {
			service := cmp.Or(l.service, normalMedian)
			var queue []cohort
			var have float64
			for t := -s.Warmup; t < s.Measure+deadline; t += pacedStep {
				have = l.capacity.refill(have, t, pacedStep, t == -s.Warmup)
				if t < s.Measure {
					m := l.share * s.RateAt(t) * pacedStep.Seconds()
					if s.Burst > 0 && s.Fault.Start >= t && s.Fault.Start < t+pacedStep {
						m += l.share * float64(s.Burst)
					}
					queue = append(queue, cohort{at: t, mass: m, measured: t >= 0})
					if t >= 0 {
						offered += m
					}
				}
				for len(queue) > 0 && t-queue[0].at+service > deadline {
					queue = queue[1:]
				}
				for len(queue) > 0 && have > 0 {
					c := &queue[0]
					take := min(have, c.mass)
					have -= take
					c.mass -= take
					if c.measured && take > 0 {
						ok += take
						lat = append(lat, served{latency: t - c.at + service, mass: take})
					}
					if c.mass <= 1e-12 {
						queue = queue[1:]
					}
				}
			}
		}
		o := Optimum{PerCall: 1, How: how + " (fluid model: calls wait in arrival order for capacity, each sent once, dropped at its deadline)"}
		if offered > 0 {
			o.Success = ok / offered
		}
		slices.SortFunc(lat, func(a, b served) int { return int(a.latency - b.latency) })
		var cum float64
		for _, v := range lat {
			if cum += v.mass; cum >= ok/2 {
				o.P50 = v.latency
				break
			}
		}
		return o
	}
}
