package breaker

import (
	"fmt"
	"math"
	"time"
)

// Defaults used for zero fields of Settings.
const (
	defaultFailureRatio   = 0.5
	defaultMinRequests    = 10
	defaultWindow         = 10 * time.Second
	defaultBuckets        = 10
	defaultOpenTimeout    = 1 * time.Second
	defaultHalfOpenProbes = 3
	defaultMaxKeys        = 1024
	defaultIdleTTL        = 10 * time.Minute
)

// Limits checked by Validate. A rolling window costs O(Buckets) per bucket
// rolled over, under the breaker's lock, so it is kept small.
const (
	maxBuckets      = 100
	minBucketPeriod = time.Millisecond
)

// Settings configures a Set. The zero value is ready to use: every zero field
// takes the default its documentation names.
type Settings struct {
	// Disabled turns the breakers off: Allow always allows and no breaker
	// is kept. The other fields are still validated.
	Disabled bool

	// FailureRatio is the share of failures among the outcomes reported in
	// the window at which a breaker trips open, once the evidence leaves no
	// doubt: a breaker trips at a failure when the window holds at least
	// MinRequests outcomes and either every one of them failed, or the last
	// ones failed in a row so long that failures at FailureRatio would make
	// it with a chance under one in a million (20 at 0.5: an upstream that
	// has just gone down), or the lower bound of the Wilson score interval
	// of their failure ratio, three standard errors below it, reaches
	// FailureRatio. At 0.5 that is 10
	// failures in a row, 17 of 20, or 65 of 100; failures that come
	// independently at a lower ratio (40% at 0.5, say) almost never trip it
	// once the window holds more than a few outcomes. It must be in (0, 1];
	// zero means 0.5.
	FailureRatio float64

	// MinRequests is how many outcomes (successes and failures; Excluded
	// outcomes do not count) the window must hold before FailureRatio is
	// considered. Zero means 10.
	MinRequests uint32

	// Window is the length of the rolling window over which outcomes are
	// counted while a breaker is closed. Zero means 10s. A window longer
	// than Buckets/(Buckets+1) of the largest Duration (265 years for 10
	// buckets) is that long.
	Window time.Duration

	// Buckets is how many slices the window is divided into; outcomes
	// leave the window one bucket at a time. Zero means 10. At most 100,
	// and each bucket (Window/Buckets) must last at least 1ms.
	Buckets int

	// OpenTimeout is how long a tripped breaker stays open, rejecting
	// every request, before it turns half-open. Zero means 1s.
	OpenTimeout time.Duration

	// HalfOpenProbes is how many requests a half-open breaker lets through;
	// it closes once that many have succeeded in a row and opens again at
	// the first failure. Zero means 3.
	HalfOpenProbes uint32

	// MaxKeys bounds how many breakers the Set holds. When a new key
	// arrives and the Set is full, idle breakers and then the least
	// recently used ones are dropped. Zero means 1024.
	MaxKeys int

	// IdleTTL is how long a breaker may go unused before it may be dropped
	// to make room for a new key. Zero means 10m.
	IdleTTL time.Duration

	// FailFast makes a caller that meets an open breaker fail at once with
	// ErrOpen. By default a Transport holds such a call until the breaker's
	// half-open verdict when its deadline leaves room, and fails it at once
	// only when it does not; set FailFast when the caller has a fallback of
	// its own. The Set itself ignores it.
	FailFast bool

	// OnStateChange, if not nil, is called after a breaker changes state,
	// with the breaker's key. It is called without any lock held, so it may
	// call back into the Set. It runs on the goroutine whose Allow, Ticket.Done or
	// State call made the change happen, before that call returns, unless
	// another goroutine is delivering changes of the same key at that
	// moment: that one then delivers this change too. The changes of one
	// key are delivered one at a time, in the order they happened. It must
	// not panic.
	OnStateChange func(key string, from, to State)
}

// WithDefaults returns s with every zero field replaced by its default.
// It is the one place where defaults are applied.
func (s Settings) WithDefaults() Settings {
	if s.FailureRatio == 0 {
		s.FailureRatio = defaultFailureRatio
	}
	if s.MinRequests == 0 {
		s.MinRequests = defaultMinRequests
	}
	if s.Window == 0 {
		s.Window = defaultWindow
	}
	if s.Buckets == 0 {
		s.Buckets = defaultBuckets
	}
	if s.OpenTimeout == 0 {
		s.OpenTimeout = defaultOpenTimeout
	}
	if s.HalfOpenProbes == 0 {
		s.HalfOpenProbes = defaultHalfOpenProbes
	}
	if s.MaxKeys == 0 {
		s.MaxKeys = defaultMaxKeys
	}
	if s.IdleTTL == 0 {
		s.IdleTTL = defaultIdleTTL
	}
	return s
}

// bucketPeriod returns the length of one bucket of s, which must have been
// through withDefaults: Window/Buckets, saturated so that the window
// arithmetic of gobreaker (which adds a bucket to the window) cannot
// overflow: the window is at most Buckets/(Buckets+1) of the largest
// Duration.
func (s Settings) bucketPeriod() time.Duration {
	return min(s.Window/time.Duration(s.Buckets), math.MaxInt64/time.Duration(s.Buckets+1))
}

// Validate reports the first field of s that is invalid, with defaults
// taken into account. Zero fields are always valid on their own.
func (s Settings) Validate() error {
	switch {
	case math.IsNaN(s.FailureRatio) || s.FailureRatio < 0 || s.FailureRatio > 1:
		return fmt.Errorf("breaker: FailureRatio %v is outside (0, 1]", s.FailureRatio)
	case s.Window < 0:
		return fmt.Errorf("breaker: Window %v is negative", s.Window)
	case s.Buckets < 0:
		return fmt.Errorf("breaker: Buckets %d is negative", s.Buckets)
	case s.OpenTimeout < 0:
		return fmt.Errorf("breaker: OpenTimeout %v is negative", s.OpenTimeout)
	case s.MaxKeys < 0:
		return fmt.Errorf("breaker: MaxKeys %d is negative", s.MaxKeys)
	case s.IdleTTL < 0:
		return fmt.Errorf("breaker: IdleTTL %v is negative", s.IdleTTL)
	}
	d := s.WithDefaults()
	if d.Buckets > maxBuckets {
		return fmt.Errorf("breaker: Buckets %d is more than %d", d.Buckets, maxBuckets)
	}
	if d.Window/time.Duration(d.Buckets) < minBucketPeriod {
		return fmt.Errorf("breaker: Window %v in %d Buckets makes buckets shorter than %v",
			d.Window, d.Buckets, minBucketPeriod)
	}
	return nil
}
