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
// to wait before it retries, and whether they asked at all. The explicit
// hints are
//
//   - retry-after-ms (OpenAI) and x-ms-retry-after-ms (Azure): milliseconds,
//     a decimal number such as "1500" or "20.5";
//   - Retry-After: seconds ("120", or "1.5" from lenient servers), or an
//     HTTP-date, which is measured from now.
//
// Each may be repeated or hold a comma-separated list ("1, 5"). When several
// explicit hints parse, the largest wins, so the wait is never earlier than
// any of them says. Only when none parses are the reset headers consulted:
//
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
	// The keys are in canonical form, so indexing h is what h.Values does.
	var best time.Duration
	var ok bool
	for _, k := range [...]string{"Retry-After-Ms", "X-Ms-Retry-After-Ms"} {
		for _, v := range h[k] {
			d, valid := parseRetryAfterMs(v)
			best, ok = larger(best, ok, d, valid)
		}
	}
	for _, v := range h["Retry-After"] {
		d, valid := parseRetryAfter(v, now)
		best, ok = larger(best, ok, d, valid)
	}
	if !ok && resets {
		return parseResets(h)
	}
	return best, ok
}

// larger returns the larger of two hints, each with whether it was given.
func larger(a time.Duration, aok bool, b time.Duration, bok bool) (time.Duration, bool) {
	if bok && (!aok || b > a) {
		return b, true
	}
	return a, aok
}

// serverNow returns the time of the response's Date header, or the current
// time when there is none.
func serverNow(h http.Header) time.Time {
	if v := h.Get("Date"); v != "" {
		if t, ok := parseIMFFixdate(v); ok {
			return t
		}
		if t, err := http.ParseTime(v); err == nil {
			return t
		}
	}
	return time.Now()
}

// parseRetryAfterMs parses a retry-after-ms or x-ms-retry-after-ms value:
// milliseconds, or a list of them, of which it returns the largest.
func parseRetryAfterMs(v string) (best time.Duration, ok bool) {
	for i := 0; i <= len(v); {
		j := commaAt(v, i)
		d, valid := parseDecimal(v[i:j], float64(time.Millisecond))
		best, ok = larger(best, ok, d, valid)
		i = j + 1
	}
	return best, ok
}

// parseRetryAfter parses a Retry-After value: delta-seconds or an HTTP-date,
// or a list of them, of which it returns the largest.
func parseRetryAfter(v string, now time.Time) (best time.Duration, ok bool) {
	for i := 0; i <= len(v); {
		j := commaAt(v, i)
		d, valid := parseRetryAfterItem(v[i:j], now)
		if !valid && j < len(v) {
			// An HTTP-date holds a comma after the name of the day.
			k := commaAt(v, j+1)
			if d, valid = parseRetryAfterItem(v[i:k], now); valid {
				j = k
			}
		}
		best, ok = larger(best, ok, d, valid)
		i = j + 1
	}
	return best, ok
}

// parseRetryAfterItem parses one delta-seconds or HTTP-date.
func parseRetryAfterItem(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if d, ok := parseDecimal(v, float64(time.Second)); ok {
		return d, true
	}
	t, ok := parseIMFFixdate(v)
	if !ok {
		if !hasDigit(v) {
			return 0, false // not a date; spare http.ParseTime's errors
		}
		var err error
		if t, err = http.ParseTime(v); err != nil {
			return 0, false
		}
	}
	return clampHint(t.Sub(now)), true
}

// commaAt returns the index of the first comma in v at or after i, or len(v).
func commaAt(v string, i int) int {
	if j := strings.IndexByte(v[i:], ','); j >= 0 {
		return i + j
	}
	return len(v)
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if '0' <= s[i] && s[i] <= '9' {
			return true
		}
	}
	return false
}

// parseDecimal parses an unsigned decimal number of units ("12", "1.5"),
// rounding up to the nanosecond: a hint is never shortened.
func parseDecimal(v string, unit float64) (time.Duration, bool) {
	f, ok := parseUnsigned(strings.TrimSpace(v))
	if !ok {
		return 0, false
	}
	return scaleHint(f, unit), true
}

// parseUnsigned parses an unsigned decimal number without exponent, sign or
// other spelling strconv.ParseFloat would accept ("12", "1.5", ".5", "5.").
// A number too large for a float64 is +Inf.
func parseUnsigned(v string) (float64, bool) {
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
	f, err := strconv.ParseFloat(v, 64) // only a range error can happen now
	if err != nil {
		return math.Inf(1), true
	}
	return f, true
}

// scaleHint returns f units as a hint, rounded up to the nanosecond and at
// most MaxHint.
func scaleHint(f, unit float64) time.Duration {
	if f*unit >= float64(MaxHint) {
		return MaxHint
	}
	return time.Duration(math.Ceil(f * unit))
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
	return parseGoDuration(strings.TrimSpace(v))
}

