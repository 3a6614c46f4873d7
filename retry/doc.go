// Package retry decides whether another attempt is worth making and how long
// to wait before it.
//
// A Policy is plain configuration: attempts in total, a full-jitter
// exponential backoff (built on github.com/cenkalti/backoff/v4), how long a
// server's Retry-After hint is honoured, an optional per-attempt timeout and
// a retry Budget. Its zero value is the documented default policy; Validate
// reports invalid values instead of clamping them.
//
// A Policy never changes once built. Each call owns a Schedule (Policy.Start)
// that counts its attempts and holds its backoff state, so one Policy serves
// any number of concurrent calls. A Schedule waits for the server's hint when
// there is one — never less than asked, a little jitter above it — and
// otherwise for the next jittered backoff; it refuses a wait longer than
// MaxHint or than the time left before the caller's deadline, so nothing ever
// sleeps past a deadline.
//
// An Account enforces a Budget across calls: retries may only add a fixed
// ratio to the requests of the recent window, plus a small floor (as Envoy
// and Finagle do), so an outage cannot multiply the load on an upstream that
// is already failing.
package retry
