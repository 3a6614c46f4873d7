package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"golang.org/x/time/rate"

	"github.com/rebound-http/rebound/internal/glob"
	"github.com/rebound-http/rebound/internal/registry"
)

// ErrWouldExceedDeadline is returned, wrapped in a [*WaitError], by
// [Set.Wait] when the wait for a key would end after the context's deadline.
var ErrWouldExceedDeadline = errors.New("ratelimit: wait would exceed the deadline")

// A WaitError says that waiting for Key would not end before the deadline.
// errors.Is(err, ErrWouldExceedDeadline) reports true for it.
type WaitError struct {
	Key  string        // the key waited for
	Wait time.Duration // how long the wait would have been
	Left time.Duration // how long was left before the deadline; rate.InfDuration if none
}

// Error returns a message naming the key, the wait and the time left.
func (e *WaitError) Error() string {
	return fmt.Sprintf("ratelimit: waiting %v for %q would exceed the deadline (%v left)",
		e.Wait.Round(time.Millisecond), e.Key, e.Left.Round(time.Millisecond))
}

// Unwrap returns ErrWouldExceedDeadline.
func (e *WaitError) Unwrap() error { return ErrWouldExceedDeadline }

// ErrCostTooLarge is matched by the *CostError of a request whose estimated
// token cost is larger than its key's whole token bucket: no wait could
// ever let it through.
var ErrCostTooLarge = errors.New("ratelimit: request costs more tokens than the whole token bucket")

// CostError reports a request whose estimated token cost can never be
// granted.
type CostError struct {
	Key    string
	Tokens int // the request's estimated cost
	Burst  int // the key's whole token bucket
}

// Error names the key, the cost and the bucket.
func (e *CostError) Error() string {
	return fmt.Sprintf("ratelimit: request to %q is estimated at %d tokens, more than its whole token bucket of %d",
		e.Key, e.Tokens, e.Burst)
}

// Unwrap returns ErrCostTooLarge.
func (e *CostError) Unwrap() error { return ErrCostTooLarge }

// ErrQuotaSpent is matched by the *QuotaError of a call refused because
// its key's quota is spent until a reset it cannot wait for.
var ErrQuotaSpent = errors.New("ratelimit: quota spent")

// QuotaError says that Key's quota is spent until Until, a reset too far
// off to wait for: past the caller's deadline, or longer than the longest
// wait allowed (a per-day quota is never waited out).
type QuotaError struct {
	Key   string
	Until time.Time     // when the quota resets
	Wait  time.Duration // how long that is from the refusal
}

// Error names the key and when its quota resets.
func (e *QuotaError) Error() string {
	return fmt.Sprintf("ratelimit: the quota of %q is spent until %s (in %v)",
		e.Key, e.Until.UTC().Format(time.RFC3339), e.Wait.Round(time.Millisecond))
}

// Unwrap returns ErrQuotaSpent.
func (e *QuotaError) Unwrap() error { return ErrQuotaSpent }

// A Set holds a rate limiter per limited key, created on the key's first use
// and bounded in number by Limits.MaxKeys. Build one with New;
// the zero Set is not usable. A Set is safe for concurrent use by multiple
// goroutines.
type Set struct {
	rules   []rule
	def     Limit
	enabled bool
	keys    *registry.Map[*entry]

	// Hooks for tests; New sets them to the real clock and timer.
	now      func() time.Time
	newTimer func(d time.Duration) (<-chan time.Time, func() bool)
}

type rule struct {
	pat   glob.Pattern
	limit Limit
}

// An entry is the state of one key.
type entry struct {
	lim *rate.Limiter // nil when the key's requests are not limited
	tok *rate.Limiter // nil when its tokens are not
}

