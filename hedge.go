package rebound

import (
	"context"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/gate"
)

// raced is the outcome of one attempt of a hedged race.
type raced struct {
	resp *http.Response
	d    classify.Decision
	err  error
	i    int // 0: the first attempt, 1: the hedge
}

// race makes the call's first attempt, admitted with tk, and hedges it:
// when it has not been answered after delay, a second copy is admitted
// (charged to the retry budget) and sent; the first answer that is not
// retryable wins, the other attempt is cancelled and its answer, if any,
// drained and closed. When both are retryable, the later one is the
// outcome, unless only the earlier one has a response.
func (c *call) race(tk gate.Ticket, areq *http.Request, delay time.Duration, g *gate.Gate, deadline time.Time, cost int64) (*http.Response, classify.Decision, error) {
	// The racers run on a copy of the call, so that the call itself stays
	// on its goroutine's stack on the paths that do not race.
	rc := new(call)
	*rc = *c
	t := rc.t
	results := make(chan raced, 2)
	var (
		lost    [2]atomic.Bool
		cancels [2]context.CancelFunc
		tickets [2]gate.Ticket
	)
	start := t.now()
	run := func(i int, r *http.Request) {
		resp, d, err := rc.send(&tickets[i], r, sendOpts{n: 1, hedge: i == 1, lost: &lost[i], cancel: cancels[i]})
		results <- raced{resp: resp, d: d, err: err, i: i}
	}
	launch := func(i int, r *http.Request) {
		ctx, cancel := context.WithCancel(rc.ctx)
		cancels[i] = cancel
		go run(i, r.WithContext(ctx))
	}
	tickets[0] = tk
	launch(0, areq)

	fire := make(chan struct{})
	stop := t.after(delay, func() { close(fire) })
	select {
	case r := <-results:
		stop()
		return r.resp, r.d, r.err
	case <-rc.ctx.Done():
		stop()
		r := <-results // the attempt ends with the caller's context
		return r.resp, r.d, r.err
	case <-fire:
	}

	now := t.now()
	a := t.gates.Admit(g, now, gate.Request{Attempt: 1, Hedge: true, Deadline: deadline, Cost: cost, Share: rc.share})
	hreq, err := (*http.Request)(nil), error(nil)
	if a.Verdict == gate.Send && a.Delay == 0 {
		hreq, err = rc.request(2)
	}
	if a.Verdict != gate.Send || a.Delay > 0 || err != nil {
		// No hedge: the key would not send it at once (a breaker, a pace,
		// a spent budget), or there is no body for it.
		if a.Verdict == gate.Send {
			t.gates.Cancel(&a.Ticket, now)
		}
		r := <-results
		return r.resp, r.d, r.err
	}
	tickets[1] = a.Ticket
	c.hedges++ // the next attempt's header follows the hedge's
	launch(1, hreq)

	first := <-results
	other := 1 - first.i
	if first.d.Verdict != classify.Retryable {
		lost[other].Store(true)
		cancels[other]()
		if first.i == 1 && rc.rules.hedgeAfter == 0 {
			// The first attempt ran at least this long: a sample of the
			// key's tail, which the histogram would otherwise never see.
			rc.rules.lat.Observe(t.now().Sub(start))
		}
		// The loser still holds the caller's request (its inner round
		// trip, its classification): the caller may reuse the request
		// once the winner's body is closed, or at once without one, so
		// the loser must be done by then.
		loserDone := make(chan struct{})
		go func() { discard((<-results).resp); close(loserDone) }()
		if first.resp == nil || first.resp.Body == nil {
			<-loserDone
		} else {
			first.resp.Body = &waitOnClose{ReadCloser: first.resp.Body, done: loserDone}
		}
		return first.resp, first.d, first.err
	}
	second := <-results
	keep, drop := second, first
	if second.resp == nil && first.resp != nil {
		keep, drop = first, second
	}
	discard(drop.resp)
	return keep.resp, keep.d, keep.err
}

// waitOnClose is the body of a hedged race's winner: closing it waits for
// the loser, cancelled, to be done with the caller's request.
type waitOnClose struct {
	io.ReadCloser
	done <-chan struct{}
}

func (b *waitOnClose) Close() error {
	err := b.ReadCloser.Close()
	<-b.done
	return err
}
