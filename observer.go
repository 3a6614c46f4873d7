package rebound

import (
	"context"
	"log/slog"
	"time"

	"github.com/rebound-http/rebound/breaker"
	"github.com/rebound-http/rebound/classify"
)

// Observer receives events about the calls a Transport makes. Every field is
// optional; a nil field costs nothing. The functions are called on the
// goroutine of the call (breaker changes: of the call that caused them) and
// must be safe for concurrent use; they must not block for long.
type Observer struct {
	// OnAttempt is called after each attempt with its classification.
	OnAttempt func(AttemptEvent)
	// OnRetry is called when a retry is decided on, before its wait.
	OnRetry func(RetryEvent)
	// OnWait is called before each wait of a call: a retry's backoff or
	// hint, and the waits the key's gate imposes (breaker, pace, limit,
	// quota), first attempts included.
	OnWait func(WaitEvent)
	// OnGiveUp is called when a call ends without success although its last
	// answer was retryable, or ends in an error.
	OnGiveUp func(GiveUpEvent)
	// OnBreakerChange is called when a key's circuit breaker changes state.
	OnBreakerChange func(BreakerEvent)
	// OnStore is called when the Transport's Store (WithStore) stops
	// answering and the Transport falls back to its local state, and when
	// it answers again.
	OnStore func(StoreEvent)
	// OnFallback is called when a call goes to the next alternative of its
	// fallback chain (see WithFallback), before it is sent.
	OnFallback func(FallbackEvent)
}

// AttemptEvent describes one attempt.
type AttemptEvent struct {
	// Context is the call's context: its deadline, values and trace span.
	Context  context.Context
	Key      string
	Attempt  int               // 1 for the first
	Decision classify.Decision // what the answer meant
	Duration time.Duration     // from sending to the classified answer
	// Hedge is set for the second copy of a hedged attempt (see
	// WithHedging); it carries the same Attempt number as the first.
	Hedge bool
}

// RetryEvent describes a retry about to be waited for.
type RetryEvent struct {
	// Context is the call's context: its deadline, values and trace span.
	Context  context.Context
	Key      string
	Attempt  int               // the attempt that failed
	Wait     time.Duration     // how long the call waits before the next attempt
	FromHint bool              // the wait comes from the server's hint
	Decision classify.Decision // why: the failed attempt's classification
}

// WaitEvent describes a wait before an attempt.
type WaitEvent struct {
	// Context is the call's context: its deadline, values and trace span.
	Context context.Context
	Key     string
	Attempt int           // the attempt waited for, 1 for the first
	Wait    time.Duration // how long at most
	Cause   WaitCause
}

// GiveUpEvent describes a call that ends without success.
type GiveUpEvent struct {
	// Context is the call's context: its deadline, values and trace span.
	Context  context.Context
	Key      string
	Attempts int
	Reason   Reason // why no further attempt was made
	// Decision is the last attempt's classification; the zero Decision
	// when Attempts is 0.
	Decision classify.Decision
	Err      error // the error returned to the caller, nil if a response was
}

// FallbackEvent describes a call going to an alternative of its fallback
// chain.
type FallbackEvent struct {
	// Context is the call's context: its deadline, values and trace span.
	Context context.Context
	// Key is the key that could not serve the call, and To the key of the
	// alternative it goes to.
	Key, To string
	// Alternative is the alternative's place in the chain, 1 for the first.
	Alternative int
	// Reason says why Key stopped: ReasonAttempts for a retryable or
	// model-fault answer, ReasonCircuitOpen, ReasonQuotaSpent, and so on.
	Reason Reason
	// Decision is the last answer of Key; the zero Decision when Key was
	// not tried (its breaker open, its quota spent).
	Decision classify.Decision
}

// BreakerEvent describes a circuit breaker's change of state.
type BreakerEvent struct {
	Key      string
	From, To breaker.State
}

// SlogObserver returns an Observer that logs retries, fallbacks and give-ups at Info and
// breaker changes at Warn to l, and attempts and waits at Debug, with the
// call's context (its trace span, for handlers that read it). Messages carry the key,
// status, provider code and request id, never a credential.
func SlogObserver(l *slog.Logger) Observer {
	ctx := context.Background()
	decision := func(d classify.Decision) slog.Attr {
		return slog.Group("decision",
			slog.String("verdict", d.Verdict.String()),
			slog.Int("status", d.Status),
			slog.String("code", d.Code),
			slog.String("evidence", d.Evidence.String()),
			slog.String("request_id", d.RequestID),
			slog.Duration("retry_after", d.RetryAfter),
		)
	}
	return Observer{
		OnAttempt: func(e AttemptEvent) {
			if l.Enabled(e.Context, slog.LevelDebug) {
				l.LogAttrs(e.Context, slog.LevelDebug, "rebound attempt", slog.String("key", e.Key),
					slog.Int("attempt", e.Attempt), slog.Duration("duration", e.Duration), decision(e.Decision))
			}
		},
		OnRetry: func(e RetryEvent) {
			l.LogAttrs(e.Context, slog.LevelInfo, "rebound retry", slog.String("key", e.Key),
				slog.Int("attempt", e.Attempt), slog.Duration("wait", e.Wait), slog.Bool("from_hint", e.FromHint),
				decision(e.Decision))
		},
		OnWait: func(e WaitEvent) {
			if l.Enabled(e.Context, slog.LevelDebug) {
				l.LogAttrs(e.Context, slog.LevelDebug, "rebound wait", slog.String("key", e.Key),
					slog.Int("attempt", e.Attempt), slog.Duration("wait", e.Wait), slog.String("cause", e.Cause.String()))
			}
		},
		OnGiveUp: func(e GiveUpEvent) {
			attrs := []slog.Attr{slog.String("key", e.Key), slog.Int("attempts", e.Attempts),
				slog.String("reason", e.Reason.String())}
			if e.Attempts > 0 { // else there was no answer to tell of
				attrs = append(attrs, decision(e.Decision))
			}
			if e.Err != nil {
				attrs = append(attrs, slog.String("error", classify.Redact(e.Err.Error())))
			}
			l.LogAttrs(e.Context, slog.LevelInfo, "rebound give up", attrs...)
		},
		OnFallback: func(e FallbackEvent) {
			attrs := []slog.Attr{slog.String("key", e.Key), slog.String("to", e.To),
				slog.Int("alternative", e.Alternative), slog.String("reason", e.Reason.String())}
			if e.Decision != (classify.Decision{}) { // else Key was not tried
				attrs = append(attrs, decision(e.Decision))
			}
			l.LogAttrs(e.Context, slog.LevelInfo, "rebound fallback", attrs...)
		},
		OnBreakerChange: func(e BreakerEvent) {
			l.LogAttrs(ctx, slog.LevelWarn, "rebound breaker", slog.String("key", e.Key),
				slog.String("from", e.From.String()), slog.String("to", e.To.String()))
		},
	}
}
