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
//     then Bedrock's x-amzn-errortype header, then error.type, error.status
//     (Gemini), the top-level type and error_type (TGI), unless the status
//     overrules it, as the table below says;
//  4. the status: the Catalog's Statuses, else StatusVerdict (408, 429 and
//     most 5xx are Retryable; other 4xx are Fatal).
//
// # Precedence of body and status
//
// A code the Catalog knows decides only where the status lets it. Generic
// codes are the class names services send with statuses of every kind:
// invalid_request_error, invalid_request, bad_request, api_error and
// server_error. Every other code is specific (insufficient_quota,
// model_overloaded, the service catalogs' codes).
//
//	status                       code agrees    specific code      generic code
//	                             with status    disagrees          disagrees
//	413, 414, 431 (too large)    code decides   status decides     status decides
//	409 Conflict                 code decides   code decides       code decides
//	any other status             code decides   code decides       status decides
//
// So a 429 insufficient_quota is Fatal, a 503 model_unavailable too, and a
// 429 whose only code is invalid_request_error (Mistral's capacity error)
// stays Retryable; a 413 is Fatal even if its code is rate_limit_exceeded
// (Groq's request too large for the tokens-per-minute limit), since the
// same request will always be too large; a 404 api_error (Ollama) stays
// Fatal. The x-should-retry header overrules all of them.
//
// # Reading the body
//
// A body is read only for statuses of 400 and more, and for the first event
// of a 200 text/event-stream response, which may report an error instead of
// an answer. At most Catalog.MaxPeek bytes are read (DefaultMaxPeek, 64 KiB,
// unless set), for at most Catalog.MaxPeekTime (DefaultMaxPeekTime, 2 s,
// unless set), and they are put back: the caller reads every byte the
// upstream sent. A body that trickles in is classified on what arrived in
// time. Other bodies are never touched, and classifying a 200 response
// does not allocate.
//
// Error bodies are JSON in any of the shapes these services use, whatever
// their Content-Type says, in a gzip or deflate Content-Encoding too (which
// the classifier alone decodes: the caller reads the encoded bytes):
//
//	{"error":{"code":"rate_limited","message":"…","request_id":"…"}}
//	{"error":"permission denied [scope_insufficient]: …","code":"scope_insufficient"}
//	{"errorId":"RATE_LIMIT_EXCEEDED","message":"…","requestId":"…","error":{"type":"server_error"}}
//	{"type":"error","error":{"type":"overloaded_error","message":"…"},"request_id":"…"}
//	{"object":"error","message":"…","type":"invalid_request_error","code":null}
//	[{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}]
//	{"error":"Model is overloaded","error_type":"overloaded"}
//
// A body longer than MaxPeek is cut in the middle of its JSON; the members
// read before the cut still count. Bodies that are not JSON, malformed or
// empty leave the decision to the status. Hints come from retry-after-ms,
// Retry-After and, for 429 responses, the x-ratelimit-reset-* headers (see
// ParseRetryAfter); without those, from the body's google.rpc.RetryInfo
// (Gemini sends no Retry-After).
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
