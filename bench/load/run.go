package load

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Doer performs one call before ctx is done and returns "" for a success or
// a short description of the failure ("HTTP 503", "deadline", …).
type Doer func(ctx context.Context, c Call) (fail string)

// Record is the outcome of one call.
type Record struct {
	Call
	// Sent is when the generator actually sent the call, measured like At.
	Sent time.Duration
	// Done is when the call completed, measured like At.
	Done time.Duration
	// Fail is "" for a success, else what went wrong.
	Fail string
}

// Latency returns the call's latency measured from its intended send time.
func (r Record) Latency() time.Duration { return r.Done - r.At }

// Runner sends calls open-loop. Set its fields before Run; the zero value is
// not usable, and a Runner runs once.
type Runner struct {
	// Start is the start of the measured window: call c is due at
	// Start.Add(c.At).
	Start time.Time
	// Timeout is each call's deadline, counted from its intended send time.
	// Zero means no deadline.
	Timeout time.Duration
	// Do performs a call.
	Do Doer

	sent, done atomic.Int64
	once       sync.Once
	dispatched chan struct{}
}

// Dispatched returns a channel that is closed once Run has sent every call
// (or stopped sending them because its context is done), while the last
// calls may still be in flight.
func (r *Runner) Dispatched() <-chan struct{} {
	r.once.Do(func() { r.dispatched = make(chan struct{}) })
	return r.dispatched
}

// Progress returns how many calls have been sent and completed so far.
func (r *Runner) Progress() (sent, done int) { return int(r.sent.Load()), int(r.done.Load()) }

// Run sends every call at its intended time, each on its own goroutine, and
// returns when every call has completed, their records in the order of
// calls. Calls still in flight when the schedule ends are awaited; their
// deadline bounds the wait. If ctx is done, the calls not yet sent are
// recorded as failed with "not sent".
func (r *Runner) Run(ctx context.Context, calls []Call) []Record {
	recs := make([]Record, len(calls))
	r.Dispatched() // make the channel
	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for i, c := range calls {
		recs[i].Call = c
		due := r.Start.Add(c.At)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-ctx.Done():
				for j := i; j < len(calls); j++ {
					recs[j] = Record{Call: calls[j], Sent: calls[j].At, Done: calls[j].At, Fail: "not sent"}
				}
				close(r.dispatched)
				wg.Wait()
				return recs
			}
		}
		recs[i].Sent = time.Since(r.Start)
		r.sent.Add(1)
		wg.Add(1)
		go func(rec *Record) {
			defer wg.Done()
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if r.Timeout > 0 {
				cctx, cancel = context.WithDeadline(ctx, due.Add(r.Timeout))
			}
			rec.Fail = r.Do(cctx, rec.Call)
			cancel()
			rec.Done = time.Since(r.Start)
			r.done.Add(1)
		}(&recs[i])
	}
	close(r.dispatched)
	wg.Wait()
	return recs
}
