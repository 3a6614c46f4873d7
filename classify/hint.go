package classify

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// MaxHint is the longest wait a hint can ask for. Larger values, however
// large, are clamped to it rather than overflowing, so that a retry layer sees
// a wait longer than its cap and gives up instead of retrying at once.
const MaxHint = 365 * 24 * time.Hour

// ParseRetryAfter returns how long the headers h of a response ask the client
// to wait before it retries, and whether they asked at all. It consults, in
// order, the first one that parses:
//
//   - retry-after-ms: milliseconds, a decimal number such as "1500" or
//     "20.5" (OpenAI);
//   - Retry-After: seconds ("120", or "1.5" from lenient servers), or an
//     HTTP-date, which is measured from now;
//   - x-ratelimit-reset-requests and x-ratelimit-reset-tokens: Go duration
//     strings such as "1s", "6m0s" or "1m30.5s" (OpenAI); when an
//     x-ratelimit-remaining-* header says "0" its reset is used, else the
//     larger of the two.
//
// If now is the zero Time, the response's Date header is the reference for
// an HTTP-date, so the server's clock decides, and without one the current
// time. A date in the past yields 0 and true: retry now. Negative values,
// NaN, unknown units and other garbage are ignored; values above MaxHint
// yield MaxHint.
//
// Classify fills Decision.RetryAfter the same way, but it consults the reset
// headers only for 429 responses, because services send them on every
// response.
func ParseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if now.IsZero() {
		now = serverNow(h)
	}
	return parseHints(h, now, true)
}

func parseHints(h http.Header, now time.Time, resets bool) (time.Duration, bool) {
	if d, ok := parseRetryAfterMs(h.Get("Retry-After-Ms")); ok {
		return d, true
	}
	if d, ok := parseRetryAfter(h.Get("Retry-After"), now); ok {
		return d, true
	}
	if resets {
		return parseResets(h)
	}
	return 0, false
}

// serverNow returns the time of the response's Date header, or the current
// time when there is none.
func serverNow(h http.Header) time.Time {
	if v := h.Get("Date"); v != "" {
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return time.Now()
}

// parseRetryAfterMs parses a retry-after-ms value.
func parseRetryAfterMs(v string) (time.Duration, bool) {
	return parseDecimal(v, float64(time.Millisecond))
}

// parseRetryAfter parses a Retry-After value: delta-seconds or an HTTP-date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if d, ok := parseDecimal(v, float64(time.Second)); ok {
		return d, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return clampHint(t.Sub(now)), true
}

// parseDecimal parses an unsigned decimal number of units ("12", "1.5"),
// rounding up to the nanosecond: a hint is never shortened.
func parseDecimal(v string, unit float64) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	digits, dot := 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case '0' <= c && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64) // only +Inf can fail now
	if err != nil || f*unit >= float64(MaxHint) {
		return MaxHint, true
	}
	return time.Duration(math.Ceil(f * unit)), true
}

// parseResets picks the wait from the x-ratelimit-reset-* headers.
func parseResets(h http.Header) (time.Duration, bool) {
	var best time.Duration
	var ok, exhausted bool
	for _, k := range [...][2]string{
		{"X-Ratelimit-Reset-Requests", "X-Ratelimit-Remaining-Requests"},
		{"X-Ratelimit-Reset-Tokens", "X-Ratelimit-Remaining-Tokens"},
	} {
		d, valid := parseReset(h.Get(k[0]))
		if !valid {
			continue
		}
		ex := strings.TrimSpace(h.Get(k[1])) == "0"
		switch {
		case ex && !exhausted:
			best, ok, exhausted = d, true, true
		case ex == exhausted && (!ok || d > best):
			best, ok = d, true
		}
	}
	return best, ok
}

// parseReset parses an x-ratelimit-reset-* value, a Go duration string.
func parseReset(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	d, err := time.ParseDuration(v)
	switch {
	case err != nil && isDurationSyntax(v): // well formed, but too long for a Duration
		return MaxHint, true
	case err != nil || d < 0:
		return 0, false
	}
	return clampHint(d), true
}

// isDurationSyntax reports whether s has the unsigned form time.ParseDuration
// accepts, one or more decimal numbers each with a unit, whatever their size.
func isDurationSyntax(s string) bool {
	if s == "" {
		return false
	}
	for s != "" {
		i, digits := 0, 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			digits++
		}
		if i < len(s) && s[i] == '.' {
			for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
				digits++
			}
		}
		if digits == 0 {
			return false
		}
		s = s[i:]
		j := 0
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		switch s[:j] {
		case "ns", "us", "µs", "μs", "ms", "s", "m", "h":
		default:
			return false
		}
		s = s[j:]
	}
	return true
}

// clampHint bounds a wait to [0, MaxHint].
func clampHint(d time.Duration) time.Duration {
	return max(0, min(d, MaxHint))
}
