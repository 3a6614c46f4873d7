package rebound

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/rebound-http/rebound/retry"
)

// TestRetryableStreamLeftOpenIsNotRead: a 200 event stream whose first
// event is a retryable error, and whose server keeps it open after it, is
// neither read to its end while the call waits for its retry nor drained
// when the retry replaces it: it is closed, and the retry's answer is the
// caller's.
func TestRetryableStreamLeftOpenIsNotRead(t *testing.T) {
	const overloaded = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"
	var srv *tailServer
	release := make(chan struct{})
	srv = newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, n int) {
		if n == 1 {
			writeEvents(w, overloaded)
			select { // the stream stays open until the client goes
			case <-r.Context().Done():
				srv.abandoned.Add(1)
			case <-release: // the test failed: let the server close
			}
			return
		}
		io.WriteString(w, `{"ok":true}`)
	})
	t.Cleanup(func() { close(release) }) // before the server's Close
	clock := newFakeClock()
	tr, ct := newTestTransport(t, clock, false, WithPreset(Anthropic))
	select {
	case r := <-roundTripAsync(tr, post(t, srv.URL, streamBody)):
		if r.err != nil || r.resp.StatusCode != 200 || string(r.body) != `{"ok":true}` {
			t.Fatalf("resp %v err %v body %q; want the retry's answer", r.resp, r.err, r.body)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the call waited 10 s on the open stream it was to retry")
	}
	if n := len(srv.Models()); n != 2 {
		t.Fatalf("%d requests, want 2", n)
	}
	waitFor(t, func() bool { return srv.abandoned.Load() == 1 }, "the open stream to be closed")
	if o, c := ct.opened.Load(), ct.closed.Load(); o != c {
		t.Fatalf("%d bodies opened, %d closed", o, c)
	}
}

// TestCancelMidAttempt: a caller whose context ends while an attempt is
// out gets ReasonCanceled, in the error and in the give-up event, whether
// or not the attempt runs on a context of its own (an attempt timeout, a
// first-event timeout, hedging).
func TestCancelMidAttempt(t *testing.T) {
	cases := []struct {
		name string
		opts []Option
	}{
		{"plain", nil},
		{"attempt timeout", []Option{WithRetry(retry.Policy{AttemptTimeout: time.Hour})}},
		{"first-event timeout", []Option{WithFirstEventTimeout(time.Hour, "*")}},
		{"hedging", []Option{WithHedging(time.Hour, "*")}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var srv *tailServer
			srv = newTailServer(t, func(_ http.ResponseWriter, r *http.Request, _ string, _ int) { srv.stall(r) })
			gaveUp := make(chan GiveUpEvent, 1)
			opts := append(tc.opts, WithObserver(Observer{OnGiveUp: func(e GiveUpEvent) { gaveUp <- e }}))
			tr, _ := newTestTransport(t, newFakeClock(), false, opts...)
			ctx, cancel := context.WithCancel(context.Background())
			done := roundTripAsync(tr, post(t, srv.URL, chatBody).WithContext(ctx))
			waitFor(t, func() bool { return len(srv.Models()) == 1 }, "the attempt to arrive")
			cancel()
			r := <-done
			var e *Error
			if !errors.Is(r.err, context.Canceled) || !errors.As(r.err, &e) || e.Reason != ReasonCanceled || e.Attempts != 1 {
				t.Fatalf("err = %v (%#v), want context.Canceled with ReasonCanceled after 1 attempt", r.err, e)
			}
			if g := <-gaveUp; g.Reason != ReasonCanceled {
				t.Fatalf("give-up reason %v, want %v", g.Reason, ReasonCanceled)
			}
		})
	}
}

// TestCancelledRetryIsNotRefunded: a retry whose caller gave up while it
// was out did not succeed, and stays charged to the retry budget.
func TestCancelledRetryIsNotRefunded(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
	}{
		{"plain", nil},
		{"attempt timeout", []Option{WithRetry(retry.Policy{AttemptTimeout: time.Hour})}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var srv *tailServer
			srv = newTailServer(t, func(w http.ResponseWriter, r *http.Request, _ string, n int) {
				if n == 1 {
					w.WriteHeader(http.StatusServiceUnavailable)
					return
				}
				srv.stall(r)
			})
			tr, _ := newTestTransport(t, newFakeClock(), false, tc.opts...)
			ctx, cancel := context.WithCancel(context.Background())
			done := roundTripAsync(tr, post(t, srv.URL, chatBody).WithContext(ctx))
			waitFor(t, func() bool { return len(srv.Models()) == 2 }, "the retry to arrive")
			cancel()
			if r := <-done; !errors.Is(r.err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", r.err)
			}
			if b := tr.Stats().Budget; b.Retries != 1 || b.Refunded != 0 {
				t.Fatalf("budget %+v: want the retry charged and not refunded", b)
			}
		})
	}
}

// TestCostCountsTheUnbufferedRest: a one-shot body too long to buffer is
// costed from its length, not from the prefix read of it.
func TestCostCountsTheUnbufferedRest(t *testing.T) {
	tr := New(nil)
	req := post(t, "http://example.test", chatBody)
	prefix := []byte(chatBody)
	req.ContentLength = int64(len(prefix)) + 4000
	if got, want := tr.cost(req, prefix), tr.cost(post(t, "http://example.test", chatBody), prefix)+1000; got != want {
		t.Fatalf("cost %d, want %d: the 4000 bytes past the prefix are 1000 tokens", got, want)
	}
}
