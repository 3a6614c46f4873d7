package ratelimit

import "strings"

// A pattern is a compiled Rule.Pattern: the literal runs between its '*'
// wildcards. A pattern without '*' has one part and matches only itself.
type pattern struct {
	parts []string
}

// compilePattern splits p at each '*'. Consecutive stars collapse into one,
// since "**" matches exactly what "*" matches.
func compilePattern(p string) pattern {
	split := strings.Split(p, "*")
	parts := make([]string, 0, len(split))
	for i, s := range split {
		if s != "" || i == 0 || i == len(split)-1 {
			parts = append(parts, s)
		}
	}
	return pattern{parts: parts}
}

// match reports whether the whole of key matches the pattern, where '*'
// matches any run of bytes, including an empty run and runs holding '/'.
func (p pattern) match(key string) bool {
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
