package retry

import (
	"errors"
	"fmt"
	"time"
)

// Defaults applied by Policy.WithDefaults to zero fields.
const (
	DefaultMaxAttempts     = 4
	DefaultInitialInterval = 500 * time.Millisecond
	DefaultMaxInterval     = 8 * time.Second
	DefaultMultiplier      = 2.0
	DefaultMaxHint         = 60 * time.Second
	DefaultMaxBodyBuffer   = 4 << 20
)

// Policy says how often and how patiently a call is retried.
// The zero value is the default policy; see each field for what zero means.
type Policy struct {
	// MaxAttempts is the number of attempts in total, the first included.
	// Zero means DefaultMaxAttempts (4); 1 means never retry.
	MaxAttempts int

	// InitialInterval is the backoff ceiling before the first retry; the
	// actual wait is drawn uniformly from [0, ceiling] (full jitter).
	// Zero means DefaultInitialInterval (0.5 s).
	InitialInterval time.Duration

	// MaxInterval caps the backoff ceiling. Zero means DefaultMaxInterval
	// (8 s), or InitialInterval when that is longer. It must not be below
	// InitialInterval.
	MaxInterval time.Duration

	// Multiplier grows the ceiling after each retry. Zero means
	// DefaultMultiplier (2); otherwise it must be at least 1.
	Multiplier float64

	// MaxHint is the longest server hint (Retry-After, retry-after-ms,
	// x-ratelimit-reset-*) that is waited out. A response asking for longer
	// is returned to the caller at once. Zero means DefaultMaxHint (60 s).
	MaxHint time.Duration

	// AttemptTimeout bounds each attempt, up to the response headers and the
	// classifier's bounded peek; an attempt that runs out is retryable.
	// Zero means no per-attempt limit (the caller's context still applies).
	AttemptTimeout time.Duration

	// MaxBodyBuffer is how many bytes of a request body without GetBody are
	// buffered so they can be replayed. A larger body is sent once and never
	// retried. Zero means DefaultMaxBodyBuffer (4 MiB); negative means never
	// buffer (such bodies get one attempt).
	MaxBodyBuffer int64

	// Budget limits retries across calls. The zero value is the default
	// budget (20% of recent requests plus a floor).
	Budget Budget
}

// ErrInvalidPolicy is wrapped by every error Validate returns.
var ErrInvalidPolicy = errors.New("retry: invalid policy")

// Validate reports the first invalid field, if any. Zero fields are valid:
// they take their defaults.
func (p Policy) Validate() error {
	switch {
	case p.MaxAttempts < 0:
		return invalid("MaxAttempts is %d; want 0 (default %d) or more", p.MaxAttempts, DefaultMaxAttempts)
	case p.InitialInterval < 0:
		return invalid("InitialInterval is %v; want 0 (default) or more", p.InitialInterval)
	case p.MaxInterval < 0:
		return invalid("MaxInterval is %v; want 0 (default) or more", p.MaxInterval)
	case p.Multiplier != 0 && !(p.Multiplier >= 1): // also rejects NaN
		return invalid("Multiplier is %v; want 0 (default %v) or at least 1", p.Multiplier, DefaultMultiplier)
	case p.MaxHint < 0:
		return invalid("MaxHint is %v; want 0 (default) or more", p.MaxHint)
	case p.AttemptTimeout < 0:
		return invalid("AttemptTimeout is %v; want 0 (none) or more", p.AttemptTimeout)
	}
	if d := p.WithDefaults(); d.MaxInterval < d.InitialInterval {
		return invalid("MaxInterval %v is below InitialInterval %v", d.MaxInterval, d.InitialInterval)
	}
	return p.Budget.Validate()
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalidPolicy}, args...)...)
}

// WithDefaults returns p with every zero field set to its default. It is the
// one place defaults are applied.
func (p Policy) WithDefaults() Policy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultMaxAttempts
	}
	if p.InitialInterval == 0 {
		p.InitialInterval = DefaultInitialInterval
	}
	if p.MaxInterval == 0 {
		p.MaxInterval = max(DefaultMaxInterval, p.InitialInterval)
	}
	if p.Multiplier == 0 {
		p.Multiplier = DefaultMultiplier
	}
	if p.MaxHint == 0 {
		p.MaxHint = DefaultMaxHint
	}
	if p.MaxBodyBuffer == 0 {
		p.MaxBodyBuffer = DefaultMaxBodyBuffer
	}
	p.Budget = p.Budget.WithDefaults()
	return p
}
