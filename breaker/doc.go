// Package breaker keeps one circuit breaker per key (by default, per upstream
// host and model) so that a failing model is cut off quickly while the others
// keep serving.
//
// A Set holds the breakers. Before sending a request, the caller asks
// Set.Allow for the request's key; a breaker that is open, or half-open with
// all of its probes already in flight, rejects the request with an *OpenError
// (errors.Is(err, ErrOpen) reports true) and no request should be sent.
// Otherwise Allow returns a Ticket, whose Done the caller calls with the
// request's Outcome once it is known.
//
// Each breaker is a gobreaker/v2 two-step circuit breaker. It trips open when
// the share of failures among the outcomes reported in a rolling window
// reaches Settings.FailureRatio beyond doubt (the Wilson lower bound at three
// standard errors; see Settings.FailureRatio), once at least
// Settings.MinRequests outcomes have been reported; Excluded outcomes count
// neither way. While a breaker is closed its successes are counted without
// gobreaker's lock or a clock read (the caller passes the time in), so a
// success costs two atomic operations; failures go through gobreaker. After
// Settings.OpenTimeout it lets Settings.HalfOpenProbes requests through, and
// closes again only if all of them succeed. The breakers' windows and
// timeouts run on the wall clock, which gobreaker reads itself.
//
// Breakers are created on first use and held in a bounded registry: at most
// Settings.MaxKeys of them, with those unused for Settings.IdleTTL (or, when
// the registry is full, the least recently used) dropped to make room. A
// dropped breaker forgets its state.
//
// New builds a Set from Settings, whose zero value is ready to use; the zero
// Set allows every request, as if Settings.Disabled were set. A Set is safe
// for concurrent use by multiple goroutines.
package breaker
