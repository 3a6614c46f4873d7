// Package reboundotel records what a rebound.Transport does as OpenTelemetry
// metrics and span events.
//
//	tel, err := reboundotel.New(reboundotel.Config{MeterProvider: mp})
//	if err != nil {
//		return err
//	}
//	tr := rebound.New(base, rebound.WithObserver(tel.Observer()))
//	reg, err := tel.Watch(tr) // the gauges: breaker state, pace, quota, budget
//	if err != nil {
//		return err
//	}
//	defer reg.Unregister()
//	client := &http.Client{Transport: otelhttp.NewTransport(tr)}
//
// # Metrics
//
// Every instrument but the retry budget's and the Store's is attributed per
// key: the key's host as server.address (and server.port when it has one)
// and its model as gen_ai.request.model (left out when the key names none).
// The rest of the names live in the rebound namespace:
//
//	rebound.attempt.duration          histogram s            + http.response.status_code, rebound.verdict, error.type (on failure)
//	rebound.retries                   counter   {retry}      + error.type, rebound.error.code
//	rebound.give_ups                  counter   {call}       + rebound.give_up.reason, http.response.status_code
//	rebound.fallbacks                 counter   {call}       + rebound.fallback.reason, rebound.fallback.to (under the key the call left)
//	rebound.wait.duration             histogram s            + rebound.wait.cause
//	rebound.breaker.transitions       counter   {transition} + rebound.breaker.state, rebound.breaker.previous_state
//	rebound.breaker.state             gauge     {state}      + rebound.breaker.state (1 for the current state, 0 for the others)
//	rebound.pace.rate                 gauge     {request}/s  (keys being paced)
//	rebound.quota.hold                gauge     s            (keys whose spent quota holds them: time to the reset)
//	rebound.quota.requests.remaining  gauge     {request}    (what the provider last said is left, until the window resets)
//	rebound.quota.tokens.remaining    gauge     {token}      (the same for tokens)
//	rebound.retry_budget.remaining    gauge     {retry}      (no attributes)
//	rebound.store.outages             counter   {outage}     (no attributes: the Store stopped answering)
//
// The count of rebound.attempt.duration is the number of attempts. An
// attempt is what OpenTelemetry's HTTP conventions call a client request,
// but http.client.request.duration is left to otelhttp, which records it
// per call or per attempt depending on where it is wrapped (see below):
// recording it here too would count the same requests twice under one name.
// rebound.wait.duration records each wait as planned, the longest it can
// last; a call whose context ends cuts it short.
//
// # Cardinality
//
// Attribute values come from closed sets (verdicts, reasons, causes, states,
// status codes) except the key and the provider's error code. At most
// Config.MaxKeys keys get attributes of their own; the others are recorded
// with server.address and gen_ai.request.model set to "_OTHER" and are left
// out of the gauges. At most 64 distinct error codes are kept; later ones
// are recorded as "_OTHER".
//
// # Spans
//
// Each attempt, wait, retry, fallback and give-up is an event
// ("rebound.attempt", "rebound.wait", "rebound.retry", "rebound.fallback",
// "rebound.give_up") on the span in the
// call's context: otelhttp's client span when otelhttp wraps the Transport,
// the caller's span when it is wrapped inside it. Events rather than child
// spans: the observer hears of an attempt once it is over, an otelhttp
// placed inside already makes a span per attempt, and events put the
// attempts and the waits between them on one timeline at a fraction of a
// span's cost. Nothing is built when the span is not recording. Events carry
// status, verdict, evidence, provider code and request id, wait and cause,
// the fallback's alternative and the key it went to; never a URL, a header,
// a body or the provider's message.
package reboundotel
