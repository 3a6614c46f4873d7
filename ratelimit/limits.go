package ratelimit

import (
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
)

// Defaults applied by New for the zero fields of Limits.
const (
	DefaultMaxKeys = 1024
	DefaultIdleTTL = 10 * time.Minute
)

// maxDefaultBurst bounds the burst derived from a Rate when Burst is zero,
// so that an absurd Rate cannot overflow int.
const maxDefaultBurst = 1 << 30

// A Limit is a token bucket: Rate requests per second on average, and up to
// Burst requests at once after a quiet spell; and, when Tokens is set, a
// second bucket for the tokens the requests are estimated to cost (a
// provider's TPM beside its RPM).
//
// The zero Limit, and any Limit whose Rate is [rate.Inf] and Tokens zero,
// is no limit.
type Limit struct {
	// Rate is the number of requests per second. Zero, with Burst zero,
	// means no limit; zero with a positive Burst is invalid (it would
	// allow Burst requests in all and then none). rate.Inf (or +Inf) means
	// no limit.
	Rate rate.Limit

	// Burst is the most requests sent at once. Zero means ceil(Rate), and
	// at least 1, so that requests are spread evenly over each second.
	Burst int

	// Tokens is the number of tokens per second the key's requests may
	// cost, each request charged its estimated cost before it is sent.
	// Zero means no token limit; rate.Inf is invalid (leave it zero).
	Tokens rate.Limit

	// TokenBurst is the most tokens spent at once, and the largest cost a
	// single request may have: a larger one fails at once with a
	// *CostError. Zero means a minute's worth, 60·Tokens, which is how
	// providers state a TPM limit.
	TokenBurst int
}

// WithTokensPerMinute returns l limited to n tokens per minute as well
// (Tokens n/60, TokenBurst zero: a whole minute's worth may go at once), as
// in PerMinute(500).WithTokensPerMinute(30000). n ≤ 0 removes the token
// limit.
func (l Limit) WithTokensPerMinute(n int) Limit {
	l.Tokens, l.TokenBurst = 0, 0
	if n > 0 {
		l.Tokens = rate.Limit(n) / 60
	}
	return l
}

// Bursts returns Burst and TokenBurst with their defaults applied (zero
// for what l does not limit).
func (l Limit) Bursts() (requests, tokens int) { return l.burst(), l.tokenBurst() }

// tokenBurst returns l.TokenBurst with its default applied; zero when l has
// no token limit.
func (l Limit) tokenBurst() int {
	if l.Tokens <= 0 {
		return 0
	}
	if l.TokenBurst > 0 {
		return l.TokenBurst
	}
	// Less a rounding error (n/60·60 is n), and at least one token, as
	// burst is at least one request.
	return int(max(1, min(math.Ceil(60*float64(l.Tokens)-1e-6), maxDefaultBurst)))
}

// PerMinute returns the Limit of n requests per minute, the unit most
// providers state their limits in. Its Burst is zero, so requests are spread
// evenly: PerMinute(60) lets one request through each second. PerMinute(0)
// is the zero Limit, which is no limit; a negative n is invalid.
func PerMinute(n int) Limit {
	return Limit{Rate: rate.Limit(n) / 60}
}

// unlimited reports whether l limits nothing.
func (l Limit) unlimited() bool {
	return l.requestsUnlimited() && l.Tokens == 0
}

// requestsUnlimited reports whether l limits no requests (it may limit
// tokens).
func (l Limit) requestsUnlimited() bool {
	return l.Rate == rate.Inf || math.IsInf(float64(l.Rate), 1) || (l.Rate == 0 && l.Burst == 0)
}

// burst returns l.Burst with its default applied.
func (l Limit) burst() int {
	if l.Burst > 0 || l.requestsUnlimited() {
		return l.Burst
	}
	b := math.Ceil(float64(l.Rate))
	switch {
	case b < 1:
		return 1
	case b > maxDefaultBurst:
		return maxDefaultBurst
	}
	return int(b)
}

