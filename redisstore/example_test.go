package redisstore_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/redisstore"
)

// Every replica of a service gives its Transport a Store on the same
// Redis: the replicas then share each key's request and token limits, its
// holds and its breaker verdicts. It needs a Redis, so it does not run as a
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

	client := &http.Client{Transport: rebound.New(nil, rebound.WithStore(store))}
	_ = client // use it as any *http.Client, or hand it to an SDK
	fmt.Println(store.Members(), "replicas share the gates")
}

// The Store's own operations, as the Transport calls them.
func ExampleStore_Take() {
	rdb := redis.NewClient(&redis.Options{Addr: "localhost:6379", ContextTimeoutEnabled: true})
	defer rdb.Close()
	store, err := redisstore.New(rdb, redisstore.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	cancel := store.Subscribe(func(name string, until time.Time) {
		fmt.Println(name, "until", until)
	})
	defer cancel()

	ctx, done := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer done()
	wait, err := store.Take(ctx, "requests/api.openai.com/gpt-4o", rebound.StoreLimit{Rate: 500, Burst: 10, Period: time.Minute}, 1)
	switch {
	case err != nil:
		fmt.Println("Redis away, fall back to a local share:", err)
	case wait > 0:
		fmt.Println("over the fleet's limit; ask again in", wait)
	}
	store.Raise("hold/api.openai.com/gpt-4o", time.Now().Add(30*time.Second)) // its quota is spent
}
