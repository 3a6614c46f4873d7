package retry

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Stop says why a Schedule will not make another attempt.
type Stop uint8

const (
	// Continue means: wait the returned duration, then try again.
	Continue Stop = iota
	// StopAttempts means MaxAttempts attempts have been made.
	StopAttempts
	// StopHintTooLong means the server asked for a wait longer than MaxHint.
	StopHintTooLong
	// StopDeadline means the wait would end after the caller's deadline.
	StopDeadline
)

// String returns a short lower-case reason, such as "attempts exhausted".
func (s Stop) String() string {
	switch s {
	case Continue:
		return "continue"
	case StopAttempts:
		return "attempts exhausted"
	case StopHintTooLong:
		return "server hint longer than MaxHint"
	case StopDeadline:
		return "wait would end after the deadline"
	}
	return "unknown"
}

// maxHintJitter caps the jitter added above a server's hint, which spreads
// out callers that were all told the same instant without making anyone wait
// noticeably longer than asked.
const maxHintJitter = 250 * time.Millisecond

// Schedule is the retry state of one call: the attempts made so far and its
// backoff. It is not safe for concurrent use; each call starts its own.
type Schedule struct {
	p        *Policy
	attempts int
	eb       *backoff.ExponentialBackOff // built on the first backoff wait
	rnd      func(n int64) int64         // [0, n); rand.Int64N unless a test sets it
}

// Start returns a fresh Schedule for one call under p, which must have been
// through WithDefaults. The Schedule refers to p, which must not change.
func (p *Policy) Start() Schedule {
	return Schedule{p: p, rnd: rand.Int64N}
}

// Attempted records that an attempt was sent and returns how many have been.
func (s *Schedule) Attempted() int {
	s.attempts++
	return s.attempts
}

// Attempts returns the number of attempts recorded so far.
func (s *Schedule) Attempts() int { return s.attempts }

// Next decides about the attempt after the one just made. hint is the
// server's requested wait (zero: none). left is the time remaining before the
// caller's deadline, or negative when there is no deadline. It returns the
// wait before the next attempt, or the reason to stop.
func (s *Schedule) Next(hint, left time.Duration) (time.Duration, Stop) {
	if s.attempts >= s.p.MaxAttempts {
		return 0, StopAttempts
	}
	var wait time.Duration
	if hint > 0 {
		if hint > s.p.MaxHint {
			return 0, StopHintTooLong
		}
		if left >= 0 && hint > left {
			return 0, StopDeadline
		}
		wait = addSat(hint, s.jitter(min(hint/10, maxHintJitter)))
		if left >= 0 && wait > left {
			wait = hint // the jitter must not cost the call its deadline
		}
		return wait, Continue
	}
	wait = s.jitter(s.ceiling())
	if left >= 0 && wait >= left {
		return 0, StopDeadline
	}
	return wait, Continue
}

// ceiling returns the next exponential backoff ceiling, capped at
// MaxInterval, however large the Policy's durations and Multiplier.
func (s *Schedule) ceiling() time.Duration {
	if s.eb == nil {
		s.eb = backoff.NewExponentialBackOff(
			backoff.WithInitialInterval(s.p.InitialInterval),
			backoff.WithMaxInterval(s.p.MaxInterval),
			backoff.WithMultiplier(s.p.Multiplier),
			backoff.WithRandomizationFactor(0), // full jitter is applied on top
			backoff.WithMaxElapsedTime(0),      // attempts and deadlines bound a call, not elapsed time
		)
	}
	// ExponentialBackOff caps its interval at MaxInterval without
	// overflowing; this guards against any other arithmetic of its own.
	if d := s.eb.NextBackOff(); d >= 0 && d <= s.p.MaxInterval {
		return d
	}
	return s.p.MaxInterval
}

// jitter returns a duration drawn uniformly from [0, d] ([0, d) when d is
// the largest Duration, which has no successor).
func (s *Schedule) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	n := int64(d)
	if n < math.MaxInt64 {
		n++
	}
	return time.Duration(s.rnd(n))
}

// addSat returns a+b for non-negative durations, saturating at the largest
// Duration.
func addSat(a, b time.Duration) time.Duration {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}
