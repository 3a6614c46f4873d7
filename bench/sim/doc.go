// Package sim is the simulated upstream of the bench: an OpenAI-compatible
// chat-completions endpoint on loopback, one listener per model, whose errors
// are drawn from the error catalogs of the five seed services (status, body
// and headers as each service documents them).
//
// A Scenario says what the upstream does (independent flaky errors or random
// 429s, a token bucket per model under steady or bursty load, request and
// token quotas told in x-ratelimit-* headers, an outage window, overload, a
// synchronized failure, a storm of 503s over many models, a slow tail, or
// streams whose first event is an error) and what a client that knew the
// fault in advance could reach (Scenario.Optimum); an Upstream serves one run
// of a scenario and counts, for every call of the load generator (identified
// by the CallHeader request header), how many attempts reached it, how many
// retries arrived before the hint the previous attempt was given had expired,
// and how many retries followed a fatal answer.
//
// Every random choice of the upstream for attempt k of call c is drawn from a
// PCG generator seeded with (seed, c, k), so a run's faults do not depend on
// the order in which concurrent requests arrive. Time-driven behaviour (token
// buckets, windows, load-dependent latency) depends on the wall clock and is
// reproducible only statistically.
//
// An Upstream is safe for concurrent use by multiple goroutines; its zero
// value is not usable, create one with New.
package sim
