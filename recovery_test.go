package rebound

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/gate"
)

// TestCancelledRecoveryWaiterPassesItsSlotOn: a call waiting for a
// recovery slot whose caller gives up must not take the wakeup of the
// next call waiting: the slot that comes free goes to a caller still there.
// (The gate's queue kept the cancelled caller's place; the slot's wakeup
// went to it, and the caller behind waited a whole open timeout, here for
// ever, on a slot that was free.)
func TestCancelledRecoveryWaiterPassesItsSlotOn(t *testing.T) {
	clk := newFakeClock()
	ok := func(r *http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}, Request: r}, nil
	}
	tr := withClock(New(roundTripFunc(ok), WithBreaker(breaker.Settings{MinRequests: 1, FailureRatio: 1, OpenTimeout: time.Millisecond, HalfOpenProbes: 1})), clk, true)
	req := func(ctx context.Context) *http.Request {
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://api.example/v1/chat/completions", strings.NewReader(chatBody))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	g := tr.gates.Get(tr.key(req(context.Background()), []byte(chatBody)), clk.Now())
	// Trip the breaker, let its probe close it: recovering, a window of one.
	a := tr.gates.Admit(g, clk.Now(), gate.Request{Attempt: 1})
	tr.gates.Report(&a.Ticket, classify.Decision{Verdict: classify.Retryable, Status: 503}, nil, false, time.Time{})
	for wall := time.Now().Add(5 * time.Second); ; {
		if a = tr.gates.Admit(g, clk.Now(), gate.Request{Attempt: 1}); a.Verdict == gate.Send {
			break
		}
		if time.Now().After(wall) {
			t.Fatal("the breaker never let a probe through")
		}
	}
	tr.gates.Report(&a.Ticket, classify.Decision{Status: 200}, nil, false, time.Time{})
	holder := tr.gates.Admit(g, clk.Now(), gate.Request{Attempt: 1})
	if holder.Verdict != gate.Send {
		t.Fatalf("recovery slot: %+v, want Send", holder)
	}

	ctxGone, cancelGone := context.WithCancel(context.Background())
	gone := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req(ctxGone))
		if resp != nil {
			resp.Body.Close()
		}
		gone <- err
	}()
	clk.WaitSleepers(t, 1) // waits for the slot
	waiting := make(chan error, 1)
	go func() {
		resp, err := tr.RoundTrip(req(context.Background()))
		if resp != nil {
			resp.Body.Close()
		}
		waiting <- err
	}()
	clk.WaitSleepers(t, 2)
	cancelGone()
	<-gone
	tr.gates.Report(&holder.Ticket, classify.Decision{Verdict: classify.Fatal, Status: 404}, nil, false, time.Time{}) // the slot comes free (the window stays one)
	select {
	case err := <-waiting:
		if err != nil {
			t.Fatalf("the waiting call: %v", err)
		}
	case <-time.After(5 * time.Second): // wall time: the fake clock does not move
		clk.Advance(time.Hour)
		<-waiting
		t.Fatal("the slot came free and the call still waiting for it was not woken")
	}
}