func (l Limit) validate() error {
	switch {
	case math.IsNaN(float64(l.Rate)):
		return errors.New("invalid Rate NaN")
	case l.Rate < 0:
		return fmt.Errorf("negative Rate %v", float64(l.Rate))
	case l.Burst < 0:
		return fmt.Errorf("negative Burst %d", l.Burst)
	case l.Rate == 0 && l.Burst > 0:
		return fmt.Errorf("zero Rate with Burst %d would allow %d requests in all; set a Rate, or leave both zero for no limit", l.Burst, l.Burst)
	case math.IsNaN(float64(l.Tokens)):
		return errors.New("invalid Tokens NaN")
	case l.Tokens == rate.Inf || math.IsInf(float64(l.Tokens), 1):
		return errors.New("invalid Tokens rate.Inf (leave it zero for no token limit)")
	case l.Tokens < 0:
		return fmt.Errorf("negative Tokens %v", float64(l.Tokens))
	case l.TokenBurst < 0:
		return fmt.Errorf("negative TokenBurst %d", l.TokenBurst)
	case l.Tokens == 0 && l.TokenBurst > 0:
		return fmt.Errorf("zero Tokens with TokenBurst %d would allow %d tokens in all; set Tokens, or leave both zero for no token limit", l.TokenBurst, l.TokenBurst)
	}
	return nil
}

// A Rule gives the keys that match Pattern their own Limit.
type Rule struct {
	// Pattern is matched against the whole key, case-sensitively. '*'
	// matches any run of characters, including none and including '/':
	// "*/gpt-4o*" matches "api.openai.com/gpt-4o-mini", and
	// "api.openai.com/*" matches every model on that host but not the bare
	// key "api.openai.com". Every other character matches only itself.
	// An empty Pattern is invalid.
	Pattern string

	// Limit applies to the matching keys. The zero Limit exempts them from
	// Limits.Default.
	Limit Limit
}

// Limits configures a Set. The zero Limits limits no key.
type Limits struct {
	// Default applies to keys that no Rule matches. The zero Limit means
	// such keys are not limited.
	Default Limit

	// Rules give matching keys their own Limit. They are tried in order
	// and the first match wins. A key's Limit is resolved once, when the
	// Set first sees the key.
	Rules []Rule

	// MaxKeys bounds how many keys the Set holds state for. When it is
	// full, idle and least recently used keys are forgotten: a forgotten
	// key starts again with a full burst. Zero means
	// DefaultMaxKeys.
	MaxKeys int

	// IdleTTL is how long an unused key's state is kept once the Set is
	// full. Zero means DefaultIdleTTL.
	IdleTTL time.Duration
}

// Validate reports every invalid field of l: a negative or NaN Rate, a
// negative Burst, a zero Rate with a positive Burst, a negative, NaN or
// infinite Tokens, a negative TokenBurst, a zero Tokens with a positive
// TokenBurst, an empty or repeated Rule Pattern (a repeat can never match),
// and negative MaxKeys or IdleTTL. It returns nil when l is valid.
func (l Limits) Validate() error {
	var errs []error
	if err := l.Default.validate(); err != nil {
		errs = append(errs, fmt.Errorf("ratelimit: Default: %w", err))
	}
	seen := make(map[string]int, len(l.Rules))
	for i, r := range l.Rules {
		if r.Pattern == "" {
			errs = append(errs, fmt.Errorf("ratelimit: Rules[%d]: empty Pattern", i))
		} else if j, ok := seen[r.Pattern]; ok {
			errs = append(errs, fmt.Errorf("ratelimit: Rules[%d]: Pattern %q repeats Rules[%d] and can never match", i, r.Pattern, j))
		} else {
			seen[r.Pattern] = i
		}
		if err := r.Limit.validate(); err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: Rules[%d] (%q): %w", i, r.Pattern, err))
		}
	}
	if l.MaxKeys < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: negative MaxKeys %d", l.MaxKeys))
	}
	if l.IdleTTL < 0 {
		errs = append(errs, fmt.Errorf("ratelimit: negative IdleTTL %v", l.IdleTTL))
	}
	return errors.Join(errs...)
}

// Enabled reports whether l limits any key.
func (l Limits) Enabled() bool {
	if !l.Default.unlimited() {
		return true
	}
	for _, r := range l.Rules {
		if !r.Limit.unlimited() {
			return true
		}
	}
	return false
}

// Tokens reports whether l limits the tokens of any key, so that requests
// must be given a cost.
func (l Limits) Tokens() bool {
	if l.Default.Tokens > 0 {
		return true
	}
	for _, r := range l.Rules {
		if r.Limit.Tokens > 0 {
			return true
		}
	}
	return false
}

// withDefaults returns l with every zero field replaced by its default. It
// is the one place defaults are applied.
func (l Limits) withDefaults() Limits {
	if l.MaxKeys == 0 {
		l.MaxKeys = DefaultMaxKeys
	}
	if l.IdleTTL == 0 {
		l.IdleTTL = DefaultIdleTTL
	}
	return l
}
