package key

import (
	"encoding/json"
	"strings"
)

// ReplaceModel returns a copy of body in which the value of the "model"
// member that ModelFromJSON reads is model, JSON-encoded; every other byte is
// kept as it is, but for this: in a body with several "model" members, one
// whose length changed can make ModelFromJSON read another, which is then
// replaced too, so that ModelFromJSON reads model in the copy. It reports
// false, and returns nil, when ModelFromJSON finds no model in body. body is
// not modified.
func ReplaceModel(body []byte, model string) ([]byte, bool) {
	tok, _, ok := scanModel(body)
	if !ok {
		return nil, false
	}
	enc, _ := json.Marshal(model) // a string always encodes
	out := body
	for range maxReplaced {
		start := cap(out) - cap(tok) // tok is out[start:start+len(tok)]
		next := make([]byte, 0, len(out)-len(tok)+len(enc))
		next = append(next, out[:start]...)
		next = append(next, enc...)
		out = append(next, out[start+len(tok):]...)
		if tok, _, ok = scanModel(out); !ok || string(tok) == string(enc) {
			break
		}
	}
	return out, true
}

// maxReplaced bounds the members ReplaceModel replaces.
const maxReplaced = 8

// ReplacePathModel returns path with the model that ModelFromPath reads in
// it replaced by model; what follows the model (a ":generateContent"
// suffix, further segments, a query) is kept. It reports false, and returns
// path unchanged, when ModelFromPath finds no model.
func ReplacePathModel(path, model string) (string, bool) {
	start, end, ok := pathModel(path)
	if !ok {
		return path, false
	}
	var b strings.Builder
	b.Grow(len(path) - (end - start) + len(model))
	b.WriteString(path[:start])
	b.WriteString(model)
	b.WriteString(path[end:])
	return b.String(), true
}
