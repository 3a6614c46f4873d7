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
}

// Burst is a number of calls intended for the same instant.
type Burst struct {
	At time.Duration
	N  int
}

// Schedule returns Poisson arrivals at rate calls per second over [from, to)
// plus the calls of bursts, sorted by intended time, each sent to a model
// drawn uniformly from [0, models).
func Schedule(r *rand.Rand, rate float64, from, to time.Duration, models int, bursts ...Burst) []Call {
	var calls []Call
	if rate > 0 {
		for t := from; ; {
			t += time.Duration(r.ExpFloat64() / rate * float64(time.Second))
			if t >= to {
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
