package classify

import (
	"math"
	"net/http"
	"strings"
	"time"
)

// Quota is what one response said about the caller's rate limits: for
// requests and for tokens, the window's capacity, what is left of it and
// when it is whole again. The zero Quota means the response said nothing.
//
// ParseQuota reads these headers, found as http.Header.Get finds them:
//
//   - x-ratelimit-{limit,remaining,reset}-{requests,tokens}, sent by OpenAI,
//     Azure OpenAI, Groq and services that copy them: counts, and resets as
//     Go durations ("6m0s", "7.66s", "20ms") or seconds ("60", "0.5");
//   - anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-{limit,remaining,reset},
//     sent by Anthropic: counts, and resets as RFC 3339 times;
//   - RateLimit and RateLimit-Policy, the structured fields of
//     draft-ietf-httpapi-ratelimit-headers-11 ("default";r=50;t=30 and
//     "default";q=100;w=60): an item's r is what is left, its t the seconds
//     until the reset, and the q of the policy of the same name its limit;
//   - x-ratelimit-{limit,remaining}-req-minute and
//     x-ratelimit-{limit,remaining,reset}-tokens-minute, sent by Mistral
//     (without the reset) and Cerebras, with Cerebras's
//     x-ratelimit-{limit,remaining,reset}-requests-day (resets in seconds);
//   - x-ratelimit-{limit,remaining,reset} (requests, the reset in seconds)
//     with x-tokenlimit-{limit,remaining} (tokens), sent by Together and,
//     for requests, by many other services;
//   - RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset (seconds),
//     the form of the draft's earlier versions that gateways still send.
//
// A family is read when it says what is left of one of its windows: its
// x-ratelimit-remaining-requests or -tokens header, its
// anthropic-ratelimit-requests-remaining or -tokens-remaining header,
// the -req-minute, -tokens-minute or -requests-day ones,
// x-ratelimit-remaining or x-tokenlimit-remaining, its RateLimit-Remaining header or its RateLimit
// field. Limits and resets alone
// say nothing a caller can act on.
//
// A reset given as a plain number of at least 1e9 seconds (some 31 years) is
// taken for a Unix time, and one of at least 1e12 for a Unix time in
// milliseconds (as OpenRouter sends it). Values that do not parse,
// negative counts (Azure sends -1 for "unknown") and structured fields that
// are malformed are ignored; counts too large for an int64 saturate, and resets are clamped
// to [0, MaxHint].
//
// Where a response says more than one thing about a window (several
// families, several items or values, Anthropic's input and output tokens
// beside its total), the Window is the most constraining one: the least
// remaining, and between equals the latest reset. Items of the structured
// fields count as requests unless their policy's qu names another unit
// (content-bytes, concurrent-requests), in which case they are ignored: the
// draft defines no token unit.
//
// ParseQuota allocates nothing, so it can read every response, success
// included.
type Quota struct {
	// Requests is the request limit, such as requests per minute (RPM) or,
	// for Groq, per day.
	Requests Window

	// Tokens is the token limit, such as tokens per minute (TPM). For
	// Anthropic it is the most constraining of tokens, input tokens and
	// output tokens.
	Tokens Window
}

// Window is one limit as a response reported it.
type Window struct {
	// Limit is the window's capacity. Zero means the response did not say.
	Limit int64

	// Remaining is what is left of the window. It is meaningful only when
	// Known is true.
	Remaining int64

	// Reset is the time from the response until the window is whole again.
	// Zero means now, or that the response did not say.
	Reset time.Duration

	// Known reports whether the response said what is left, Remaining.
	Known bool
}

