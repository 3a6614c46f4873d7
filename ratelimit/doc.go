// Package ratelimit keeps requests to each upstream key ("host/model" or
// "host") under a client-side rate limit, and holds every key in a shared
// cool-down after the server has said to back off.
//
// A [Limits] value says which keys are limited and how fast: a Default for
// every key plus [Rule] entries whose patterns pick keys out, first match
// wins. [New] builds a [Set] from it. Each key gets its own token bucket, a
// [golang.org/x/time/rate.Limiter] created on the key's first use, and its own
// cool-down deadline. The number of keys held is bounded (Limits.MaxKeys);
// idle and least recently used keys are forgotten, and a forgotten key starts
// again with a full burst and no cool-down.
//
// A cool-down is set with [Set.CoolDown] when a response carries a hint such
// as Retry-After, so concurrent callers of that key wait it out together
// instead of each rediscovering the limit. Cool-downs work whether or not any
// rate limit is configured.
//
// [Set.Reserve] takes a slot at a given time and says how long to wait; it
// never sleeps, so callers and tests control time. [Set.Wait] is the
// real-time form: it fails at once with a [*WaitError] when the wait would end
// after the context's deadline, and otherwise sleeps until the slot is due or
// the context is done.
//
// The zero Limits limits nothing; a Set built from it only enforces
// cool-downs, and its Reserve costs one atomic load while no key is cooling,
// one map lookup while some key is, and never allocates. A Set is safe for
// concurrent use by multiple goroutines.
package ratelimit
