// Package classify tells what an HTTP response, or the error of a failed
// round trip, means for a client of an AI-inference API: Success, Retryable
// or Fatal, with the provider's error code, message and request id, and how
// long the server asked the client to wait.
//
// The evidence counts strongest first:
//
//  1. a transport error (see ClassifyError): connection refused or reset,
//     a timeout, an EOF are Retryable; the caller's cancelled context and
//     certificate errors are Fatal;
//  2. the x-should-retry response header, "true" or "false", which OpenAI
//     and Anthropic send to overrule the status;
//  3. the provider's error code in the body, looked up in the Catalog of the
//     service: errorId (or error_id), then error.code or the top-level code,
//     then error.type;
//  4. the status: the Catalog's Statuses, else StatusVerdict (408, 429 and
//     most 5xx are Retryable; other 4xx are Fatal).
//
// A body is read only for statuses of 400 and more, and for the first event
// of a 200 text/event-stream response, which may report an error instead of
// an answer. At most Catalog.MaxPeek bytes are read (DefaultMaxPeek, 64 KiB,
// unless set), and they are put back: the caller reads every byte the
// upstream sent. Other bodies are never touched, and classifying a 200
// response does not allocate.
//
// Error bodies are JSON objects in any of the shapes these services use,
// whatever their Content-Type says:
//
//	{"error":{"code":"rate_limited","message":"…","request_id":"…"}}
//	{"error":"permission denied [scope_insufficient]: …","code":"scope_insufficient"}
//	{"errorId":"RATE_LIMIT_EXCEEDED","message":"…","requestId":"…","error":{"type":"server_error"}}
//	{"type":"error","error":{"type":"overloaded_error","message":"…"},"request_id":"…"}
//
// Bodies that are not JSON, truncated or empty leave the decision to the
// status. Hints come from retry-after-ms, Retry-After and, for 429
// responses, the x-ratelimit-reset-* headers (see ParseRetryAfter).
//
// Messages, codes and request ids pass through Redact, so no API key or
// bearer token reaches a Decision or an error string.
//
// # Choosing a catalog
//
// Services disagree on what some codes mean, so configure the catalog of the
// service you call:
//
//	d := classify.Gateway().Classify(resp, err) // internal_error: Fatal
//
// Default is for callers who do not say: it knows the codes the service
// catalogs agree on, and for the others the status decides. A Catalog is a
// plain struct, so a service of your own is one literal away:
//
//	c := &classify.Catalog{Name: "acme", Codes: map[string]classify.Verdict{"busy": classify.Retryable}}
//
// # Default conflicts
//
// The catalogs disagree on these codes and statuses, which Default
// therefore leaves to the status:
//
//   - code internal_error: retryable for inferkit; fatal for gateway
//   - status 409: retryable for openai, anthropic; fatal for inferencekey, inferkit, infe, gateway, skytells
//
// # Zero values and concurrency
//
// The zero Catalog, like a nil *Catalog, knows no codes: the header and the
// status decide. A Catalog must not be modified once in use; from then on
// it, Func values built on it and every function of the package are safe for
// concurrent use by multiple goroutines. The package has no mutable global
// state.
package classify
