package classify

import "strings"

// keyPrefixes are the prefixes of the API keys Redact knows, longest first
// where one is a prefix of another. Short, common-looking prefixes count only
// at the start of a word, so that "task-force" keeps its "sk-".
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
}

const ellipsis = "…"

// Redact returns s with the value of every API key and bearer token cut
// down to its prefix and an ellipsis: "ik_live_proj1234… is a data key"
// becomes "ik_live_… is a data key", "Authorization: Bearer abc.def" becomes
// "Authorization: Bearer …". It knows the prefixes ik_live_, ik_sdk_,
// ik_pub_, sk-ant-, sk-proj- and sk- (at the start of a word) and "Bearer "
// in any case (at the start of a word). A value is the run of ASCII letters,
// digits, "_-.~+/=" and "…" after the prefix, less any trailing dots; a
// prefix with no value, as in "an ik_sdk_ token", is left alone.
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

// prefixAt returns the length of the key prefix at s[i:], or 0.
func prefixAt(s string, i int) int {
	switch s[i] {
	case 'i', 's', 'B', 'b':
	default:
		return 0
	}
	atWord := i == 0 || !isWordByte(s[i-1])
	rest := s[i:]
	for _, k := range keyPrefixes {
		if (atWord || !k.wordStart) && strings.HasPrefix(rest, k.prefix) {
			return len(k.prefix)
		}
	}
	const bearer = "bearer "
	if atWord && len(rest) >= len(bearer) && strings.EqualFold(rest[:len(bearer)], bearer) {
		return len(bearer)
	}
	return 0
}

// valueEnd returns the end of the key value that starts at s[i:].
func valueEnd(s string, i int) int {
	start := i
	for i < len(s) {
		switch c := s[i]; {
		case isWordByte(c) || strings.IndexByte("-.~+/=", c) >= 0:
			i++
		case strings.HasPrefix(s[i:], ellipsis):
			i += len(ellipsis)
		default:
			return trimDots(s, start, i)
		}
	}
	return trimDots(s, start, i)
}

// trimDots moves end back over the dots that end s[start:end]: they end a
// sentence, not a key.
func trimDots(s string, start, end int) int {
	for end > start && s[end-1] == '.' {
		end--
	}
	return end
}

func isWordByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}
