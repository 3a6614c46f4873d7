// Package rebound makes any http.Client resilient against AI-inference HTTP
// APIs. It is one http.RoundTripper:
//
//	client := &http.Client{Transport: rebound.New(nil)}
//
// Each response is classified by its HTTP status and by the provider's own
// error code (package classify): 429, 5xx and "model_overloaded" are retried,
// 400/401/402/403 and exhausted quotas fail at once. Retries back off
// exponentially with full jitter and honour the server's Retry-After (package
// retry), within a retry budget that keeps an outage from multiplying load.
// A circuit breaker per upstream model (package breaker) fails requests to a
// model that is down without touching it, while other models carry on, and
// optional client-side rate limits per model (package ratelimit) keep each
// model under its limit and share a cool-down after a 429.
//
// # What the caller gets
//
// A response whenever the upstream answered — success, fatal error, or the
// last retryable answer once retries are exhausted — with err == nil and
// every byte of its body, so SDKs on top parse it as they always do. An error
// only when there is no response to give: a transport failure on the last
// attempt, an open circuit (ErrCircuitOpen), a rate-limit wait that cannot end
// before the deadline (ErrWouldExceedDeadline), the caller's context ending,
// or an invalid configuration (ErrInvalidConfig). Such errors are *Error
// values carrying the key, the attempts made and the last classification.
//
// # Contract
//
// The caller's request is never modified; each attempt sends a shallow copy
// with a fresh body (GetBody, or the body buffered once up to
// retry.Policy.MaxBodyBuffer; a larger body without GetBody gets one attempt).
// Every discarded response body is drained (bounded) and closed so its
// connection is reused. Waits end at once when the context is done, and no
// wait starts that would end after the context's deadline.
//
// Give requests a deadline. A server's hint on a retryable answer starts a
// cool-down shared by every request to that key (at most
// ratelimit.Limits.MaxCoolDown, 60 s by default): a call with a deadline
// that the cool-down would outlast fails at once with ErrWouldExceedDeadline,
// but a call without one waits the cool-down out.
package rebound
