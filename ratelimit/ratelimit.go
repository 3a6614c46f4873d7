package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

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

// A Set holds a rate limiter and a cool-down deadline per key, created on the
// key's first use and bounded in number by Limits.MaxKeys. Build one with New;
// the zero Set is not usable. A Set is safe for concurrent use by multiple
// goroutines.
type Set struct {
	rules       []rule
	def         Limit
	enabled     bool
	maxCoolDown time.Duration
	noCoolDown  bool
	keys        *registry.Map[*entry]

	// latest is the end of the latest cool-down set on any key, in Unix
	// nanoseconds: before it, an unlimited Set need not look keys up.
	latest atomic.Int64

	// Hooks for tests; New sets them to the real clock, timer and
	// rand.Int64N.
	now      func() time.Time
	newTimer func(d time.Duration) (<-chan time.Time, func() bool)
	jitter   func(n int64) int64 // uniform in [0, n)
}

// The spread added past the end of a cool-down for a key without a limit: a
// quarter of the time left, within these bounds, so that the callers it held
// are not all released at one instant. (A limited key releases them at its
// rate instead.)
const (
	MinReleaseSpread = 100 * time.Millisecond
	MaxReleaseSpread = 250 * time.Millisecond
)

type rule struct {
	pat   pattern
	limit Limit
}

// An entry is the state of one key.
type entry struct {
	lim   *rate.Limiter // nil when the key is not limited
	until atomic.Int64  // end of the cool-down in Unix nanoseconds; 0 if none
}

// New returns a Set enforcing l, or the error from l.Validate.
func New(l Limits) (*Set, error) {
	if err := l.Validate(); err != nil {
		return nil, err
	}
	l = l.withDefaults()
	s := &Set{
		rules:       make([]rule, len(l.Rules)),
		def:         l.Default,
		enabled:     l.Enabled(),
		maxCoolDown: l.MaxCoolDown,
		noCoolDown:  l.NoCoolDown,
		now:         time.Now,
		jitter:      rand.Int64N,
		newTimer: func(d time.Duration) (<-chan time.Time, func() bool) {
			t := time.NewTimer(d)
			return t.C, t.Stop
		},
	}
	for i, r := range l.Rules {
		s.rules[i] = rule{pat: compilePattern(r.Pattern), limit: r.Limit}
	}
	s.keys = registry.New(l.MaxKeys, l.IdleTTL, s.newEntry)
	return s, nil
}

// limitFor returns the Limit of the first Rule matching key, else Default.
func (s *Set) limitFor(key string) Limit {
	for _, r := range s.rules {
		if r.pat.match(key) {
			return r.limit
		}
	}
	return s.def
}

// newEntry builds the state of key on its first use, resolving its Limit
// once so that patterns are not matched per request.
func (s *Set) newEntry(key string) *entry {
	e := new(entry)
	if l := s.limitFor(key); !l.unlimited() {
		e.lim = rate.NewLimiter(l.Rate, l.burst())
	}
	return e
}

// A Reservation is one slot taken by Set.Reserve. The zero Reservation has no
// delay and nothing to cancel.
type Reservation struct {
	r       *rate.Reservation // nil when the key is not limited
	e       *entry
	delay   time.Duration
	cooling time.Duration
}

// Cooling returns how much of Delay is the key's cool-down, zero when the
// key is not cooling. For a key without a limit, Delay adds to it a spread
// of MinReleaseSpread to MaxReleaseSpread at most, drawn at random.
func (r Reservation) Cooling() time.Duration { return r.cooling }

// Delay returns how long after the time passed to Reserve the caller must
// wait before sending. Zero means send at once. It returns rate.InfDuration
// if the limiter cannot grant the slot, which a Set built by New never does.
func (r Reservation) Delay() time.Duration { return r.delay }

// Cancel gives the slot back, as of now, for a caller that will not send, so
// that later callers may go sooner (see rate.Reservation.CancelAt). Slots
// reserved after this one are not moved. A cool-down is shared by every
// caller of the key and is not given back. Call Cancel at most once.
func (r Reservation) Cancel(now time.Time) {
	if r.r == nil {
		return
	}
	r.r.CancelAt(r.e.clock(now))
}

// clock returns the time at which e's limiter is driven: now, or the end of
// the cool-down if that is later. Slots are due no earlier than the end of a
// cool-down anyway, and never moving the limiter's clock back keeps a Cancel
// during a cool-down from crediting the cool-down's tokens twice.
func (e *entry) clock(now time.Time) time.Time {
	if u := e.until.Load(); u > now.UnixNano() {
		return time.Unix(0, u)
	}
	return now
}

// Reserve takes one slot for key at now and returns how long the caller must
// wait before sending. It never sleeps. The wait covers both the key's
// remaining cool-down and its rate limit; during a cool-down the slot is
// taken from the limiter as of the cool-down's end, so callers that waited
// one out are released at the key's rate rather than all at once (a key with
// no limit releases them all at once). A caller that will not wait and send
// must Cancel the Reservation.
//
// Reserve allocates only for a rate-limited key. When no key is limited and
// none is cooling, it costs one atomic load.
func (s *Set) Reserve(key string, now time.Time) Reservation {
	var e *entry
	if s.enabled {
		e = s.keys.Get(key, now)
	} else if now.UnixNano() >= s.latest.Load() {
		return Reservation{} // no key is cooling
	} else if e, _ = s.keys.Peek(key); e == nil {
		return Reservation{} // only cool-downs create entries here
	}
	at := e.clock(now)
	cooling := at.Sub(now)
	if e.lim == nil {
		delay := cooling
		if cooling > 0 {
			spread := min(max(cooling/4, MinReleaseSpread), MaxReleaseSpread)
			delay += time.Duration(s.jitter(int64(spread) + 1))
		}
		return Reservation{delay: delay, cooling: cooling}
	}
	r := e.lim.ReserveN(at, 1)
	return Reservation{r: r, e: e, delay: r.DelayFrom(now), cooling: cooling}
}

// CoolDown holds key until until, as decided at now: Reserve and Wait make
// callers of key wait at least until then. A later deadline than the current
// one extends the cool-down; an earlier one leaves it as it is. A deadline
// more than Limits.MaxCoolDown after now is cut to that bound, and one that
// is not after now is ignored. CoolDown works whether or not the key is rate
// limited.
func (s *Set) CoolDown(key string, now, until time.Time) {
	if s.noCoolDown {
		return
	}
	if limit := now.Add(s.maxCoolDown); until.After(limit) {
		until = limit
	}
	if !until.After(now) || until.Unix() <= 0 {
		return // nothing to wait for, or too early for Unix nanoseconds
	}
	u := until.UnixNano()
	extend(&s.latest, u)
	extend(&s.keys.Get(key, now).until, u)
}

// extend sets v to u if that is later than v's value.
func extend(v *atomic.Int64, u int64) {
	for {
		old := v.Load()
		if u <= old || v.CompareAndSwap(old, u) {
			return
		}
	}
}

// CoolingUntil returns the end of key's latest cool-down, which may be in the
// past, or the zero Time if the Set holds no cool-down for key.
func (s *Set) CoolingUntil(key string) time.Time {
	e, ok := s.keys.Peek(key)
	if !ok {
		return time.Time{}
	}
	u := e.until.Load()
	if u == 0 {
		return time.Time{}
	}
	return time.Unix(0, u)
}

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