// parseGoDuration parses s as time.ParseDuration does, without allocating,
// and saturates instead of failing: a well-formed duration above MaxHint,
// however large, yields MaxHint. Negative durations are refused, except
// zero ("-0s").
func parseGoDuration(s string) (time.Duration, bool) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg, s = s[0] == '-', s[1:]
	}
	if s == "0" {
		return 0, true
	}
	if s == "" {
		return 0, false
	}
	const limit = uint64(MaxHint)
	var total uint64 // at most limit, unless big
	big := false
	for s != "" {
		// The integer part, as ParseDuration reads it.
		i, v, digits := 0, uint64(0), 0
		for ; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
			digits++
			if v <= limit { // past limit the digits only count
				v = v*10 + uint64(s[i]-'0')
			}
		}
		// The fraction: the same digits ParseDuration keeps, so that its
		// rounding is reproduced to the nanosecond.
		var f uint64
		scale, overflow := 1.0, false
		if i < len(s) && s[i] == '.' {
			for i++; i < len(s) && '0' <= s[i] && s[i] <= '9'; i++ {
				digits++
				if overflow {
					continue
				}
				if f > (1<<63-1)/10 {
					overflow = true
					continue
				}
				y := f*10 + uint64(s[i]-'0')
				if y > 1<<63 {
					overflow = true
					continue
				}
				f, scale = y, scale*10
			}
		}
		if digits == 0 {
			return 0, false
		}
		s = s[i:]
		j := 0
		for j < len(s) && s[j] != '.' && (s[j] < '0' || s[j] > '9') {
			j++
		}
		var unit uint64
		switch s[:j] {
		case "ns":
			unit = uint64(time.Nanosecond)
		case "us", "µs", "μs": // U+00B5 and U+03BC
			unit = uint64(time.Microsecond)
		case "ms":
			unit = uint64(time.Millisecond)
		case "s":
			unit = uint64(time.Second)
		case "m":
			unit = uint64(time.Minute)
		case "h":
			unit = uint64(time.Hour)
		default:
			return 0, false
		}
		s = s[j:]
		if big || v > limit/unit {
			big = true
			continue
		}
		v *= unit
		if f > 0 {
			v += uint64(float64(f) * (float64(unit) / scale))
		}
		if total += v; total > limit {
			big = true
		}
	}
	switch {
	case neg && (big || total != 0):
		return 0, false
	case big:
		return MaxHint, true
	}
	return time.Duration(total), true
}

// parseIMFFixdate parses an HTTP-date in the form servers must send,
// "Sun, 06 Nov 1994 08:49:37 GMT", without allocating. Other forms, which
// http.ParseTime also accepts, are reported as not parsed.
func parseIMFFixdate(s string) (time.Time, bool) {
	if len(s) != len(http.TimeFormat) || s[3] != ',' || s[4] != ' ' || s[7] != ' ' || s[11] != ' ' ||
		s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25:] != " GMT" {
		return time.Time{}, false
	}
	if wd := strings.Index("SunMonTueWedThuFriSat", s[:3]); wd < 0 || wd%3 != 0 {
		return time.Time{}, false
	}
	month := strings.Index("JanFebMarAprMayJunJulAugSepOctNovDec", s[8:11])
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	hour, ok3 := digits(s[17:19])
	minute, ok4 := digits(s[20:22])
	sec, ok5 := digits(s[23:25])
	if month < 0 || month%3 != 0 || !(ok1 && ok2 && ok3 && ok4 && ok5) {
		return time.Time{}, false
	}
	return civil(year, time.Month(month/3+1), day, hour, minute, sec, 0)
}

// civil returns the UTC time of a calendar date and clock time, and whether
// each is in range (no leap seconds, no February 30). It costs a few
// integer operations, where time.Date costs a hundred nanoseconds.
func civil(year int, month time.Month, day, hour, minute, sec, nsec int) (time.Time, bool) {
	if month < time.January || month > time.December || day < 1 || day > daysIn(month, year) ||
		hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	// Days since 1970-01-01 of the proleptic Gregorian calendar, counted
	// in years that start on March 1 so that leap days come last.
	y, m := year, int(month)
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 {
		era = (y - 399) / 400
	}
	yoe := y - era*400
	doy := (153*((m+9)%12)+2)/5 + day - 1
	days := era*146097 + yoe*365 + yoe/4 - yoe/100 + doy - 719468
	return time.Unix(int64(days)*86400+int64(hour*3600+minute*60+sec), int64(nsec)).UTC(), true
}

// daysIn returns the number of days in month of year.
func daysIn(month time.Month, year int) int {
	if month == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + int((month+month/8)%2)
}

// digits parses a run of decimal digits of at most 9 bytes.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, s != ""
}

// clampHint bounds a wait to [0, MaxHint].
func clampHint(d time.Duration) time.Duration {
	return max(0, min(d, MaxHint))
}
