package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/redisstore"
)

// A Store shares a key's limit, holds and breaker verdicts across the
// replicas that use one Redis. The Transport drives it (rebound.WithStore);
// here it is called directly. It needs a Redis, so it does not run as a
// test.
func Example() {
	rdb := redis.NewClient(&redis.Options{
		Addr:                  "localhost:6379",
		ContextTimeoutEnabled: true, // Take returns when its ctx ends
	})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	var s rebound.Store = store
	cancel := s.Subscribe(func(name string, until time.Time) {
		fmt.Println(name, "held until", until)
	})
	defer cancel()

	ctx, done := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer done()
	wait, err := s.Take(ctx, "api.openai.com/gpt-4o", rebound.StoreLimit{Rate: 500, Burst: 50, Period: time.Minute}, 1)
	switch {
	case err != nil:
		fmt.Println("Redis away, fall back to a local share:", err)
	case wait > 0:
		fmt.Println("over the fleet's limit; ask again in", wait)
	}
	s.Raise("api.openai.com/gpt-4o", time.Now().Add(30*time.Second)) // e.g. its quota is spent
	fmt.Println(s.Members(), "replicas share the key")
}
