package key

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestCost(t *testing.T) {
	prompt := func(b string) int { return (len(b) + 3) / 4 }
	for _, c := range []struct {
		name, body string
		cap        int
	}{
		{"openai chat max_tokens", `{"model":"gpt-4o","max_tokens":512,"messages":[{"role":"user","content":"hi"}]}`, 512},
		{"openai max_completion_tokens", `{"messages":[],"model":"o3","max_completion_tokens":2048}`, 2048},
		{"openai responses max_output_tokens", `{"model":"gpt-4.1","input":"hi","max_output_tokens":100}`, 100},
		{"gemini generationConfig", `{"contents":[{"parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens": 800}}`, 800},
		{"anthropic, spaces", `{"model":"claude-sonnet-4", "max_tokens" : 1024 ,"messages":[]}`, 1024},
		{"no cap: the prompt only", `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, 0},
		{"a cap inside a string is text", `{"model":"m","messages":[{"content":"set \"max_tokens\": 99999 please"}]}`, 0},
		{"a name as a value is not a member", `{"model":"m","param":"max_tokens","x":1}`, 0},
		{"a schema property is not a number", `{"tools":[{"parameters":{"properties":{"max_tokens":{"type":"integer"}}}}],"max_tokens":64}`, 64},
		{"the largest of several", `{"max_tokens":64,"max_completion_tokens":128}`, 128},
		{"gemini in snake_case", `{"contents":[],"generation_config":{"max_output_tokens":300}}`, 300},
		{"one style: beside a snake_case cap, a camelCase one is not read", `{"max_tokens":64,"generationConfig":{"maxOutputTokens":800}}`, 64},
		{"a snake_case name that holds no number leaves the camelCase one", `{"tools":[{"max_tokens":{}}],"generationConfig":{"maxOutputTokens":800}}`, 800},
		{"absurd saturates", `{"max_tokens":99999999999999999999}`, 2147483647},
		{"malformed after the name", `{"max_tokens"`, 0},
		{"not JSON", `max_tokens=5`, 0},
	} {
		if got, want := Cost([]byte(c.body)), prompt(c.body)+c.cap; got != want {
			t.Errorf("%s: Cost = %d, want %d", c.name, got, want)
		}
	}
	if got := Cost(nil); got != 0 {
		t.Errorf("Cost(nil) = %d", got)
	}
}

// TestIndexTail checks the search for a cap's tail against bytes.Index, on
// text sparse and dense with the tail's first byte (snake_case code in a
// prompt), where it turns to bytes.Index part way.
func TestIndexTail(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	parts := []string{"_", "__", "_tokens", `_tokens"`, `tokens"`, "O", "Output", `OutputTokens"`, `OutputTokens`, "x", "abcdefghijklmnopqrstuvwxyz", `"`}
	for n := range 20000 {
		var b []byte
		for range rng.IntN(2 + n%200) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		for _, c := range capTails {
			if got, want := indexTail(b, c.tail, c.word), bytes.Index(b, c.tail); got != want {
				t.Fatalf("indexTail(%q, %q) = %d, want %d", b, c.tail, got, want)
			}
		}
	}
}

func FuzzCost(f *testing.F) {
	f.Add([]byte(`{"max_tokens":512}`))
	f.Add([]byte(`{"generationConfig":{"maxOutputTokens":8}}`))
	f.Add([]byte(`"max"max_tokens":`))
	f.Add([]byte(`{"a":"__ma_x_tokens\"_","max_tokens":5,"b":{"maxOutputTokens":9}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c := Cost(b); c < (len(b)+3)/4 {
			t.Fatalf("Cost = %d, below the prompt estimate", c)
		}
		if got, want := outputCap(b), plainOutputCap(b); got != want {
			t.Fatalf("outputCap(%q) = %d, a plain search finds %d", b, got, want)
		}
	})
}

// plainOutputCap is outputCap as its doc reads, with bytes.Index: every
// snake_case name, then, if none holds a number, every camelCase one.
func plainOutputCap(b []byte) int {
	for _, c := range capTails {
		best, found := 0, false
		for i := 0; ; {
			j := bytes.Index(b[i:], c.tail)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(c.tail)
			if hasHead(b[:at], c.heads) {
				if v, ok := numberAfterName(b[i:]); ok {
					best, found = max(best, v), true
				}
			}
		}
		if found {
			return best
		}
	}
	return 0
}

// BenchmarkCost estimates a chat body's cost: prose; code dense with
// underscores and quotes (a coding assistant's prompt); an inline image. In
// the last two a cap's tail is soon looked for by another byte.
func BenchmarkCost(b *testing.B) {
	withCap := func(body []byte) []byte {
		return []byte(strings.Replace(string(body), `"temperature"`, `"max_tokens":256,"temperature"`, 1))
	}
	code := func(size int) []byte {
		const line = `def read_rows(file_name, max_rows=None):\n    with open(file_name) as f_in:\n        return [r.split(\"\\t\") for r in f_in][:max_rows]\n`
		content := strings.Repeat(line, max(size/len(line), 1))
		return withCap([]byte(`{"messages":[{"role":"user","content":"` + content + `"}],"model":"gpt-4o","temperature":0.2}`))
	}
	// An image inline, without a cap: base64 holds the camelCase tail's
	// first byte once in 64.
	image := func(size int) []byte {
		raw := make([]byte, size*3/4)
		rng := rand.New(rand.NewPCG(7, 8))
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		return []byte(`{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"data:image/png;base64,` +
			base64.StdEncoding.EncodeToString(raw) + `"}}]}],"model":"gpt-4o"}`)
	}
	for _, c := range []struct {
		name string
		body []byte
	}{
		{"prose-1KiB", withCap(chatBody(1<<10, false))},
		{"code-1KiB", code(1 << 10)},
		{"code-100KiB", code(100 << 10)},
		{"image-512KiB", image(512 << 10)},
	} {
		if !json.Valid(c.body) {
			b.Fatalf("%s: not JSON", c.name)
		}
		b.Run("case:"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.body)))
			b.ReportAllocs()
			for range b.N {
				Cost(c.body)
			}
		})
	}
}