// ParseQuota returns what the headers h of a response say about the
// caller's rate limits; see Quota for the headers it reads. An RFC 3339
// reset is measured from now; if now is the zero Time, from the response's
// Date header, so the server's clock decides, and without one from the
// current time.
func ParseQuota(h http.Header, now time.Time) Quota {
	// Direct lookups of canonical keys, as http.Header.Get makes them: a
	// response without quota headers costs eleven, whatever its size. A family
	// is read when it says what is left of one of its windows.
	var q Quota
	c := clock{h: h, t: now}
	if rr, rt := h[openAIKeys[0].remaining], h[openAIKeys[1].remaining]; rr != nil || rt != nil {
		q.Requests = readWindow(h, &openAIKeys[0], rr, &c, false)
		q.Tokens = readWindow(h, &openAIKeys[1], rt, &c, false)
	}
	if ar, at := h[anthropicKeys[0].remaining], h[anthropicKeys[1].remaining]; ar != nil || at != nil {
		q.Requests = tighter(q.Requests, readWindow(h, &anthropicKeys[0], ar, &c, true))
		tokens := tighter(readWindow(h, &anthropicKeys[1], at, &c, true),
			tighter(readWindow(h, &anthropicKeys[2], h[anthropicKeys[2].remaining], &c, true),
				readWindow(h, &anthropicKeys[3], h[anthropicKeys[3].remaining], &c, true)))
		q.Tokens = tighter(q.Tokens, tokens)
	}
	for i := range otherKeys {
		if r := h[otherKeys[i].remaining]; r != nil {
			w := readWindow(h, &otherKeys[i].windowKeys, r, &c, false)
			if otherKeys[i].tokens {
				q.Tokens = tighter(q.Tokens, w)
			} else {
				q.Requests = tighter(q.Requests, w)
			}
		}
	}
	if r := h[draftKeys.remaining]; r != nil {
		q.Requests = tighter(q.Requests, readWindow(h, &draftKeys, r, &c, false))
	}
	if f := h["Ratelimit"]; f != nil {
		q.Requests = tighter(q.Requests, structured(f, h["Ratelimit-Policy"]))
	}
	return q
}

// windowKeys are the canonical names of the headers of one window.
type windowKeys struct{ limit, remaining, reset string }

var (
	openAIKeys = [...]windowKeys{
		{"X-Ratelimit-Limit-Requests", "X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests"},
		{"X-Ratelimit-Limit-Tokens", "X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens"},
	}
	anthropicKeys = [...]windowKeys{
		{"Anthropic-Ratelimit-Requests-Limit", "Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset"},
		{"Anthropic-Ratelimit-Tokens-Limit", "Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset"},
		{"Anthropic-Ratelimit-Input-Tokens-Limit", "Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset"},
		{"Anthropic-Ratelimit-Output-Tokens-Limit", "Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset"},
	}
	draftKeys = windowKeys{"Ratelimit-Limit", "Ratelimit-Remaining", "Ratelimit-Reset"}
	// The windows services name their own way, of requests unless tokens
	// is set. A window told without a reset (Mistral's, Together's tokens)
	// says what is left and the limit, which are seen but pace nothing.
	otherKeys = [...]struct {
		windowKeys
		tokens bool
	}{
		{windowKeys{"X-Ratelimit-Limit-Req-Minute", "X-Ratelimit-Remaining-Req-Minute", ""}, false},                                     // Mistral
		{windowKeys{"X-Ratelimit-Limit-Requests-Day", "X-Ratelimit-Remaining-Requests-Day", "X-Ratelimit-Reset-Requests-Day"}, false},   // Cerebras
		{windowKeys{"X-Ratelimit-Limit-Tokens-Minute", "X-Ratelimit-Remaining-Tokens-Minute", "X-Ratelimit-Reset-Tokens-Minute"}, true}, // Mistral, Cerebras
		{windowKeys{"X-Ratelimit-Limit", "X-Ratelimit-Remaining", "X-Ratelimit-Reset"}, false},                                          // Together, and many others
		{windowKeys{"X-Tokenlimit-Limit", "X-Tokenlimit-Remaining", ""}, true},                                                          // Together
	}
)

