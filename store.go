package rebound

import (
	"context"
	"time"
)

// A Store shares the gates of a fleet: the Transports of many replicas that
// call one provider with one key, and must behave as one client. Without
// one (the default) each Transport keeps its gates in memory. With one:
//
//   - the request and token limits of each key (configured, or learnt from
//     the provider's rate-limit headers) are enforced across the fleet, one
//     Take per admitted attempt;
//   - a key held until a reset (its quota spent, a Retry-After that says so)
//     and a key whose breaker opened are raised as shared deadlines, so that
//     every replica holds the key, or treats its breaker as open, until
//     then.
//
// The Transport never fails a call because of its Store: when Take fails or
// takes longer than 50 ms, the Transport falls back to its own share
// of the limit last seen (the limit divided by Members) and tries the Store
// again a little later; Observer.OnStore reports both transitions.
//
// The module github.com/rebound-http/rebound/redisstore implements Store on
// Redis. A Store must be safe for concurrent use.
type Store interface {
	// Take charges n units (n ≥ 1: a request, or its estimated tokens as
	// the provider is seen to count them) against the shared limit l of
	// name at once, if the limit allows it, and returns zero; otherwise it
	// charges nothing and returns how long to wait before asking again.
	// ctx bounds the call. l may differ from one call to the next for one
	// name: a limit learnt anew, or a Burst raised to n for a call that
	// costs more than the limit's burst (it goes once the limit is whole).
	// The Transport's calls wait for the limit in the order they came, so
	// Take need not keep anything for a caller it refuses.
	Take(ctx context.Context, name string, l StoreLimit, n int) (retryAfter time.Duration, err error)

	// Raise moves the shared deadline name to until, unless it is already
	// later, atomically, and tells every subscriber of the fleet (its own
	// included). It must not block: the update may be sent in the
	// background, and a failure is only reported by Take's errors.
	Raise(name string, until time.Time)

	// Subscribe has f called with each deadline raised in the fleet, the
	// ones in force when it is called first, until the returned function
	// is called. f must not block. A Transport subscribes once, in New,
	// and cancels once it is no longer reachable (from a finalizer), so
	// that many Transports may come and go over one Store.
	Subscribe(f func(name string, until time.Time)) (cancel func())

	// Members returns how many Transports share the Store, as last seen
	// (at least 1); it must not block.
	Members() int
}

// StoreLimit is a shared limit: Rate units per Period on average, and up
// to Burst at once (a GCRA, or a token bucket).
type StoreLimit struct {
	Rate   int
	Burst  int
	Period time.Duration
}

// StoreEvent describes a change of a Store's health as the Transport sees
// it.
type StoreEvent struct {
	// Up is true when the Store answers again, false when the Transport
	// fell back to its local state.
	Up bool
	// Err is the error that made the Transport fall back; nil when Up.
	Err error
}
