package classify

import "strings"

// keyPrefixes are the prefixes of the API keys Redact knows, longest first
// where one is a prefix of another. Short, common-looking prefixes count only
// at the start of a word or after an underscore, so that "task-force" keeps
// its "sk-" and "req_sk-proj-…" loses its key.
var keyPrefixes = [...]struct {
	prefix    string
	wordStart bool
}{
	{"ik_live_", false},
	{"ik_sdk_", false},
	{"ik_pub_", false},
	{"sk-ant-", true},
	{"sk-proj-", true},
	{"sk-", true},
	{"gsk_", true}, // Groq
	{"AIza", true}, // Google, as in Gemini's ?key= query parameter
}

// authSchemes are the Authorization schemes whose name Redact keeps.
var authSchemes = [...]string{"bearer", "basic", "token"}

const ellipsis = "…"

// Redact returns s with the value of every API key and bearer token cut
// down to its prefix and an ellipsis: "ik_live_proj1234… is a data key"
// becomes "ik_live_… is a data key", "Authorization: Bearer abc.def" becomes
// "Authorization: Bearer …". It knows the prefixes ik_live_, ik_sdk_,
// ik_pub_, sk-ant-, sk-proj-, sk-, gsk_ and AIza (the last five at the
// start of a word or after an underscore, as in "req_sk-proj-…"), "Bearer " in any case (at the start of a word), and
// the value of an "Authorization:" or "Authorization=" in any case, after
// its scheme (Bearer, Basic or Token) if it has one. A value is the run of
// ASCII letters, digits, "_-.~+/=" and "…" after the prefix, less any
// trailing dots; a prefix with no value, as in "an ik_sdk_ token", is left
// alone.
//
// Percent-encoded text, as in a URL or a form, is redacted alike, encoded
// once or twice: an escape such as %20 or %2520 counts as the byte it
// encodes where a word starts or ends, between "Bearer" or "Authorization:"
// and its value, and in a value ("Bearer%20sk-…", "key%3DAIza…", values
// with %2B or %2F in them).
//
// Redact returns s itself, without allocating, when there is nothing to
// redact.
func Redact(s string) string {
	var b strings.Builder
	done := 0 // s[:done] is written to b, redacted
	for i := 0; i < len(s); {
		p := prefixAt(s, i)
		if p == 0 {
			i++
			continue
		}
		end := valueEnd(s, i+p)
		if end == i+p {
			i = end
			continue
		}
		if done == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[done : i+p])
		b.WriteString(ellipsis)
		i, done = end, end
	}
	if done == 0 {
		return s
	}
	b.WriteString(s[done:])
	return b.String()
}

// prefixAt returns the length of the prefix at s[i:] whose value Redact
// cuts, or 0.
func prefixAt(s string, i int) int {
	switch s[i] {
	case 'i', 's', 'g', 'A', 'a', 'B', 'b':
	default:
		return 0
	}
	prev, ok := byteBefore(s, i)
	atWord := !ok || !isWordByte(prev)
	atKey := atWord || prev == '_'
	rest := s[i:]
	for _, k := range keyPrefixes {
		if (atKey || !k.wordStart) && strings.HasPrefix(rest, k.prefix) {
			return len(k.prefix)
		}
	}
	if !atWord {
		return 0
	}
	if n := len("bearer"); hasFoldPrefix(rest, "bearer") {
		if m := spaces(s, i+n); m > 0 {
			return n + m
		}
		return 0
	}
	const auth = "authorization"
	if !hasFoldPrefix(rest, auth) {
		return 0
	}
	j := i + len(auth)
	j += spaces(s, j)
	if c, w := decodeAt(s, j); w > 0 && (c == ':' || c == '=') {
		j += w
	} else {
		return 0
	}
	j += spaces(s, j)
	for _, scheme := range authSchemes {
		if hasFoldPrefix(s[j:], scheme) {
			if m := spaces(s, j+len(scheme)); m > 0 {
				j += len(scheme) + m
			}
			break
		}
	}
	return j - i
}

// hasFoldPrefix reports whether s starts with prefix, ignoring ASCII case.
func hasFoldPrefix(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// spaces returns the length of the run of spaces at s[i:]: ' ', '\t' and
// '+' (a space in a form), percent-encoded or not.
func spaces(s string, i int) int {
	j := i
	for {
		c, w := decodeAt(s, j)
		if w == 0 || c != ' ' && c != '\t' && c != '+' {
			return j - i
		}
		j += w
	}
}

// valueEnd returns the end of the key value that starts at s[i:].
func valueEnd(s string, i int) int {
	start := i
	for i < len(s) {
		if strings.HasPrefix(s[i:], ellipsis) {
			i += len(ellipsis)
			continue
		}
		c, w := decodeAt(s, i)
		if !isValueByte(c) && (w == 1 || c != '%') {
			break
		}
		i += w
	}
	for i > start && s[i-1] == '.' { // dots that end a sentence, not a key
		i--
	}
	return i
}

// decodeAt returns the byte at s[i:] and how many bytes of s spell it: 1,
// or 3 for a percent-encoded byte (%2F), or 5 for one encoded twice
// (%252F). At the end of s it returns 0, 0.
func decodeAt(s string, i int) (c byte, width int) {
	switch {
	case i >= len(s):
		return 0, 0
	case s[i] != '%':
	case i+5 <= len(s) && s[i+1] == '2' && s[i+2] == '5' && isHex(s[i+3]) && isHex(s[i+4]):
		return unhex(s[i+3])<<4 | unhex(s[i+4]), 5
	case i+3 <= len(s) && isHex(s[i+1]) && isHex(s[i+2]):
		return unhex(s[i+1])<<4 | unhex(s[i+2]), 3
	}
	return s[i], 1
}

// byteBefore returns the byte before s[i], percent-decoded; ok is false at
// the start of s.
func byteBefore(s string, i int) (c byte, ok bool) {
	switch {
	case i == 0:
		return 0, false
	case i >= 5 && s[i-5] == '%' && s[i-4] == '2' && s[i-3] == '5' && isHex(s[i-2]) && isHex(s[i-1]):
		return unhex(s[i-2])<<4 | unhex(s[i-1]), true
	case i >= 3 && s[i-3] == '%' && isHex(s[i-2]) && isHex(s[i-1]):
		return unhex(s[i-2])<<4 | unhex(s[i-1]), true
	}
	return s[i-1], true
}

func isValueByte(c byte) bool {
	return isWordByte(c) || c == '-' || c == '.' || c == '~' || c == '+' || c == '/' || c == '='
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}
