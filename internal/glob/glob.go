// Package glob matches keys against patterns in which '*' stands for any
// run of bytes, as in "*/gpt-4o*": the patterns of ratelimit.Rule and of the
// Transport's per-key options.
package glob

import "strings"

// A Pattern is a compiled pattern: the literal runs between its '*'
// wildcards. A pattern without '*' has one part and matches only itself.
type Pattern struct {
	parts []string
}

// Compile splits p at each '*'. Consecutive stars collapse into one,
// since "**" matches exactly what "*" matches.
func Compile(p string) Pattern {
	split := strings.Split(p, "*")
	parts := make([]string, 0, len(split))
	for i, s := range split {
		if s != "" || i == 0 || i == len(split)-1 {
			parts = append(parts, s)
		}
	}
	return Pattern{parts: parts}
}

// Match reports whether the whole of key matches the pattern, where '*'
// matches any run of bytes, including an empty run and runs holding '/'.
func (p Pattern) Match(key string) bool {
	if len(p.parts) == 1 {
		return key == p.parts[0]
	}
	first, last := p.parts[0], p.parts[len(p.parts)-1]
	if len(key) < len(first)+len(last) ||
		!strings.HasPrefix(key, first) || !strings.HasSuffix(key, last) {
		return false
	}
	// Between the fixed ends, take each middle literal at its leftmost
	// occurrence: with '*' as the only wildcard, leftmost is never worse.
	rest := key[len(first) : len(key)-len(last)]
	for _, lit := range p.parts[1 : len(p.parts)-1] {
		i := strings.Index(rest, lit)
		if i < 0 {
			return false
		}
		rest = rest[i+len(lit):]
	}
	return true
}
