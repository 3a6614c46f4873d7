package sim

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Request is what a Behavior knows about one upstream request.
type Request struct {
	// Model is the index of the model in Scenario.Models.
	Model int
	// T is the arrival time measured from the start of the measured window;
	// negative during the warm-up.
	T time.Duration
	// InFlight is the number of requests in flight at this model, this one
	// included.
	InFlight int
	// Attempt is 1 for the first request of a call, 2 for its first retry…
	Attempt int
	// Rand is the request's own generator, seeded with (seed, call, attempt).
	Rand *rand.Rand
	// Tokens is the request's Charge; zero unless the scenario meters
	// tokens.
	Tokens int
}

// Outcome is what the upstream does with one request.
type Outcome struct {
	// Latency is how long the upstream takes before it answers.
	Latency time.Duration
	// Fault is the error to answer with; nil means a successful completion.
	Fault *Fault
	// Hint is the retry hint to send in the header named by Fault.Hint.
	Hint time.Duration
	// InStream delivers Fault as the first event of a 200 text/event-stream
	// response instead of as an error status.
	InStream bool
	// Header holds headers to send with the answer, whatever it is (the
	// x-ratelimit-* family).
	Header http.Header
	// Stall, for a stream, is how long the upstream waits after sending
	// its 200 and headers before the first event.
	Stall time.Duration
}

// Behavior decides the outcome of each request of one run. Implementations
// are safe for concurrent use.
type Behavior interface {
	Decide(Request) Outcome
}

// lognormal returns median·e^(sigma·N(0,1)).
func lognormal(r *rand.Rand, median time.Duration, sigma float64) time.Duration {
	return time.Duration(float64(median) * math.Exp(sigma*r.NormFloat64()))
}

// normal is the latency of an ordinary answer; fast is that of an error the
// upstream gives without doing the work.
func normal(r *rand.Rand) time.Duration { return lognormal(r, 20*time.Millisecond, 0.3) }
func fast(r *rand.Rand) time.Duration   { return lognormal(r, 3*time.Millisecond, 0.3) }

// hintFor returns a short retry hint in the style f uses: one second for
// Retry-After, 300–800 ms for retry-after-ms.
func hintFor(r *rand.Rand, f *Fault) time.Duration {
	switch f.Hint {
	case RetryAfterSeconds:
		return time.Second
	case RetryAfterMillis:
		return 300*time.Millisecond + time.Duration(r.IntN(500))*time.Millisecond
	}
	return 0
}

// flakyBehavior fails each attempt independently: fatally with probability
// fatal, retryably with probability p.
type flakyBehavior struct{ p, fatal float64 }

