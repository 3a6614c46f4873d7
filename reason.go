package rebound

import "strconv"

// Reason says why a call stopped without a success: why no further attempt
// was made, or why none could be. It is shared by Error and the observer's
// GiveUpEvent.
type Reason uint8

// The reasons a call stops.
const (
	// ReasonNone: the call has not stopped, or ended in success.
	ReasonNone Reason = iota
	// ReasonAttempts: retry.Policy.MaxAttempts attempts were made.
	ReasonAttempts
	// ReasonBudget: the retry budget is spent.
	ReasonBudget
	// ReasonDeadline: the next attempt could not be sent before the
	// caller's deadline.
	ReasonDeadline
	// ReasonHintTooLong: the server asked for a wait longer than
	// retry.Policy.MaxHint.
	ReasonHintTooLong
	// ReasonCircuitOpen: the key's circuit breaker is open, and its
	// verdict would come after the deadline (or the breaker fails fast).
	ReasonCircuitOpen
	// ReasonRateLimited: the key's pace or rate limit cannot send the
	// attempt, and have it answered, before the deadline.
	ReasonRateLimited
	// ReasonQuotaSpent: the key's quota is spent until after the deadline,
	// or until a reset further off than retry.Policy.MaxHint (a per-day quota
	// is never waited for).
	ReasonQuotaSpent
	// ReasonNotReplayable: the request body cannot be sent again.
	ReasonNotReplayable
	// ReasonCanceled: the caller's context ended.
	ReasonCanceled
	// ReasonTooLarge: the request's estimated token cost is larger than
	// its key's whole token limit (configured, or told by the provider's
	// headers): no wait could let it through.
	ReasonTooLarge
	// ReasonFatal: the last attempt failed in a way retrying cannot fix
	// (a transport error classified fatal, or a request that could not be
	// built).
	ReasonFatal
)

// String returns a short lower-case description, such as "retry budget
// exhausted".
func (r Reason) String() string {
	switch r {
	case ReasonNone:
		return "none"
	case ReasonAttempts:
		return "attempts exhausted"
	case ReasonBudget:
		return "retry budget exhausted"
	case ReasonDeadline:
		return "next attempt would end after the deadline"
	case ReasonHintTooLong:
		return "server hint longer than MaxHint"
	case ReasonCircuitOpen:
		return "circuit open"
	case ReasonRateLimited:
		return "rate limited past the deadline"
	case ReasonQuotaSpent:
		return "quota spent until after the deadline or MaxHint"
	case ReasonNotReplayable:
		return "request body cannot be replayed"
	case ReasonCanceled:
		return "context done"
	case ReasonTooLarge:
		return "request larger than the token limit"
	case ReasonFatal:
		return "fatal error"
	}
	return "reason(" + strconv.Itoa(int(r)) + ")"
}

// WaitCause says why a call waits before an attempt.
type WaitCause uint8

// The causes of a wait.
const (
	// WaitBackoff: the retry's own jittered backoff.
	WaitBackoff WaitCause = iota
	// WaitHint: the server's hint (Retry-After and kin).
	WaitHint
	// WaitBreaker: the key's breaker is open or its probes are out.
	WaitBreaker
	// WaitRecovery: the breaker has just closed and waiting calls are
	// released gradually.
	WaitRecovery
	// WaitPace: the key's adaptive pace.
	WaitPace
	// WaitRateLimit: a configured rate limit.
	WaitRateLimit
	// WaitQuota: the key's quota is spent until its reset.
	WaitQuota
)

// String returns "backoff", "hint", "breaker", "recovery", "pace",
// "rate-limit" or "quota".
func (w WaitCause) String() string {
	switch w {
	case WaitBackoff:
		return "backoff"
	case WaitHint:
		return "hint"
	case WaitBreaker:
		return "breaker"
	case WaitRecovery:
		return "recovery"
	case WaitPace:
		return "pace"
	case WaitRateLimit:
		return "rate-limit"
	case WaitQuota:
		return "quota"
	}
	return "wait(" + strconv.Itoa(int(w)) + ")"
}
