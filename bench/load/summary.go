package load

import (
	"fmt"
	"slices"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Validity limits of the generator: a run is invalid when the generator
// sent its calls at less than this share of the scheduled rate, or when the
// 99th percentile of its lag behind the schedule exceeds MaxLagP99.
const (
	MinRateShare = 0.95
	MaxLagP99    = 50 * time.Millisecond
)

// Spec says how to summarize a run.
type Spec struct {
	// Measure is the length of the measured window; calls intended outside
	// [0, Measure) are the warm-up and are discarded.
	Measure time.Duration
	// Bucket is the width of the time buckets. Zero means 250 ms.
	Bucket time.Duration
	// Fault is the fault window [Start, End); both zero when the scenario
	// has none, and then no recovery time is computed.
	FaultStart, FaultEnd time.Duration
}

func (s Spec) bucket() time.Duration {
	if s.Bucket <= 0 {
		return 250 * time.Millisecond
	}
	return s.Bucket
}

// Bucket holds the calls intended in one time bucket of the measured window.
type Bucket struct {
	Start, End time.Duration
	Calls      int
	Successes  int
	// P50 is the median latency of all the bucket's calls.
	P50 time.Duration
}

// Summary is the measurement of one run.
type Summary struct {
	// Calls is the number of calls intended in the measured window.
	Calls int
	// Successes is how many of them succeeded.
	Successes int
	// Success and All are latency histograms, in microseconds, of the
	// successful calls and of all calls.
	Success, All *hdrhistogram.Histogram
	// Failures counts failed calls by kind.
	Failures map[string]int
	// ScheduledRate is the rate of the schedule in the measured window;
	// AchievedRate the rate at which the generator actually sent it.
	ScheduledRate, AchievedRate float64
	// LagP99 and LagMax are the 99th percentile and maximum of how late the
	// generator sent calls: the measured calls and the tail calls it sent,
	// since the tail is the load the measured calls' late attempts meet.
	LagP99, LagMax time.Duration
	// TailSent is the number of unmeasured tail calls sent after the window.
	TailSent int
	// Invalid says why the run is invalid; empty when it is valid.
	Invalid string
	// Buckets split the measured window by intended send time.
	Buckets []Bucket
	// Recovery is the time from the end of the fault until the first of two
	// consecutive good buckets (success ratio at least 90% of the pre-fault
	// one, median latency at most twice the pre-fault one plus 20 ms).
	// HasFault is false when the scenario has no fault window; Recovered
	// is false when no such buckets came before the window closed.
	Recovery            time.Duration
	HasFault, Recovered bool
}

// NewHistogram returns a latency histogram for 1 µs to 5 min at three
// significant digits.
func NewHistogram() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
}

// Observe adds d to h, clamped to h's range.
func Observe(h *hdrhistogram.Histogram, d time.Duration) {
	us := max(int64(d/time.Microsecond), h.LowestTrackableValue())
	_ = h.RecordValue(min(us, h.HighestTrackableValue()))
}

// Quantile returns the q-th percentile (0–100) of h as a duration.
func Quantile(h *hdrhistogram.Histogram, q float64) time.Duration {
	return time.Duration(h.ValueAtQuantile(q)) * time.Microsecond
}

// SuccessRate returns Successes/Calls, or 0 without calls.
func (s Summary) SuccessRate() float64 {
	if s.Calls == 0 {
		return 0
	}
	return float64(s.Successes) / float64(s.Calls)
}

