// Package fakeupstream is a scripted stand-in for an inference API, used by
// the examples so that they run offline and their tests can count what the
// upstream really received.
//
// A Server answers each path from a script: a queue of Replies, one per
// request, whose last Reply repeats once the queue is down to it. It records
// every request it receives (arrival time, headers, body), so a test can
// assert how many requests a client sent and how far apart they were — the
// server-side proof that retries happened, and happened only once.
//
// The reply constructors produce the error shapes of the services the
// examples target: OpenAI's {"error":{"type","code","message"}} with
// retry-after-ms / Retry-After hints, and Anthropic's
// {"type":"error","error":{"type":"overloaded_error"}} with status 529.
//
// There is no usable zero Server; start one with Start and stop it with
// Close. A Server is safe for concurrent use by multiple goroutines.
package fakeupstream