// readWindow reads the window whose headers are k, and whose remaining
// header has the values remaining (looked up already). Its resets are
// RFC 3339 times if times is true, else seconds, Unix times or Go durations.
func readWindow(h http.Header, k *windowKeys, remaining []string, c *clock, times bool) Window {
	var w Window
	w.Remaining, w.Known = leastCount(remaining)
	w.Limit, _ = leastCount(h[k.limit])
	if times {
		if t, ok := latestTime(h[k.reset]); ok {
			w.Reset = clampHint(t.Sub(c.now()))
		}
	} else {
		w.Reset = latestReset(h[k.reset], c)
	}
	return w
}

// clock is the reference time of resets given as times, found when first
// needed.
type clock struct {
	h http.Header
	t time.Time
}

func (c *clock) now() time.Time {
	if c.t.IsZero() {
		// Only the form servers must send, which parses without allocating.
		if v := c.h["Date"]; len(v) > 0 {
			c.t, _ = parseIMFFixdate(trimOWS(v[0]))
		}
		if c.t.IsZero() {
			c.t = time.Now()
		}
	}
	return c.t
}

// tighter returns the more constraining of two windows: the one that said
// what is left over one that did not, then the one with less left, then the
// later reset, then the smaller limit that is known.
func tighter(a, b Window) Window {
	switch {
	case a.Known != b.Known:
		if a.Known {
			return a
		}
		return b
	case a.Known && a.Remaining != b.Remaining:
		if a.Remaining < b.Remaining {
			return a
		}
		return b
	case a.Reset != b.Reset:
		if a.Reset > b.Reset {
			return a
		}
		return b
	case a.Limit == 0 || (b.Limit != 0 && b.Limit < a.Limit):
		return b
	}
	return a
}

// leastCount returns the smallest count among the values vs, each a count
// or a comma-separated list of counts, each possibly followed by
// parameters (";w=60", as RateLimit-Limit had them), which are ignored.
// Counts too large for an int64 saturate at math.MaxInt64.
func leastCount(vs []string) (least int64, ok bool) {
	for _, v := range vs {
		for i := 0; i <= len(v); i++ { // an element, up to a comma
			i = skipOWS(v, i)
			start, n := i, int64(0)
			for ; i < len(v) && '0' <= v[i] && v[i] <= '9'; i++ {
				if d := int64(v[i] - '0'); n <= (math.MaxInt64-d)/10 {
					n = n*10 + d
				} else {
					n = math.MaxInt64 // digits may follow; only syntax matters now
				}
			}
			valid := i > start
			if i = skipOWS(v, i); i < len(v) && v[i] != ',' && v[i] != ';' {
				valid = false
			}
			for i < len(v) && v[i] != ',' {
				i++
			}
			if valid && (!ok || n < least) {
				least, ok = n, true
			}
		}
	}
	return least, ok
}

