package classify

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

// fakeTimer is a timerFunc whose timer fires when the test says so.
type fakeTimer struct {
	c       chan time.Time
	started []time.Duration
	stopped int
}

func newFakeTimer() *fakeTimer { return &fakeTimer{c: make(chan time.Time, 1)} }

func (f *fakeTimer) start(d time.Duration) (<-chan time.Time, interface{ Stop() bool }) {
	f.started = append(f.started, d)
	return f.c, f
}

func (f *fakeTimer) Stop() bool { f.stopped++; return true }

func (f *fakeTimer) fire() { f.c <- time.Time{} }

// drip is a body whose Reads each wait for the test to hand them a chunk;
// entered tells the test a Read has begun. Close makes a waiting Read fail.
type drip struct {
	chunks  chan string
	entered chan struct{}
	closed  chan struct{}
}

var errDripClosed = errors.New("drip: closed")

func newDrip() *drip {
	return &drip{chunks: make(chan string), entered: make(chan struct{}, 100), closed: make(chan struct{})}
}

func (d *drip) Read(p []byte) (int, error) {
	d.entered <- struct{}{}
	select {
	case s, ok := <-d.chunks:
		if !ok {
			return 0, io.EOF
		}
		return copy(p, s), nil // chunks are smaller than any peek buffer
	case <-d.closed:
		return 0, errDripClosed
	}
}

func (d *drip) Close() error {
	select {
	case <-d.closed:
	default:
		close(d.closed)
	}
	return nil
}

// classifyAsync runs c.Classify(resp) on a goroutine.
func classifyAsync(c *Catalog, resp *http.Response) <-chan Decision {
	out := make(chan Decision, 1)
	go func() { out <- c.Classify(resp, nil) }()
	return out
}

// await returns the Decision, failing the test if it does not come: the
// bound is a guard for a broken peek, never reached when it works.
func await(t *testing.T, out <-chan Decision) Decision {
	t.Helper()
	select {
	case d := <-out:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("Classify still waits for the body after MaxPeekTime")
		return Decision{}
	}
}

// TestPeekTimeBound drips an error body: its first bytes arrive, then
// nothing. When MaxPeekTime is up Classify decides on what arrived, and the
// caller still reads every byte, the ones that arrive later included.
func TestPeekTimeBound(t *testing.T) {
	const first = `{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":"insufficient_quota","param`
	const rest = `":null}}`
	timer := newFakeTimer()
	c := OpenAI()
	c.newTimer = timer.start
	body := newDrip()
	resp := &http.Response{StatusCode: 429, Header: hdr("Content-Type", "application/json"), Body: body, ContentLength: -1}

	out := classifyAsync(c, resp)
	<-body.entered
	body.chunks <- first
	<-body.entered // the first chunk is in: the peek waits for more
	timer.fire()
	d := await(t, out)
	want := Decision{Verdict: Fatal, Status: 429, Evidence: ByBody, Code: "insufficient_quota", Type: "insufficient_quota",
		Message: "You exceeded your current quota."}
	if d != want {
		t.Errorf("Classify = %+v\nwant %+v", d, want)
	}
	if len(timer.started) != 1 || timer.started[0] != DefaultMaxPeekTime {
		t.Errorf("timers started: %v, want one of DefaultMaxPeekTime", timer.started)
	}

	go func() {
		body.chunks <- rest // the read the peek left in flight
		<-body.entered
		close(body.chunks)
	}()
	got, err := io.ReadAll(resp.Body)
	if err != nil || string(got) != first+rest {
		t.Errorf("caller read %q, %v; want %q", got, err, first+rest)
	}
	resp.Body.Close()
}

