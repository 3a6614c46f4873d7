package breaker_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/rebound-http/rebound/breaker"
)

// One breaker per model: the failing model trips while the other stays closed.
func Example() {
	set, err := breaker.New(breaker.Settings{
		MinRequests: 4, FailureRatio: 0.25, // four failures in a row trip it
		OnStateChange: func(key string, from, to breaker.State) {
			fmt.Printf("%s: %s -> %s\n", key, from, to)
		},
	})
	if err != nil {
		panic(err)
	}
	const big, small = "api.example.com/big-model", "api.example.com/small-model"
	now := time.Now()
	for range 4 {
		done, _ := set.Allow(big, now)
		done.Done(breaker.Failure) // say, a 503
		done, _ = set.Allow(small, now)
		done.Done(breaker.Success)
	}

	_, err = set.Allow(big, now)
	var open *breaker.OpenError
	fmt.Println(errors.Is(err, breaker.ErrOpen), errors.As(err, &open) && open.Key == big)

	done, err := set.Allow(small, now)
	fmt.Println(err)
	done.Done(breaker.Success)

	fmt.Println(set.State(big), set.State(small))
	// Output:
	// api.example.com/big-model: closed -> open
	// true true
	// <nil>
	// open closed
}
