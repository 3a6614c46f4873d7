// Package ratelimit keeps requests to each upstream key ("host/model" or
// "host") under a configured client-side rate limit.
//
// A [Limits] value says which keys are limited and how fast: a Default for
// every key plus [Rule] entries whose patterns pick keys out, first match
// wins. [New] builds a [Set] from it. Each key gets its own token bucket, a
// [golang.org/x/time/rate.Limiter] created on the key's first use. The number
// of keys held is bounded (Limits.MaxKeys); idle and least recently used keys
// are forgotten, and a forgotten key starts again with a full burst.
//
// [Set.Reserve] takes a slot at a given time and says how long to wait; it
// never sleeps, so callers and tests control time. [Set.Wait] is the
// real-time form: it fails at once with a [*WaitError] when the wait would end
// after the context's deadline, and otherwise sleeps until the slot is due or
// the context is done.
//
// These are the limits a user states. A rebound Transport also paces each key
// by itself, from the provider's throttling and rate-limit headers, whether or
// not any limit is configured; a configured limit applies on top.
//
// The zero Limits limits nothing, and its Reserve does nothing and never
// allocates. A Set is safe for concurrent use by multiple goroutines.
package ratelimit