// skipOWS returns the index of the first byte at or after i in s that is
// not optional white space (a space or a tab), or len(s).
func skipOWS(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// latestReset returns the latest reset among the values vs, each a reset or
// a comma-separated list of them: seconds, a Go duration, or a Unix time.
func latestReset(vs []string, c *clock) time.Duration {
	var best time.Duration
	for _, v := range vs {
		for i := 0; i <= len(v); {
			j := commaAt(v, i)
			if d, ok := parseQuotaReset(trimOWS(v[i:j]), c); ok {
				best = max(best, d)
			}
			i = j + 1
		}
	}
	return best
}

// unixThreshold is the smallest plain-number reset taken for a Unix time
// rather than seconds from now: 1e9 seconds is some 31 years, and the Unix
// time of September 2001.
const unixThreshold = 1e9

// unixMilliThreshold is the smallest plain-number reset taken for a Unix
// time in milliseconds: as a time in seconds it would be some 31,000 years
// off, and in milliseconds it is September 2001.
const unixMilliThreshold = 1e12

// parseQuotaReset parses one reset value: seconds ("60", "0.5"), a Unix
// time in seconds or milliseconds, or a Go duration ("6m0s").
func parseQuotaReset(v string, c *clock) (time.Duration, bool) {
	secs, ok := parseUnsigned(v)
	switch {
	case !ok:
		return parseGoDuration(v)
	case secs < unixThreshold:
		return scaleHint(secs, float64(time.Second)), true
	case secs >= 1<<62:
		return MaxHint, true
	case secs >= unixMilliThreshold:
		return clampHint(time.UnixMilli(int64(math.Ceil(secs))).Sub(c.now())), true
	}
	return clampHint(time.Unix(int64(math.Ceil(secs)), 0).Sub(c.now())), true
}

// latestTime returns the latest RFC 3339 time among the values vs, each a
// time or a comma-separated list of them.
func latestTime(vs []string) (best time.Time, ok bool) {
	for _, v := range vs {
		for i := 0; i <= len(v); {
			j := commaAt(v, i)
			if t, valid := parseRFC3339(trimOWS(v[i:j])); valid && (!ok || t.After(best)) {
				best, ok = t, true
			}
			i = j + 1
		}
	}
	return best, ok
}

// parseRFC3339 parses an RFC 3339 time such as "2025-02-24T22:25:32Z" or
// "2025-02-24T23:25:32.5+01:00" without allocating, as time.Parse with a
// numeric offset would.
func parseRFC3339(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
		(s[10] != 'T' && s[10] != 't' && s[10] != ' ') {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	rest, nsec := s[19:], 0
	if rest[0] == '.' {
		i, n := 1, 0
		for ; i < len(rest) && '0' <= rest[i] && rest[i] <= '9'; i++ {
			if n < 9 {
				nsec, n = nsec*10+int(rest[i]-'0'), n+1
			}
		}
		if i == 1 {
			return time.Time{}, false
		}
		for ; n < 9; n++ {
			nsec *= 10
		}
		rest = rest[i:]
	}
	offset := 0
	switch {
	case rest == "Z" || rest == "z":
	case len(rest) == len("+01:00") && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':':
		hh, ok1 := digits(rest[1:3])
		mm, ok2 := digits(rest[4:6])
		if !ok1 || !ok2 || hh > 23 || mm > 59 {
			return time.Time{}, false
		}
		if offset = (hh*60 + mm) * 60; rest[0] == '-' {
			offset = -offset
		}
	default:
		return time.Time{}, false
	}
	t, ok := civil(year, time.Month(month), day, hour, minute, sec, nsec)
	return t.Add(-time.Duration(offset) * time.Second), ok
}

// trimOWS trims the optional white space of HTTP, spaces and tabs.
func trimOWS(s string) string {
	for s != "" && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for s != "" && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// maxPolicies is how many RateLimit-Policy items ParseQuota keeps; a
// RateLimit item whose policy is past them counts as requests, without a
// limit.
const maxPolicies = 8

// structured returns the request window that the values of the RateLimit
// field say, with the limits of the RateLimit-Policy field: the item with
// the least left.
func structured(field, policyField []string) Window {
	type policy struct {
		name     string
		quota    int64
		requests bool
	}
	var policies [maxPolicies]policy
	n := 0
	for l := (sfList{lines: policyField}); ; {
		it, ok := l.next()
		if !ok {
			if l.bad {
				n = 0 // a malformed field is ignored
			}
			break
		}
		if it.q >= 0 && n < len(policies) {
			policies[n] = policy{it.name, it.q, it.unit == "" || it.unit == "requests" || it.unit == "request"}
			n++
		}
	}
	var best Window
	for l := (sfList{lines: field}); ; {
		it, ok := l.next()
		if !ok {
			if l.bad {
				return Window{}
			}
			return best
		}
		if it.r < 0 {
			continue
		}
		w := Window{Remaining: it.r, Known: true}
		if it.t >= 0 {
			w.Reset = clampHint(time.Duration(min(it.t, int64(MaxHint/time.Second))) * time.Second)
		}
		requests := true
		for _, p := range policies[:n] {
			if p.name == it.name {
				w.Limit, requests = p.quota, p.requests
				break
			}
		}
		if requests {
			best = tighter(best, w)
		}
	}
}

// sfItem is what ParseQuota reads of a member of a structured field list
// (RFC 9651): its value as sent, such as `"default"`, and the parameters of
// RateLimit and RateLimit-Policy, each -1 (or "") when absent or not a
// non-negative integer (or not a string).
type sfItem struct {
	name    string
	r, t, q int64
	unit    string // qu, between its quotes
}

// sfList parses a structured field list, field line after field line,
// member after member, without allocating.
type sfList struct {
	lines []string
	s     string // what is left of the current line
	bad   bool   // the field is malformed
}

// next returns the next member of the list, or false at the end of the
// list or at the first syntax error, which sets l.bad.
func (l *sfList) next() (sfItem, bool) {
	for l.s == "" {
		if len(l.lines) == 0 || l.bad {
			return sfItem{}, false
		}
		l.s, l.lines = trimOWS(l.lines[0]), l.lines[1:]
	}
	it := sfItem{r: -1, t: -1, q: -1}
	var ok bool
	if l.s[0] == '(' { // an inner list: well formed, but neither a limit nor a policy
		var ignored sfItem
		ok = l.innerList() && l.params(&ignored)
	} else {
		it.name, _, _, ok = l.bareItem()
		ok = ok && l.params(&it)
	}
	if ok {
		l.s = trimOWS(l.s)
		if l.s != "" {
			if l.s[0] != ',' {
				ok = false
			} else if l.s = trimOWS(l.s[1:]); l.s == "" {
				ok = false // a trailing comma
			}
		}
	}
	if !ok {
		l.bad, l.s = true, ""
		return sfItem{}, false
	}
	return it, true
}

// innerList consumes an inner list and reports whether it is well formed.
func (l *sfList) innerList() bool {
	l.s = l.s[1:]
	for {
		for l.s != "" && l.s[0] == ' ' {
			l.s = l.s[1:]
		}
		if l.s == "" {
			return false
		}
		if l.s[0] == ')' {
			l.s = l.s[1:]
			return true
		}
		var it sfItem
		if _, _, _, ok := l.bareItem(); !ok || !l.params(&it) {
			return false
		}
		if l.s == "" || (l.s[0] != ' ' && l.s[0] != ')') {
			return false
		}
	}
}

// Kinds of bare items that ParseQuota tells apart.
const (
	sfOther = iota
	sfInteger
	sfString
)

// bareItem consumes a bare item and returns it as sent, its kind, the
// value of a non-negative integer (else -1), and whether it is well formed.
func (l *sfList) bareItem() (v string, kind int, n int64, ok bool) {
	s := l.s
	i := 0
	n = -1
	switch c := s[0]; {
	case c == '-' || isDigit(c):
		if c == '-' {
			i++
		}
		start, dot, frac, x := i, -1, 0, int64(0)
		for ; i < len(s) && (isDigit(s[i]) || (s[i] == '.' && dot < 0)); i++ {
			switch {
			case s[i] == '.':
				dot = i
			case dot >= 0:
				frac++
			case i-start < 15:
				x = x*10 + int64(s[i]-'0')
			}
		}
		switch {
		case i == start || !isDigit(s[start]):
			return "", 0, -1, false
		case dot < 0:
			if i-start > 15 {
				return "", 0, -1, false
			}
			if kind = sfInteger; c != '-' {
				n = x
			}
		case dot-start > 12 || frac == 0 || frac > 3:
			return "", 0, -1, false
		}
	case c == '"':
		if i = sfStringEnd(s, 1); i < 0 {
			return "", 0, -1, false
		}
		kind = sfString
	case c == '%': // a display string
		if len(s) < 2 || s[1] != '"' {
			return "", 0, -1, false
		}
		for i = 2; ; i++ {
			if i >= len(s) || s[i] < 0x20 || s[i] > 0x7e {
				return "", 0, -1, false
			}
			if s[i] == '"' {
				i++
				break
			}
			if s[i] == '%' && (i+2 >= len(s) || !isLowerHex(s[i+1]) || !isLowerHex(s[i+2])) {
				return "", 0, -1, false
			}
		}
	case c == ':': // a byte sequence
		for i = 1; i < len(s) && s[i] != ':'; i++ {
			if !isBase64(s[i]) {
				return "", 0, -1, false
			}
		}
		if i == len(s) {
			return "", 0, -1, false
		}
		i++
	case c == '?': // a boolean
		if len(s) < 2 || (s[1] != '0' && s[1] != '1') {
			return "", 0, -1, false
		}
		i = 2
	case c == '@': // a date
		for i = 1; i < len(s) && (isDigit(s[i]) || (i == 1 && s[i] == '-')); i++ {
		}
		if n := i - 1 - btoi(len(s) > 1 && s[1] == '-'); n < 1 || n > 15 {
			return "", 0, -1, false
		}
	case isAlpha(c) || c == '*': // a token
		for i = 1; i < len(s) && (isTchar(s[i]) || s[i] == ':' || s[i] == '/'); i++ {
		}
	default:
		return "", 0, -1, false
	}
	v, l.s = s[:i], s[i:]
	return v, kind, n, true
}

// sfStringEnd returns the index just past the string whose content starts
// at s[i], or -1 if it is malformed.
func sfStringEnd(s string, i int) int {
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			if i++; i == len(s) || (s[i] != '"' && s[i] != '\\') {
				return -1
			}
		case c == '"':
			return i + 1
		case c < 0x20 || c > 0x7e:
			return -1
		}
	}
	return -1
}

// params consumes the parameters of an item and records those of it that
// RateLimit and RateLimit-Policy define.
func (l *sfList) params(it *sfItem) bool {
	for l.s != "" && l.s[0] == ';' {
		i := 1
		for i < len(l.s) && l.s[i] == ' ' {
			i++
		}
		l.s = l.s[i:]
		if l.s == "" || !(isLower(l.s[0]) || l.s[0] == '*') {
			return false
		}
		for i = 1; i < len(l.s) && isKeyChar(l.s[i]); i++ {
		}
		key := l.s[:i]
		l.s = l.s[i:]
		v, kind, n := "?1", sfOther, int64(-1)
		if l.s != "" && l.s[0] == '=' {
			l.s = l.s[1:]
			if l.s == "" || l.s[0] == '(' {
				return false
			}
			var ok bool
			if v, kind, n, ok = l.bareItem(); !ok {
				return false
			}
		}
		switch key { // a parameter given twice counts as given last
		case "r":
			it.r = n
		case "t":
			it.t = n
		case "q":
			it.q = n
		case "qu":
			it.unit = ""
			if kind == sfString {
				it.unit = v[1 : len(v)-1]
			}
		}
	}
	return true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isLower(c byte) bool { return 'a' <= c && c <= 'z' }
func isKeyChar(c byte) bool {
	return isLower(c) || isDigit(c) || c == '_' || c == '-' || c == '.' || c == '*'
}
func isAlpha(c byte) bool    { return isLower(c) || ('A' <= c && c <= 'Z') }
func isLowerHex(c byte) bool { return isDigit(c) || ('a' <= c && c <= 'f') }
func isBase64(c byte) bool   { return isAlpha(c) || isDigit(c) || c == '+' || c == '/' || c == '=' }
func isTchar(c byte) bool {
	return isAlpha(c) || isDigit(c) || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
