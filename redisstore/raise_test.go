package redisstore

import (
	"strconv"
	"testing"
)

func FuzzParseDeadline(f *testing.F) {
	for _, s := range []string{"1700000000000 api.openai.com/gpt-4o", "1 a b", "x y", "", " ", "12", "-5 n", "99999999999999999999 n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, payload string) {
		name, until, ok := parseDeadline(payload)
		if !ok {
			return
		}
		// What parses is what a Raise publishes: it reads back the same.
		if again := strconv.FormatInt(until.UnixMilli(), 10) + " " + name; again != payload {
			if n2, u2, ok2 := parseDeadline(again); !ok2 || n2 != name || !u2.Equal(until) {
				t.Fatalf("parseDeadline(%q) = %q, %v; its formatting %q reads %q, %v, %v", payload, name, until, again, n2, u2, ok2)
			}
		}
	})
}
