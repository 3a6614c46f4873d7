// Package redisstore implements rebound.Store on Redis, so that the
// Transports of a fleet of replicas share each key's limits, holds and
// breaker verdicts:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379", ContextTimeoutEnabled: true})
//	store, err := redisstore.New(rdb, redisstore.Options{})
//	if err != nil { ... }
//	defer store.Close()
//	client := &http.Client{Transport: rebound.New(nil, rebound.WithStore(store))}
//
// What lives in Redis, P being Options.Prefix ("rebound:" by default):
//
//   - "rate:" P "rate:" NAME: the GCRA state of the shared limit NAME
//     (github.com/go-redis/redis_rate, which adds the leading "rate:");
//     Take is one script call, one round trip;
//   - P "deadline:" NAME: the deadline NAME is held until, in Unix
//     milliseconds, expiring then, and the hash P "deadlines" that indexes
//     the ones in force. Raise moves a deadline later only, in one script,
//     and when it moved publishes "MILLIS NAME" on the channel P
//     "deadlines";
//   - P "members": a sorted set of the live Stores, scored by their last
//     heartbeat.
//
// With a Redis Cluster (or a Ring), the prefix must be in braces so that a
// Store's keys share one slot: the default is then "{rebound}:", and New
// refuses a prefix without a hash tag.
//
// A Store never blocks the Transport on Redis but in Take, which ctx bounds.
// Its background goroutines (a publisher, a subscriber, a dispatcher and a
// heartbeat) retry with a capped exponential backoff while Redis is away and
// resume when it is back; go-redis reconnects by itself. Close stops them.
package redisstore
