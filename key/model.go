package key

import (
	"encoding/json"
	"strings"
)

// ReplaceModel returns a copy of body in which the value of the "model"
// member that ModelFromJSON reads is model, JSON-encoded; every other byte is
// kept as it is. It reports false, and returns nil, when ModelFromJSON finds
// no model in body. body is not modified.
func ReplaceModel(body []byte, model string) ([]byte, bool) {
	tok, _, ok := scanModel(body)
	if !ok {
		return nil, false
	}
	start := cap(body) - cap(tok) // tok is body[start:start+len(tok)]
	enc, _ := json.Marshal(model) // a string always encodes
	out := make([]byte, 0, len(body)-len(tok)+len(enc))
	out = append(out, body[:start]...)
	out = append(out, enc...)
	return append(out, body[start+len(tok):]...), true
}

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
