package glob

import (
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPatternMatch(t *testing.T) {
	tests := []struct {
		pattern, key string
		want         bool
	}{
		{"api.openai.com/gpt-4o", "api.openai.com/gpt-4o", true},
		{"api.openai.com/gpt-4o", "api.openai.com/gpt-4o-mini", false},
		{"api.openai.com/gpt-4o", "xapi.openai.com/gpt-4o", false},
		{"*", "", true},
		{"*", "anything/with/slashes", true},
		{"**", "a", true},
		{"*/gpt-4o*", "api.openai.com/gpt-4o", true},
		{"*/gpt-4o*", "api.openai.com/gpt-4o-mini", true},
		{"*/gpt-4o*", "api.openai.com/gpt-4", false},
		{"*/gpt-4o*", "gpt-4o", false},
		{"api.openai.com/*", "api.openai.com/", true},
		{"api.openai.com/*", "api.openai.com", false},
		{"api.together.xyz/*", "api.together.xyz/meta-llama/Llama-3.1-8B-Instruct", true},
		{"*/meta-llama/*-Instruct", "api.together.xyz/meta-llama/Llama-3.1-8B-Instruct", true},
		{"*/meta-llama/*-Instruct", "api.together.xyz/meta-llama/Llama-3.1-8B", false},
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "acb", false},
		{"a*a", "a", false}, // the two ends may not overlap
		{"a*a", "aa", true},
		{"ab*ba", "aba", false},
		{"*b*b*", "xbxbx", true},
		{"*b*b*", "xbx", false},
		{"a*bc*bd", "abcbcbd", true},
		{"GPT*", "gpt-4o", false},
	}
	for _, tt := range tests {
		if got := Compile(tt.pattern).Match(tt.key); got != tt.want {
			t.Errorf("%q matches %q = %v, want %v", tt.pattern, tt.key, got, tt.want)
		}
	}
}

// reference is the obvious implementation: a regexp of the literal runs
// joined by ".*", anchored at both ends.
func reference(pattern string) *regexp.Regexp {
	parts := strings.Split(pattern, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile(`(?s)\A` + strings.Join(parts, ".*") + `\z`)
}

func FuzzPattern(f *testing.F) {
	f.Add("*/gpt-4o*", "api.openai.com/gpt-4o-mini")
	f.Add("api.openai.com/*", "api.openai.com")
	f.Add("a*b*c", "aXbYbc")
	f.Add("**x**", "x")
	f.Add("", "")
	f.Add("a*a", "a")
	f.Add("*.*", "a\nb.c")
	f.Add("\xff*", "\xff\xfe")
	f.Fuzz(func(t *testing.T, pattern, key string) {
		p := Compile(pattern)
		got := p.Match(key)
		// The pattern with its stars deleted always matches.
		if lit := strings.ReplaceAll(pattern, "*", ""); !p.Match(lit) {
			t.Fatalf("%q does not match its own literal %q", pattern, lit)
		}
		if !strings.Contains(pattern, "*") && got != (pattern == key) {
			t.Fatalf("%q (no '*') matches %q = %v", pattern, key, got)
		}
		// regexp reads UTF-8; compare only where bytes and runes agree.
		if !utf8.ValidString(pattern) || !utf8.ValidString(key) {
			return
		}
		if want := reference(pattern).MatchString(key); got != want {
			t.Fatalf("%q matches %q = %v, reference says %v", pattern, key, got, want)
		}
	})
}