// TestPeekTimeBoundNothingArrived: a body that sends nothing in time leaves
// the decision to the status, and Close ends the read left in flight.
func TestPeekTimeBoundNothingArrived(t *testing.T) {
	timer := newFakeTimer()
	c := &Catalog{MaxPeekTime: 1500 * time.Millisecond, newTimer: timer.start}
	body := newDrip()
	resp := &http.Response{StatusCode: 503, Header: http.Header{}, Body: body, ContentLength: -1}
	out := classifyAsync(c, resp)
	<-body.entered
	timer.fire()
	if d := await(t, out); d.Verdict != Retryable || d.Evidence != ByStatus {
		t.Errorf("Classify = %+v, want retryable by status", d)
	}
	if len(timer.started) != 1 || timer.started[0] != 1500*time.Millisecond {
		t.Errorf("timers started: %v, want one of MaxPeekTime", timer.started)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 8)); !errors.Is(err, errDripClosed) {
		t.Errorf("Read after Close = %v, want the body's error", err)
	}
}

// TestPeekTimeBoundStream: a 200 event stream whose first event has not
// arrived in time is a Success for now; its bytes reach the caller.
func TestPeekTimeBoundStream(t *testing.T) {
	timer := newFakeTimer()
	c := &Catalog{newTimer: timer.start}
	body := newDrip()
	resp := &http.Response{StatusCode: 200, Header: hdr("Content-Type", "text/event-stream"), Body: body, ContentLength: -1}
	out := classifyAsync(c, resp)
	<-body.entered
	body.chunks <- ": keep-alive\n\n"
	<-body.entered
	timer.fire()
	if d := await(t, out); d != (Decision{Status: 200}) {
		t.Errorf("Classify = %+v, want a plain success", d)
	}
	go func() {
		body.chunks <- "data: {\"error\":{\"code\":\"late\"}}\n\n"
		<-body.entered
		close(body.chunks)
	}()
	got, err := io.ReadAll(resp.Body)
	if want := ": keep-alive\n\ndata: {\"error\":{\"code\":\"late\"}}\n\n"; err != nil || string(got) != want {
		t.Errorf("caller read %q, %v; want %q", got, err, want)
	}
}

// TestPeekInTime: a body that arrives in time is read whole and the timer
// is stopped; a negative MaxPeekTime starts no timer at all.
func TestPeekInTime(t *testing.T) {
	const body = `{"error":{"code":"rate_limit_exceeded","message":"slow down"}}`
	for _, maxPeekTime := range []time.Duration{0, -1} {
		timer := newFakeTimer()
		c := OpenAI()
		c.MaxPeekTime, c.newTimer = maxPeekTime, timer.start
		resp, u := response(429, nil, body)
		resp.ContentLength = -1
		if d := c.Classify(resp, nil); d.Verdict != Retryable || d.Code != "rate_limit_exceeded" {
			t.Errorf("MaxPeekTime %v: Classify = %+v", maxPeekTime, d)
		}
		wantTimers := 1
		if maxPeekTime < 0 {
			wantTimers = 0
		}
		if len(timer.started) != wantTimers || timer.stopped != wantTimers {
			t.Errorf("MaxPeekTime %v: %d timers started, %d stopped; want %d", maxPeekTime, len(timer.started), timer.stopped, wantTimers)
		}
		checkBody(t, resp, u, body)
	}
}

// TestPeekTimeBoundReadError: the read in flight when the time ran out
// fails; the caller gets the bytes peeked, then that error.
func TestPeekTimeBoundReadError(t *testing.T) {
	timer := newFakeTimer()
	c := &Catalog{newTimer: timer.start}
	body := newDrip()
	resp := &http.Response{StatusCode: 500, Header: http.Header{}, Body: body, ContentLength: -1}
	out := classifyAsync(c, resp)
	<-body.entered
	body.chunks <- `{"error":`
	<-body.entered
	timer.fire()
	await(t, out)
	body.Close() // the connection drops under the read in flight
	got, err := io.ReadAll(resp.Body)
	if string(got) != `{"error":` || !errors.Is(err, errDripClosed) {
		t.Errorf("ReadAll = %q, %v; want the peeked bytes, then %v", got, err, errDripClosed)
	}
	if _, err := resp.Body.Read(make([]byte, 1)); !errors.Is(err, errDripClosed) {
		t.Errorf("Read after the error = %v, want it again", err)
	}
}
