// Package key names what a request addresses: the upstream host and the
// model, found in the URL path (/models/{m}, /models/{owner}/{name},
// /deployments/{m}, /model/{m}) or in the JSON body's top-level "model"
// member. Breakers, pacing and rate limits are all kept per key.
//
// Of returns the key as a string; Append appends it to a buffer so that a
// caller can look it up without allocating. ModelFromJSON finds the model
// without decoding the whole body: it scans member by member, skipping
// nested values, and looks for a model that follows a large array or object
// (the messages) from the body's end first.
package key