// Summarize measures the records of one run: the calls intended in the
// measured window [0, Spec.Measure); warm-up and tail calls are not measured
// (the tail's send lags count in the generator check).
func Summarize(recs []Record, spec Spec) Summary {
	s := Summary{Success: NewHistogram(), All: NewHistogram(), Failures: map[string]int{}}
	w := spec.bucket()
	n := int((spec.Measure + w - 1) / w)
	s.Buckets = make([]Bucket, n)
	lat := make([][]time.Duration, n)
	for i := range s.Buckets {
		s.Buckets[i].Start = time.Duration(i) * w
		s.Buckets[i].End = min(time.Duration(i+1)*w, spec.Measure)
	}
	var lags []time.Duration
	var lastLag time.Duration
	for _, r := range recs {
		if r.Tail && r.Fail != NotSent {
			s.TailSent++
			lags = append(lags, max(r.Sent-r.At, 0))
		}
		if r.Tail || r.At < 0 || r.At >= spec.Measure {
			continue
		}
		s.Calls++
		b := int(r.At / w)
		s.Buckets[b].Calls++
		lat[b] = append(lat[b], r.Latency())
		Observe(s.All, r.Latency())
		if r.Fail == "" {
			s.Successes++
			s.Buckets[b].Successes++
			Observe(s.Success, r.Latency())
		} else {
			s.Failures[r.Fail]++
		}
		lag := max(r.Sent-r.At, 0)
		lags = append(lags, lag)
		lastLag = lag // records come in schedule order
	}
	for i := range s.Buckets {
		s.Buckets[i].P50 = median(lat[i])
	}
	s.checkGenerator(lags, lastLag, spec.Measure)
	if spec.FaultEnd > spec.FaultStart {
		s.HasFault = true
		s.Recovery, s.Recovered = recovery(s.Buckets, recs, spec)
	}
	return s
}

// checkGenerator fills the rate and lag fields and Invalid.
func (s *Summary) checkGenerator(lags []time.Duration, lastLag, measure time.Duration) {
	if s.Calls == 0 || measure <= 0 {
		s.Invalid = "no calls in the measured window"
		return
	}
	s.ScheduledRate = float64(s.Calls) / measure.Seconds()
	s.AchievedRate = float64(s.Calls) / (measure + lastLag).Seconds()
	slices.Sort(lags)
	s.LagP99 = lags[(len(lags)*99)/100]
	s.LagMax = lags[len(lags)-1]
	switch {
	case s.AchievedRate < MinRateShare*s.ScheduledRate:
		s.Invalid = fmt.Sprintf("generator saturated: sent %.0f/s of %.0f/s scheduled", s.AchievedRate, s.ScheduledRate)
	case s.LagP99 > MaxLagP99:
		s.Invalid = fmt.Sprintf("generator lagging: p99 send lag %v > %v", s.LagP99.Round(time.Millisecond), MaxLagP99)
	}
}

// recovery finds the first bucket from the end of the fault that, with the
// next one, is good compared with the calls intended before the fault.
func recovery(buckets []Bucket, recs []Record, spec Spec) (time.Duration, bool) {
	var base []time.Duration
	var baseOK int
	for _, r := range recs {
		if r.At >= 0 && r.At < spec.FaultStart {
			base = append(base, r.Latency())
			if r.Fail == "" {
				baseOK++
			}
		}
	}
	if len(base) == 0 {
		return 0, false
	}
	okRatio := float64(baseOK) / float64(len(base))
	maxP50 := 2*median(base) + 20*time.Millisecond
	good := func(b Bucket) bool {
		return b.Calls > 0 && float64(b.Successes)/float64(b.Calls) >= 0.9*okRatio && b.P50 <= maxP50
	}
	for i, b := range buckets {
		if b.Start < spec.FaultEnd || !good(b) {
			continue
		}
		if i+1 >= len(buckets) || !good(buckets[i+1]) {
			continue // two consecutive good buckets, the window's last alone is not
		}
		return b.Start - spec.FaultEnd, true
	}
	return 0, false
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// Amplification returns, for each bucket of the measured window, the
// upstream requests that arrived in it divided by the calls intended in it
// (at least one): how many requests the clients sent per call at that time.
func Amplification(arrivals []time.Duration, calls []Call, measure, bucket time.Duration) []float64 {
	if bucket <= 0 {
		bucket = 250 * time.Millisecond
	}
	n := int((measure + bucket - 1) / bucket)
	reqs := make([]int, n)
	due := make([]int, n)
	for _, a := range arrivals {
		if a >= 0 && a < measure {
			reqs[a/bucket]++
		}
	}
	for _, c := range calls {
		if c.At >= 0 && c.At < measure {
			due[c.At/bucket]++
		}
	}
	out := make([]float64, n)
	for i := range out {
		out[i] = float64(reqs[i]) / float64(max(due[i], 1))
	}
	return out
}
