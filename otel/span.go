package reboundotel

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	rebound "github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/classify"
)

// The span events. Each is added to the span in the call's context, and
// built only when that span is recording. None carries a URL, a header, a
// body or the provider's message.

func attemptEvent(ctx context.Context, e rebound.AttemptEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	kvs := make([]attribute.KeyValue, 0, 10)
	kvs = append(kvs, attemptKey.Int(e.Attempt), durationKey.Float64(e.Duration.Seconds()))
	if _, model, _ := strings.Cut(e.Key, "/"); model != "" { // spans need no cardinality bound
		kvs = append(kvs, semconv.GenAIRequestModel(clean(model)))
	}
	kvs = decisionAttrs(kvs, e.Decision)
	span.AddEvent("rebound.attempt", trace.WithAttributes(kvs...))
}

func retryEvent(ctx context.Context, e rebound.RetryEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	cause := rebound.WaitBackoff
	if e.FromHint {
		cause = rebound.WaitHint
	}
	kvs := make([]attribute.KeyValue, 0, 9)
	kvs = append(kvs, attemptKey.Int(e.Attempt), waitKey.Float64(e.Wait.Seconds()), causeKey.String(causeName(cause)))
	kvs = decisionAttrs(kvs, e.Decision)
	span.AddEvent("rebound.retry", trace.WithAttributes(kvs...))
}

func waitEvent(ctx context.Context, e rebound.WaitEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent("rebound.wait", trace.WithAttributes(attemptKey.Int(e.Attempt),
		waitKey.Float64(e.Wait.Seconds()), causeKey.String(causeName(e.Cause))))
}

func giveUpEvent(ctx context.Context, e rebound.GiveUpEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	kvs := make([]attribute.KeyValue, 0, 9)
	kvs = append(kvs, attemptsKey.Int(e.Attempts), reasonKey.String(reasonName(e.Reason)))
	if e.Attempts > 0 {
		kvs = decisionAttrs(kvs, e.Decision)
	}
	span.AddEvent("rebound.give_up", trace.WithAttributes(kvs...))
}

func fallbackEvent(ctx context.Context, e rebound.FallbackEvent) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	kvs := make([]attribute.KeyValue, 0, 10)
	kvs = append(kvs, alternativeKey.Int(e.Alternative), fallbackToKey.String(clean(e.To)), fallbackWhyKey.String(reasonName(e.Reason)))
	if e.Decision != (classify.Decision{}) { // no answer: the key was not tried
		kvs = decisionAttrs(kvs, e.Decision)
	}
	span.AddEvent("rebound.fallback", trace.WithAttributes(kvs...))
}

// decisionAttrs appends what d says, its message left out: provider text
// may quote the request.
func decisionAttrs(kvs []attribute.KeyValue, d classify.Decision) []attribute.KeyValue {
	if d.Status != 0 {
		kvs = append(kvs, semconv.HTTPResponseStatusCode(d.Status))
	}
	kvs = append(kvs, verdictKey.String(d.Verdict.String()), evidenceKey.String(d.Evidence.String()))
	code := clean(classify.Redact(d.Code))
	if d.Verdict != classify.Success {
		kvs = append(kvs, semconv.ErrorTypeKey.String(errorType(d.Status, code)))
	}
	if code != "" {
		kvs = append(kvs, codeKey.String(code))
	}
	if d.RequestID != "" {
		kvs = append(kvs, requestIDKey.String(clean(classify.Redact(d.RequestID))))
	}
	if d.RetryAfter > 0 {
		kvs = append(kvs, retryAfterKey.Float64(d.RetryAfter.Seconds()))
	}
	return kvs
}
