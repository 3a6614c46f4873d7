package load

import (
	"math/rand/v2"
	"slices"
	"time"
)

// Call is one scheduled call of a run.
type Call struct {
	// ID identifies the call to the upstream; IDs are 1, 2, … in order of At.
	ID uint64
	// At is the intended send time, measured from the start of the measured
	// window; negative during the warm-up.
	At time.Duration
	// Model is the index of the model the call is sent to.
	Model int
	// Tail marks a call of the unmeasured tail: it is intended after the
	// measured window and sent only to keep the load on while the measured
	// calls finish (see Runner). MarkTail sets it.
	Tail bool
	// PromptTokens and MaxTokens size the call's body: a prompt of
	// PromptTokens tokens (four characters each) and a max_tokens field.
	// Zero means the default body ("Say hi.", no max_tokens).
	PromptTokens, MaxTokens int
}

// Burst is a number of calls intended for the same instant.
type Burst struct {
	At time.Duration
	N  int
}

// Segment is a span [From, To) of the schedule with its Poisson rate in
// calls per second.
type Segment struct {
	From, To time.Duration
	Rate     float64
}

// Schedule returns Poisson arrivals at rate calls per second over [from, to)
// plus the calls of bursts, sorted by intended time, each sent to a model
// drawn uniformly from [0, models).
func Schedule(r *rand.Rand, rate float64, from, to time.Duration, models int, bursts ...Burst) []Call {
	return ScheduleSegments(r, []Segment{{From: from, To: to, Rate: rate}}, models, bursts...)
}

// ScheduleSegments returns Poisson arrivals over each segment at its rate
// (segments are drawn in order, each restarting the memoryless process at
// its start) plus the calls of bursts, sorted by intended time, each sent to
// a model drawn uniformly from [0, models). With one segment it draws
// exactly what Schedule draws.
func ScheduleSegments(r *rand.Rand, segments []Segment, models int, bursts ...Burst) []Call {
	var calls []Call
	for _, s := range segments {
		if s.Rate <= 0 {
			continue
		}
		for t := s.From; ; {
			t += time.Duration(r.ExpFloat64() / s.Rate * float64(time.Second))
			if t >= s.To {
				break
			}
			calls = append(calls, Call{At: t, Model: r.IntN(models)})
		}
	}
	for _, b := range bursts {
		for range b.N {
			calls = append(calls, Call{At: b.At, Model: r.IntN(models)})
		}
	}
	slices.SortStableFunc(calls, func(a, b Call) int { return int(a.At - b.At) })
	for i := range calls {
		calls[i].ID = uint64(i + 1)
	}
	return calls
}

// MarkTail marks the calls intended at or after end (the end of the
// measured window) as the unmeasured tail.
func MarkTail(calls []Call, end time.Duration) {
	for i := range calls {
		calls[i].Tail = calls[i].At >= end
	}
}
