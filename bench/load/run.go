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

// NotSent is the failure of a call the Runner did not send: its context was
// done first or, for a tail call, the measured calls had all ended.
const NotSent = "not sent"

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
//
// Calls marked Tail are the unmeasured tail: the same open-loop load goes on
// after the measured window, so that a client that puts calls off past the
// window's end still meets a loaded upstream, not an idle one. The Runner
// sends tail calls only while some measured call is still under way (not
// completed and not past its deadline); then it stops sending and cancels
// the tail calls in flight. The tail therefore lasts at most Timeout after
// the last measured call's intended time.
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

// Dispatched returns a channel that is closed once Run has stopped sending
// calls: it has sent every call, or every measured call has ended and the
// tail stopped, or its context is done. Calls may still be in flight.
func (r *Runner) Dispatched() <-chan struct{} {
	r.once.Do(func() { r.dispatched = make(chan struct{}) })
	return r.dispatched
}

// Progress returns how many calls have been sent and completed so far.
func (r *Runner) Progress() (sent, done int) { return int(r.sent.Load()), int(r.done.Load()) }

// Run sends calls, which must be sorted by At, each at its intended time on
// its own goroutine, and returns when every call it sent has completed,
// their records in the order of calls. Calls still in flight when the
// schedule ends are awaited; their deadline bounds the wait. Tail calls not
// sent because the measured calls had all ended are recorded as NotSent; so
// are the calls not yet sent when ctx is done.
func (r *Runner) Run(ctx context.Context, calls []Call) []Record {
	recs := make([]Record, len(calls))
	for i, c := range calls {
		recs[i] = Record{Call: c, Sent: c.At, Done: c.At, Fail: NotSent}
	}
	r.Dispatched() // make the channel

	// tailStop is closed once every measured call has completed or passed
	// its deadline; tailCtx, the parent of the tail calls' contexts, is
	// cancelled with it.
	tailCtx, cancelTail := context.WithCancel(ctx)
	defer cancelTail()
	tailStop := make(chan struct{})
	var stopOnce sync.Once
	stop := func() { stopOnce.Do(func() { close(tailStop); cancelTail() }) }
	var pending atomic.Int64
	var last time.Duration
	for _, c := range calls {
		if !c.Tail {
			pending.Add(1)
			last = max(last, c.At)
		}
	}
	if pending.Load() == 0 {
		stop()
	} else if r.Timeout > 0 {
		t := time.AfterFunc(time.Until(r.Start.Add(last+r.Timeout)), stop)
		defer t.Stop()
	}

	var wg sync.WaitGroup
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for i, c := range calls {
		var until <-chan struct{} // for a tail call: stop waiting when the tail stops
		if c.Tail {
			until = tailStop
		}
		select {
		case <-until:
			continue
		default:
		}
		due := r.Start.Add(c.At)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-timer.C:
			case <-until:
				timer.Stop()
				continue
			case <-ctx.Done():
				timer.Stop()
			}
		}
		if ctx.Err() != nil {
			break
		}
		recs[i].Sent = time.Since(r.Start)
		recs[i].Fail = ""
		r.sent.Add(1)
		wg.Add(1)
		go func(rec *Record) {
			defer wg.Done()
			parent := ctx
			if rec.Tail {
				parent = tailCtx
			}
			cctx, cancel := parent, context.CancelFunc(func() {})
			if r.Timeout > 0 {
				cctx, cancel = context.WithDeadline(parent, due.Add(r.Timeout))
			}
			rec.Fail = r.Do(cctx, rec.Call)
			cancel()
			rec.Done = time.Since(r.Start)
			r.done.Add(1)
			if !rec.Tail && pending.Add(-1) == 0 {
				stop()
			}
		}(&recs[i])
	}
	close(r.dispatched)
	wg.Wait()
	return recs
}
