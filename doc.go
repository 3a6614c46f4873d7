// Package rebound makes any http.Client resilient against AI-inference HTTP
// APIs. It is one http.RoundTripper:
//
//	client := &http.Client{Transport: rebound.New(nil)}
//
// Each response is classified by its HTTP status and by the provider's own
// error code (package classify): 429, 5xx and "model_overloaded" are retried,
// 400/401/402/403 and exhausted quotas fail at once. Retries back off
// exponentially with full jitter and honour the server's Retry-After (package
// retry), within a retry budget that charges every retry and refunds the ones
// that succeed, so that a storm of failures cannot multiply load, and gives
// each key a share of it, so that a model that keeps failing cannot spend
// the retries of the others. Every
// attempt goes through its key's gate (key = host + model, package key),
// which decides from evidence whether it is sent now, waits, or is refused:
// a circuit breaker per model (package breaker) that opens only on evidence
// and holds calls for its half-open verdict when their deadline leaves room,
// the quota the provider tells in its rate-limit headers on every response
// (requests and tokens, spread over the time to their reset, held when
// spent), a pace that follows what the provider accepts from its first 429
// on, and optional stated request and token limits (package ratelimit). One
// model being down or rate-limited leaves the others alone.
//
// # What the caller gets
//
// A response whenever the upstream answered — success, fatal error, or the
// last retryable answer once retries are exhausted — with err == nil and
// every byte of its body, so SDKs on top parse it as they always do. An error
// only when there is no response to give: a transport failure on the last
// attempt (ErrAttemptTimeout when retry.Policy.AttemptTimeout cut it short),
// an open circuit whose verdict would come after the deadline
// (ErrCircuitOpen), a pace or rate-limit wait that cannot end before the
// deadline (ErrWouldExceedDeadline), a quota spent until after the deadline
// or until a reset further off than MaxHint (ErrQuotaSpent, saying when it
// resets), a request estimated at more tokens than its key's whole token
// limit (ErrCostTooLarge), the caller's context ending, or an invalid
// configuration (ErrInvalidConfig). Such errors are *Error values
// carrying the key, the attempts made, the last classification and the
// Reason. When the next attempt cannot go, a call that already holds an
// answer returns that answer, never an error.
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
// Give requests a deadline: every wait the gate imposes is checked against
// it. A call without one is held for an open breaker at most
// retry.Policy.MaxHint (60 s by default).
package rebound
