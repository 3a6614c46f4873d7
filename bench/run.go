package main

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/rebound-http/rebound/bench/load"
	"github.com/rebound-http/rebound/bench/report"
	"github.com/rebound-http/rebound/bench/sim"
)

// fleetOptions say how many replicas of a client a run builds, and the
// Redis server the ones that share their gates use.
type fleetOptions struct {
	replicas int
	redis    string
	// statedBurst is the burst the rebound-stated clients state, as a
	// span of their limit (0: the library's default, a second's worth).
	statedBurst time.Duration
}

// bucket is the width of the time buckets of amplification and recovery.
const bucket = 250 * time.Millisecond

// newBaseTransport returns the transport every client is built over: the
// default transport with a connection pool large enough for the load, so
// that no client pays for connection churn the others do not.
func newBaseTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 2048
	return t
}

// scheduleSeed derives the schedule's seed from the run seed and the
// scenario, so every client of a scenario meets the same calls.
func scheduleSeed(seed uint64, scenario string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(scenario))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// sizeSeed derives the generator of the call sizes from the run seed and
// the scenario, apart from the schedule's.
func sizeSeed(seed uint64, scenario string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(scenario))
	h.Write([]byte("/sizes"))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// schedule returns the calls a run of s sends for seed: from the warm-up to
// a deadline past the measured window (the tail, sent only while measured
// calls are under way), sized when s sizes its calls.
func schedule(s sim.Scenario, seed uint64, timeout time.Duration) []load.Call {
	var bursts []load.Burst
	if s.Burst > 0 {
		bursts = append(bursts, load.Burst{At: s.Fault.Start, N: s.Burst})
	}
	var segs []load.Segment
	for _, p := range s.Phases(-s.Warmup, s.Measure+timeout) {
		segs = append(segs, load.Segment{From: p.From, To: p.To, Rate: p.Rate})
	}
	calls := load.ScheduleSegments(scheduleSeed(seed, s.Name), segs, len(s.Models), bursts...)
	load.MarkTail(calls, s.Measure)
	if s.Sizes != nil {
		r := sizeSeed(seed, s.Name)
		for i := range calls {
			calls[i].PromptTokens, calls[i].MaxTokens = s.Sizes(r)
		}
	}
	return calls
}

// runOne runs client c on scenario s against a fresh upstream; progress, if
// not nil, is given the runner so the caller can show its counters.
func runOne(ctx context.Context, s sim.Scenario, c client, seed uint64, timeout time.Duration, fl fleetOptions, progress func(*load.Runner)) (report.Run, error) {
	calls := schedule(s, seed, timeout)
	measured := make([]bool, len(calls)+1) // by call id
	for _, c := range calls {
		measured[c.ID] = c.At >= 0 && !c.Tail
	}

	start := time.Now().Add(s.Warmup + 20*time.Millisecond)
	up := sim.New(s, seed, start)
	urls, err := up.Start()
	if err != nil {
		return report.Run{}, err
	}
	defer up.Close()
	base := newBaseTransport()
	defer base.CloseIdleConnections()

	hc, closeClient, err := newClient(c, base, upstream{Models: s.Models, URLs: urls, Limit: s.RequestLimit / float64(len(s.Models)), Burst: fl.statedBurst}, fl.replicas, fl.redis, s.Name)
	if err != nil {
		return report.Run{}, err
	}
	defer closeClient()
	target := &load.HTTPTarget{Client: hc, URLs: urls, Models: s.Models, Stream: s.Stream, ErrKind: errKind}
	runner := &load.Runner{Start: start, Timeout: timeout, Do: target.Do}
	if progress != nil {
		progress(runner)
	}
	recs := runner.Run(ctx, calls)
	if err := ctx.Err(); err != nil {
		return report.Run{}, fmt.Errorf("%s × %s: %w", s.Name, c.name, err)
	}

	sum := load.Summarize(recs, load.Spec{Measure: s.Measure, Bucket: bucket, FaultStart: s.Fault.Start, FaultEnd: s.Fault.End})
	run := report.Run{
		Scenario: s.Name, Client: c.name,
		Calls: sum.Calls, SuccessRate: sum.SuccessRate(), Success: sum.Success, All: sum.All,
		Bucket:   bucket,
		HasFault: sum.HasFault, Recovered: sum.Recovered, Recovery: sum.Recovery,
		ScheduledRate: sum.ScheduledRate, AchievedRate: sum.AchievedRate, Invalid: sum.Invalid,
		Failures: sum.Failures, TailSent: sum.TailSent,
	}
	// Amplification counts the measured calls' requests only: not the
	// warm-up's late retries, not the tail's.
	var attempts, throttled int
	for _, call := range calls {
		if !measured[call.ID] {
			continue
		}
		st := up.Call(call.ID)
		attempts += st.Attempts
		run.Early += st.Early
		run.FatalRetried += st.FatalRetried
		throttled += st.Throttled
	}
	run.Replicas = max(fl.replicas, 1)
	run.RequestLimit, run.TokenLimit = s.RequestLimit, s.TokenLimit
	if sum.Calls > 0 {
		run.AmpMean = float64(attempts) / float64(sum.Calls)
	}
	if attempts > 0 {
		run.Throttled = float64(throttled) / float64(attempts)
	}
	var arrivals []time.Duration
	var inWindow, windowTokens int
	for _, a := range up.Arrivals() {
		if a.T >= 0 && a.T < s.Measure {
			inWindow++
			windowTokens += a.Tokens
		}
		if a.Call < uint64(len(measured)) && measured[a.Call] {
			arrivals = append(arrivals, a.T)
		}
	}
	run.UpstreamRate = float64(inWindow) / s.Measure.Seconds()
	run.TokenRate = float64(windowTokens) / s.Measure.Seconds()
	run.AmpSeries = load.Amplification(arrivals, calls, s.Measure, bucket)
	for _, v := range run.AmpSeries {
		run.AmpPeak = max(run.AmpPeak, v)
	}
	return run, nil
}

// runAll runs every client on every scenario, in that order, each against
// a fresh upstream, and returns the runs in the same order (scenario-major).
// A run starts once the previous one has stopped sending calls, that is once
// its measured calls have all ended and its tail has stopped: the cancelled
// tail calls of the previous run may still wind down while it starts, but no
// two runs send new calls at once.
func runAll(ctx context.Context, scenarios []sim.Scenario, cls []client, cfg config, prog *progress) ([]report.Run, error) {
	defer prog.close()
	n := len(scenarios) * len(cls)
	runs := make([]report.Run, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s, c := scenarios[i/len(cls)], cls[i%len(cls)]
		line := prog.start(s, c)
		started := make(chan *load.Runner, 1)
		done := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done)
			runs[i], errs[i] = runOne(ctx, s, c, cfg.seed, cfg.timeout, fleetOptions{cfg.replicas, cfg.redis, cfg.statedBurst}, func(r *load.Runner) {
				prog.attach(line, r)
				started <- r
			})
			prog.finish(line, runs[i], errs[i])
		}()
		select {
		case r := <-started:
			select {
			case <-r.Dispatched():
			case <-done:
			}
		case <-done:
		}
		if ctx.Err() != nil {
			break
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return runs, nil
}
