package ratelimit_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rebound-http/rebound/ratelimit"
)

// Per-model limits: the first matching Rule wins, and keys no Rule matches
// get the Default (here, none).
func Example_perModel() {
	set, err := ratelimit.New(ratelimit.Limits{
		Rules: []ratelimit.Rule{
			{Pattern: "api.openai.com/gpt-4o*", Limit: ratelimit.PerMinute(60)}, // one a second
			{Pattern: "api.openai.com/*", Limit: ratelimit.PerMinute(600)},      // ten a second
		},
	})
	if err != nil {
		panic(err)
	}
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, key := range []string{
		"api.openai.com/gpt-4o-mini",
		"api.openai.com/gpt-4o-mini",
		"api.openai.com/gpt-4o-mini",
		"api.openai.com/o3",
		"api.openai.com/o3",
		"api.mistral.ai/mistral-large",
	} {
		fmt.Printf("%-29s wait %v\n", key, set.Reserve(key, now).Delay())
	}
	// Output:
	// api.openai.com/gpt-4o-mini    wait 0s
	// api.openai.com/gpt-4o-mini    wait 1s
	// api.openai.com/gpt-4o-mini    wait 2s
	// api.openai.com/o3             wait 0s
	// api.openai.com/o3             wait 0s
	// api.mistral.ai/mistral-large  wait 0s
}

// Wait fails at once when the wait could not end before the deadline.
func ExampleSet_Wait() {
	set, err := ratelimit.New(ratelimit.Limits{Default: ratelimit.PerMinute(2)}) // one slot every 30 s
	if err != nil {
		panic(err)
	}
	key := "api.openai.com/gpt-4o"
	set.Reserve(key, time.Now()) // the first slot is taken

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = set.Wait(ctx, key)

	var we *ratelimit.WaitError
	fmt.Println(errors.Is(err, ratelimit.ErrWouldExceedDeadline), errors.As(err, &we), we.Key)
	// Output:
	// true true api.openai.com/gpt-4o
}