func (b *flakyBehavior) Decide(q Request) Outcome {
	u := q.Rand.Float64()
	switch {
	case u < b.fatal:
		return Outcome{Latency: fast(q.Rand), Fault: fatalFaults[q.Rand.IntN(len(fatalFaults))]}
	case u < b.fatal+b.p:
		f := retryableFaults[q.Rand.IntN(len(retryableFaults))]
		return Outcome{Latency: fast(q.Rand), Fault: f, Hint: hintFor(q.Rand, f)}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// rateLimit keeps one token bucket per model; a request finding the bucket
// empty gets a 429 whose hint is the time until a token is due, at least
// 300 ms, plus up to 500 ms of jitter. Model 0 speaks InferKit (Retry-After),
// the others Infe (retry-after-ms).
type rateLimit struct {
	rate, burst float64
	// answer draws a success's latency; nil means normal.
	answer  func(*rand.Rand) time.Duration
	mu      sync.Mutex
	buckets []bucket
}

type bucket struct {
	tokens float64
	last   time.Duration
	primed bool
}

func newRateLimit(models int, rate, burst float64) *rateLimit {
	return &rateLimit{rate: rate, burst: max(burst, 1), buckets: make([]bucket, models)}
}

// take takes a token from model's bucket at t, or returns how long until one
// is due.
func (b *rateLimit) take(model int, t time.Duration) (ok bool, wait time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	k := &b.buckets[model]
	if !k.primed {
		k.tokens, k.last, k.primed = b.burst, t, true
	}
	if t > k.last {
		k.tokens = min(b.burst, k.tokens+(t-k.last).Seconds()*b.rate)
		k.last = t
	}
	if k.tokens >= 1 {
		k.tokens--
		return true, 0
	}
	return false, time.Duration((1 - k.tokens) / b.rate * float64(time.Second))
}

func (b *rateLimit) Decide(q Request) Outcome {
	ok, wait := b.take(q.Model, q.T)
	if ok {
		if b.answer != nil {
			return Outcome{Latency: b.answer(q.Rand)}
		}
		return Outcome{Latency: normal(q.Rand)}
	}
	f := infeRateLimited
	if q.Model == 0 {
		f = inferkitRateLimited
	}
	hint := max(wait, 300*time.Millisecond) + time.Duration(q.Rand.IntN(500))*time.Millisecond
	return Outcome{Latency: fast(q.Rand), Fault: f, Hint: hint}
}

// outageBehavior fails every request to one model during a window.
type outageBehavior struct {
	model  int
	window Window
}

func (b *outageBehavior) Decide(q Request) Outcome {
	if q.Model == b.model && b.window.Contains(q.T) {
		return Outcome{Latency: fast(q.Rand), Fault: inferkitProviderUnavailable}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// windowBehavior fails every request during a window.
type windowBehavior struct {
	window Window
	fault  *Fault
}

func (b *windowBehavior) Decide(q Request) Outcome {
	if b.window.Contains(q.T) {
		return Outcome{Latency: fast(q.Rand), Fault: b.fault}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// overloadBehavior is a server shared like a processor: it completes
// capacity requests per second, so with n in flight a request takes
// max(service, n/capacity). A request that would take longer than timeout
// waits timeout and then fails (a queue timeout: the failure costs as much
// capacity as a success), which is what lets retries keep the server
// overloaded after the capacity comes back. During window the capacity is
// cut to cut·capacity.
type overloadBehavior struct {
	capacity float64 // requests per second
	cut      float64 // fraction of capacity left during window
	window   Window
	service  time.Duration
	timeout  time.Duration
}

func (b *overloadBehavior) Decide(q Request) Outcome {
	c := b.capacity
	if b.window.Contains(q.T) {
		c *= b.cut
	}
	queue := time.Duration(float64(q.InFlight) / c * float64(time.Second))
	l := time.Duration(float64(max(b.service, queue)) * math.Exp(0.2*q.Rand.NormFloat64()))
	if l >= b.timeout {
		return Outcome{Latency: b.timeout, Fault: gatewayModelOverloaded}
	}
	return Outcome{Latency: l}
}

// slowTailBehavior answers every request after a lognormal latency, ten
// times longer for one request in a hundred.
type slowTailBehavior struct{}

func (slowTailBehavior) Decide(q Request) Outcome {
	l := lognormal(q.Rand, 50*time.Millisecond, 0.5)
	if q.Rand.Float64() < 0.01 {
		l *= 10
	}
	return Outcome{Latency: l}
}

// streamBehavior opens a fraction p of its streams with an error event.
type streamBehavior struct{ p float64 }

func (b *streamBehavior) Decide(q Request) Outcome {
	if q.Rand.Float64() < b.p {
		f := gatewayStreamError
		if q.Rand.IntN(2) == 0 {
			f = gatewayModelOverloaded
		}
		return Outcome{Latency: fast(q.Rand), Fault: f, InStream: true}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// stallBehavior stalls a fraction p of its streams after their headers.
type stallBehavior struct {
	p     float64
	stall time.Duration
}

func (b *stallBehavior) Decide(q Request) Outcome {
	if q.Rand.Float64() < b.p {
		return Outcome{Latency: fast(q.Rand), Stall: b.stall}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// noisyBehavior refuses each attempt independently with probability p: a
// 429 with Retry-After: 1 that has nothing to do with the load, as a
// provider's shared limits or a gateway in front of it produce.
type noisyBehavior struct{ p float64 }

func (b *noisyBehavior) Decide(q Request) Outcome {
	if q.Rand.Float64() < b.p {
		return Outcome{Latency: fast(q.Rand), Fault: inferkitRateLimited, Hint: time.Second}
	}
	return Outcome{Latency: normal(q.Rand)}
}

// stormHint is the storm scenario's retry-after-ms.
const stormHint = 10 * time.Millisecond

// stormBehavior answers every request with a 503 that asks for a retry in
// 10 ms: every model of a provider down at once.
type stormBehavior struct{}

func (stormBehavior) Decide(q Request) Outcome {
	return Outcome{Latency: fast(q.Rand), Fault: gatewayModelOverloadedHinted, Hint: stormHint}
}

// defaultMaxTokens is what the upstream charges for the completion of a
// request that sets no max_tokens.
const defaultMaxTokens = 256

// Charge returns the tokens a chat-completions request body is charged
// against a token quota, as OpenAI-style APIs estimate it before running
// the request: its prompt estimate, ⌈characters/4⌉ for each message's
// content, plus its max_tokens (defaultMaxTokens, 256, when it sets none).
// A body that does not parse is charged defaultMaxTokens.
func Charge(body []byte) int {
	var req struct {
		Messages []struct {
			Content string `json:"content"`
		} `json:"messages"`
		MaxTokens int `json:"max_tokens"`
	}
	_ = json.Unmarshal(body, &req)
	n := req.MaxTokens
	if n <= 0 {
		n = defaultMaxTokens
	}
	for _, m := range req.Messages {
		n += (len(m.Content) + 3) / 4
	}
	return n
}

// quotaBehavior is a fixed-window quota per model of requests and of
// tokens (each request charged its Request.Tokens), told on every answer in
// OpenAI's headers: x-ratelimit-limit-, -remaining- and -reset-requests and
// -tokens, the resets as Go durations ("1s", "6m0s", "20ms"). Windows are
// [k·window, (k+1)·window) from the start of the measured window. A request
// that would exceed either limit gets a 429 (Infe's rate_limit_exceeded)
// whose hint, sent as Retry-After and retry-after-ms, is the time until the
// window resets; it is not charged.
type quotaBehavior struct {
	window           time.Duration
	requests, tokens int // limits per window
	byTokens         bool
	mu               sync.Mutex
	state            []quotaState
}

type quotaState struct {
	index            int64
	primed           bool
	requests, tokens int
}

func newQuota(models int, window time.Duration, requests, tokens int, byTokens bool) *quotaBehavior {
	return &quotaBehavior{window: window, requests: requests, tokens: tokens, byTokens: byTokens, state: make([]quotaState, models)}
}

func (b *quotaBehavior) Decide(q Request) Outcome {
	idx := floorDiv(q.T, b.window)
	reset := time.Duration(idx+1)*b.window - q.T
	b.mu.Lock()
	s := &b.state[q.Model]
	if !s.primed || s.index != idx {
		*s = quotaState{index: idx, primed: true}
	}
	overRequests := s.requests+1 > b.requests
	overTokens := s.tokens+q.Tokens > b.tokens
	if !overRequests && !overTokens {
		s.requests++
		s.tokens += q.Tokens
	}
	remRequests, remTokens := b.requests-s.requests, b.tokens-s.tokens
	b.mu.Unlock()

	h := http.Header{}
	h.Set("X-Ratelimit-Limit-Requests", strconv.Itoa(b.requests))
	h.Set("X-Ratelimit-Remaining-Requests", strconv.Itoa(remRequests))
	h.Set("X-Ratelimit-Reset-Requests", FormatReset(reset))
	h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(b.tokens))
	h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(remTokens))
	h.Set("X-Ratelimit-Reset-Tokens", FormatReset(reset))
	switch {
	case overRequests:
		return Outcome{Latency: fast(q.Rand), Fault: infeRequestQuota, Hint: reset, Header: h}
	case overTokens:
		return Outcome{Latency: fast(q.Rand), Fault: infeTokenQuota, Hint: reset, Header: h}
	}
	return Outcome{Latency: normal(q.Rand), Header: h}
}

// FormatReset formats a reset delay as OpenAI's x-ratelimit-reset-*
// headers do, a Go duration, rounded up to the millisecond so that a client
// that waits it out never arrives before the reset: "1s", "6m0s", "20ms".
func FormatReset(d time.Duration) string {
	return ((d + time.Millisecond - 1) / time.Millisecond * time.Millisecond).String()
}
