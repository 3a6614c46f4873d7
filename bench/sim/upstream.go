package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// CallHeader is the request header that carries the load generator's call
// id. Every client copies it onto its retries, so the upstream can tell the
// attempts of one call apart from other calls.
const CallHeader = "X-Bench-Call"

// CallStats is what the upstream saw of one call.
type CallStats struct {
	// Attempts is the number of requests of the call that reached the
	// upstream.
	Attempts int
	// Early counts retries that arrived before the retry hint sent with the
	// previous answer had expired.
	Early int
	// FatalRetried counts retries that followed an answer the service
	// documents as not retryable.
	FatalRetried int
	// Throttled counts the call's requests answered 429.
	Throttled int
	// Tokens is what the call's accepted requests were charged, in
	// scenarios that meter tokens.
	Tokens int

	lastFatal bool
	hintUntil time.Time
}

// Upstream serves one run of a Scenario. Create it with New.
type Upstream struct {
	scenario Scenario
	behavior Behavior
	seed     uint64
	start    time.Time // start of the measured window

	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) bool

	inflight []atomic.Int64

	mu       sync.Mutex
	calls    map[uint64]*CallStats
	arrivals []Arrival

	servers []*http.Server
	urls    []string
}

// New returns an Upstream for one run of s whose measured window starts at
// start; seed drives every random choice.
func New(s Scenario, seed uint64, start time.Time) *Upstream {
	return &Upstream{
		scenario: s,
		behavior: s.Behavior(),
		seed:     seed,
		start:    start,
		now:      time.Now,
		sleep:    sleepCtx,
		inflight: make([]atomic.Int64, len(s.Models)),
		calls:    make(map[uint64]*CallStats),
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// Start listens on a loopback port per model and serves until Close. It
// returns the base URLs, in the order of Scenario.Models.
func (u *Upstream) Start() ([]string, error) {
	for i := range u.scenario.Models {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			u.Close()
			return nil, fmt.Errorf("sim: listen: %w", err)
		}
		srv := &http.Server{Handler: u.Handler(i), ReadHeaderTimeout: 10 * time.Second}
		u.servers = append(u.servers, srv)
		u.urls = append(u.urls, "http://"+ln.Addr().String())
		go srv.Serve(ln) //nolint:errcheck // Serve returns ErrServerClosed after Close.
	}
	return u.urls, nil
}

// Close closes the listeners and every connection.
func (u *Upstream) Close() error {
	var errs []error
	for _, s := range u.servers {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// Call returns what the upstream saw of call id.
func (u *Upstream) Call(id uint64) CallStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	if c := u.calls[id]; c != nil {
		return *c
	}
	return CallStats{}
}

// Arrival is one request as it reached the upstream.
type Arrival struct {
	// T is the arrival time, measured from the start of the measured window.
	T time.Duration
	// Tokens is what the request was charged when it was accepted, in
	// scenarios that meter tokens; zero for one refused.
	Tokens int
	// Call is the request's call id.
	Call uint64
}

// Arrivals returns every request so far, in arrival order.
func (u *Upstream) Arrivals() []Arrival {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]Arrival(nil), u.arrivals...)
}

// Handler returns the chat-completions handler of model index model.
func (u *Upstream) Handler(model int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { u.serve(w, r, model) })
}