// New returns a Set enforcing l, or the error from l.Validate.
func New(l Limits) (*Set, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l = l.withDefaults()
	s := &Set{
		rules:   make([]rule, len(l.Rules)),
		def:     l.Default,
		enabled: l.Enabled(),
		now:     time.Now,
		newTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	for i, r := range l.Rules {
		s.rules[i] = rule{pat: glob.Compile(r.Pattern), limit: r.Limit}
	}
	s.keys = registry.New(l.MaxKeys, l.IdleTTL, s.newEntry)
	return s, nil
}

// limitFor returns the Limit of the first Rule matching key, else Default.
func (s *Set) limitFor(key string) Limit {
	for _, r := range s.rules {
		if r.pat.Match(key) {
			return r.limit
		}
	}
	return s.def
}

// LimitOf returns the Limit that applies to key: the first Rule that
// matches it, else Default.
func (s *Set) LimitOf(key string) Limit { return s.limitFor(key) }

// newEntry builds the state of key on its first use, resolving its Limit
// once so that patterns are not matched per request.
func (s *Set) newEntry(key string) *entry {
	e := new(entry)
	l := s.limitFor(key)
	if !l.requestsUnlimited() {
		e.lim = rate.NewLimiter(l.Rate, l.burst())
	}
	if l.Tokens > 0 {
		e.tok = rate.NewLimiter(l.Tokens, l.tokenBurst())
	}
	return e
}

// A Reservation is one slot taken by Set.Reserve. The zero Reservation has no
// delay and nothing to cancel.
type Reservation struct {
	r     *rate.Reservation // nil when the key's requests are not limited
	tok   *rate.Reservation // nil when its tokens are not
	delay time.Duration
}

// Delay returns how long after the time passed to Reserve the caller must
// wait before sending. Zero means send at once. It returns rate.InfDuration
// if the limiter cannot grant the slot, which a Set built by New never does.
func (r Reservation) Delay() time.Duration { return r.delay }

// Cancel gives the slot back, as of now, for a caller that will not send, so
// that later callers may go sooner (see rate.Reservation.CancelAt). Call
// Cancel at most once.
func (r Reservation) Cancel(now time.Time) {
	if r.r != nil {
		r.r.CancelAt(now)
	}
	if r.tok != nil {
		r.tok.CancelAt(now)
	}
}

// Reserve takes one slot for key at now and returns how long the caller must
// wait before sending. It never sleeps. A caller that will not wait and send
// must Cancel the Reservation.
//
// Reserve allocates only for a rate-limited key; when no key is limited it
// does nothing.
func (s *Set) Reserve(key string, now time.Time) Reservation {
	if !s.enabled {
		return Reservation{}
	}
	e := s.keys.Get(key, now)
	if e.lim == nil {
		return Reservation{}
	}
	r := e.lim.ReserveN(now, 1)
	return Reservation{r: r, delay: r.DelayFrom(now)}
}

// ReserveCost is Reserve for a request estimated to cost tokens: it takes
// one slot and, when key has a token limit, tokens from its token bucket,
// and the delay is the longer of the two waits. A cost larger than the
// whole token bucket (Limit.TokenBurst) can never be granted: ReserveCost
// then takes nothing and returns a *CostError.
func (s *Set) ReserveCost(key string, now time.Time, tokens int) (Reservation, error) {
	if !s.enabled {
		return Reservation{}, nil
	}
	e := s.keys.Get(key, now)
	var r Reservation
	if e.tok != nil && tokens > 0 {
		if b := e.tok.Burst(); tokens > b {
			return Reservation{}, &CostError{Key: key, Tokens: tokens, Burst: b}
		}
		r.tok = e.tok.ReserveN(now, tokens)
		r.delay = r.tok.DelayFrom(now)
	}
	if e.lim != nil {
		r.r = e.lim.ReserveN(now, 1)
		r.delay = max(r.delay, r.r.DelayFrom(now))
	}
	return r, nil
}

// Enabled reports whether the Set limits any key.
func (s *Set) Enabled() bool { return s.enabled }

// Wait reserves a slot for key at the current time and blocks until it is
// due or ctx is done. If the wait would end after ctx's deadline, Wait gives
// the slot back and returns a *WaitError at once, without sleeping. If ctx is
// done first, Wait gives the slot back and returns ctx.Err(). A wait that
// could never end (Delay is rate.InfDuration) fails at once even without a
// deadline.
func (s *Set) Wait(ctx context.Context, key string) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	default:
	}
	now := s.now()
	r := s.Reserve(key, now)
	d := r.Delay()
	if d <= 0 {
		return nil
	}
	deadline, hasDeadline := ctx.Deadline()
	if d == rate.InfDuration || hasDeadline && now.Add(d).After(deadline) {
		r.Cancel(now)
		left := rate.InfDuration
		if hasDeadline {
			left = deadline.Sub(now)
		}
		return &WaitError{Key: key, Wait: d, Left: left}
	}
	ch, stop := s.newTimer(d)
	defer stop()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		r.Cancel(s.now())
		return ctx.Err()
	}
}

// Len returns the number of keys the Set holds state for.
func (s *Set) Len() int { return s.keys.Len() }
