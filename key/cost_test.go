package key

import (
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

func FuzzCost(f *testing.F) {
	f.Add([]byte(`{"max_tokens":512}`))
	f.Add([]byte(`{"generationConfig":{"maxOutputTokens":8}}`))
	f.Add([]byte(`"max"max_tokens":`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if c := Cost(b); c < (len(b)+3)/4 {
			t.Fatalf("Cost = %d, below the prompt estimate", c)
		}
	})
}

func BenchmarkCost(b *testing.B) {
	body := chatBody(1<<10, false)
	body = []byte(strings.Replace(string(body), `"temperature"`, `"max_tokens":256,"temperature"`, 1))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for range b.N {
		Cost(body)
	}
}