func (u *Upstream) serve(w http.ResponseWriter, r *http.Request, model int) {
	var tokens int
	if u.scenario.meter {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		tokens = Charge(body)
	}
	_, _ = io.Copy(io.Discard, r.Body)
	id, _ := strconv.ParseUint(r.Header.Get(CallHeader), 10, 64)
	now := u.now()
	t := now.Sub(u.start)

	u.mu.Lock()
	c := u.calls[id]
	if c == nil {
		c = &CallStats{}
		u.calls[id] = c
	}
	c.Attempts++
	attempt := c.Attempts
	if attempt > 1 {
		if c.lastFatal {
			c.FatalRetried++
		}
		if now.Before(c.hintUntil) {
			c.Early++
		}
	}
	u.arrivals = append(u.arrivals, Arrival{T: t, Call: id})
	arrival := len(u.arrivals) - 1
	u.mu.Unlock()

	n := u.inflight[model].Add(1)
	defer u.inflight[model].Add(-1)
	rnd := u.rng(id, attempt)
	out := u.behavior.Decide(Request{Model: model, T: t, InFlight: int(n), Attempt: attempt, Rand: rnd, Tokens: tokens})
	if !u.sleep(r.Context(), out.Latency) {
		return // the client gave up
	}

	// Record the answer before sending it, so a retry can never arrive
	// before the record it is checked against.
	hint, hintValue := effectiveHint(out)
	u.mu.Lock()
	c.lastFatal = out.Fault != nil && !out.Fault.Retryable
	if out.Fault != nil && !out.InStream && out.Fault.Status == http.StatusTooManyRequests {
		c.Throttled++
	}
	if out.Fault == nil {
		c.Tokens += tokens
		u.arrivals[arrival].Tokens = tokens
	}
	c.hintUntil = time.Time{}
	if hint > 0 {
		c.hintUntil = u.now().Add(hint)
	}
	u.mu.Unlock()

	reqID := fmt.Sprintf("req_%016x", rnd.Uint64())
	h := w.Header()
	for k, v := range out.Header {
		h[k] = v
	}
	h.Set("X-Request-Id", reqID)
	switch {
	case out.Fault == nil && u.scenario.Stream && out.Stall > 0:
		h.Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		if !u.sleep(r.Context(), out.Stall) {
			return // the client gave up
		}
		writeChunks(w, u.scenario.Models[model], reqID)
	case out.Fault == nil && u.scenario.Stream:
		writeStream(w, u.scenario.Models[model], reqID, nil)
	case out.Fault == nil:
		h.Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, completion(u.scenario.Models[model], reqID))
	case out.InStream:
		writeStream(w, u.scenario.Models[model], reqID, out.Fault.Body(reqID))
	default:
		h.Set("Content-Type", "application/json")
		switch out.Fault.Hint {
		case RetryAfterSeconds:
			h.Set("Retry-After", hintValue)
		case RetryAfterMillis:
			h.Set("Retry-After-Ms", hintValue)
		case RetryAfterBoth:
			h.Set("Retry-After-Ms", hintValue)
			h.Set("Retry-After", strconv.FormatInt(int64((hint+time.Second-1)/time.Second), 10))
		}
		w.WriteHeader(out.Fault.Status)
		_, _ = w.Write(out.Fault.Body(reqID))
	}
}

// rng returns the generator of attempt of call id.
func (u *Upstream) rng(id uint64, attempt int) *rand.Rand {
	return rand.New(rand.NewPCG(u.seed, id*0x9e3779b97f4a7c15+uint64(attempt)))
}

// effectiveHint returns the hint as a client reads it from the header it is
// sent in (whole seconds are rounded up; with both headers, the exact
// retry-after-ms) and the header value.
func effectiveHint(out Outcome) (time.Duration, string) {
	if out.Fault == nil || out.InStream || out.Hint <= 0 {
		return 0, ""
	}
	switch out.Fault.Hint {
	case RetryAfterSeconds:
		s := (out.Hint + time.Second - 1) / time.Second
		return s * time.Second, strconv.FormatInt(int64(s), 10)
	case RetryAfterMillis, RetryAfterBoth:
		ms := (out.Hint + time.Millisecond - 1) / time.Millisecond
		return ms * time.Millisecond, strconv.FormatInt(int64(ms), 10)
	}
	return 0, ""
}

func completion(model, id string) string {
	return `{"id":"chatcmpl-` + id + `","object":"chat.completion","created":1700000000,"model":"` + model +
		`","choices":[{"index":0,"message":{"role":"assistant","content":"Hi!"},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":9,"completion_tokens":2,"total_tokens":11}}`
}

// writeStream writes a 200 text/event-stream: the error event errBody if it
// is not nil, else three chunks and [DONE].
func writeStream(w http.ResponseWriter, model, id string, errBody []byte) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if errBody != nil {
		_, _ = fmt.Fprintf(w, "event: error\ndata: %s\n\n", errBody)
		return
	}
	writeChunks(w, model, id)
}

// writeChunks writes the events of a successful stream: three chunks and
// [DONE].
func writeChunks(w http.ResponseWriter, model, id string) {
	f, _ := w.(http.Flusher)
	for _, tok := range []string{"Hi", "!", ""} {
		finish := "null"
		if tok == "" {
			finish = `"stop"`
		}
		_, _ = fmt.Fprintf(w, "data: {\"id\":\"chatcmpl-%s\",\"object\":\"chat.completion.chunk\",\"model\":%q,"+
			"\"choices\":[{\"index\":0,\"delta\":{\"content\":%q},\"finish_reason\":%s}]}\n\n", id, model, tok, finish)
		if f != nil {
			f.Flush()
		}
	}
	_, _ = io.WriteString(w, "data: [DONE]\n\n")
}
