package key

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"unicode/utf8"
)

// maxDepth is how deeply arrays and objects may nest, the top-level object
// included; encoding/json rejects deeper input with the same limit.
const maxDepth = 10000

// scanModel finds the "model" member of the JSON object in b and returns its
// value's string token, quotes included. plain reports that the text between
// the quotes is the value as it is (no escapes, valid UTF-8). ok is false when
// b is not an object, is malformed where it is read (see ModelFromJSON), has
// no "model" member, or its value is not a string.
func scanModel(b []byte) (tok []byte, plain, ok bool) {
	return scanModelTail(b, tailPeek)
}

// tailPeek is how near its start an array or object standing before
// "model" must end (a stop list) to be skipped from the start; a longer one
// (the messages, as openai-go and anthropic-sdk-go order their bodies, which
// the scan from the start would have to read through) sends scanModel to
// the body's end first. What decides it lies before the model, so that a
// body whose model is replaced (ReplaceModel) is read the same way.
const tailPeek = 64

// scanModelTail is scanModel with the first array or object before "model"
// skipped from the start only if it ends within peek bytes; a negative peek
// never looks at the body's end. The look at the end covers its last
// maxTail bytes first; should the scan from the start then find nothing
// (a body malformed before its model), it covers the rest, so that whether
// a member is found does not depend on how long a model's value is.
func scanModelTail(b []byte, peek int) (tok []byte, plain, ok bool) {
	tok, plain, ok, from := scanFromStart(b, peek)
	if !ok && from >= 0 {
		return modelInTail(b, from, 0)
	}
	return tok, plain, ok
}

// maxTail bounds the first look at the body's end: far enough for an SDK's
// parameters after the model, near enough that a body whose model came
// before the large value wastes little looking.
const maxTail = 4 << 10

// scanFromStart is scanModelTail but for the look at the whole tail; from
// is where the large value whose tail it looked at starts, or -1 when there
// is none or the object was read to its end without finding "model".
func scanFromStart(b []byte, peek int) (tok []byte, plain, ok bool, from int) {
	from = -1
	tried := peek < 0
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return nil, false, false, from
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return nil, false, false, from
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return nil, false, false, from
		}
		end, esc := skipString(b, i)
		if end < 0 {
			return nil, false, false, from
		}
		model := isModelKey(b[i:end], esc)
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return nil, false, false, from
		}
		i = skipSpace(b, i+1)
		if model {
			tok, plain, ok := stringValue(b, i)
			if j := skipSpace(b, i+len(tok)); !ok || j >= len(b) || (b[j] != ',' && b[j] != '}') {
				return nil, false, false, from
			}
			return tok, plain, true, from
		}
		if !tried && i < len(b) && (b[i] == '[' || b[i] == '{') {
			tried = true
			closer := byte(']')
			if b[i] == '{' {
				closer = '}'
			}
			if j := bytes.IndexByte(b[i:min(len(b), i+peek)], closer); j < 0 || skipValue(b[:i+j+1], i, 1) < 0 {
				from = i
				if tok, plain, ok := modelInTail(b, i, maxTail); ok {
					return tok, plain, true, from
				}
			}
		}
		if i = skipValue(b, i, 1); i < 0 {
			return nil, false, false, from
		}
		i = skipSpace(b, i)
		if i < len(b) && b[i] == '}' {
			return nil, false, false, -1 // an object without "model": no need to look further
		}
		if i >= len(b) || b[i] != ',' {
			return nil, false, false, from
		}
		i = skipSpace(b, i+1)
	}
}

// modelInTail looks for the last top-level "model" member of the object in
// b among the members that follow the value starting at b[from], a
// top-level member's, from the body's end. It takes the last `"model"`, not
// escaped, after b[from] (and within its last bound bytes, for a bound
// above 0), and reads it and what follows, forward, as the object's last
// members, closed at the end of b (but for white space). It tries a few
// such candidates, and gives up (ok false) when none reads so; the caller
// then scans on from the start. When the member is found, it and
// everything after it is well-formed: {"model": and the body from tok on
// make a valid object whose only "model" member is tok. Its value must be a
// string. (In a valid body, a `"model"` that reads so is a top-level
// member's name: inside a nested value the members would close before the
// body's end, and a string or a value is not followed by a colon.)
func modelInTail(b []byte, from, bound int) (tok []byte, plain, ok bool) {
	floor, end := from+1, len(b)
	if bound > 0 {
		floor = max(floor, len(b)-bound)
	}
	for range 4 {
		c := lastModelName(b, floor, end)
		if c < 0 {
			return nil, false, false
		}
		end = c
		n := 0
		for c-n > 0 && b[c-n-1] == '\\' {
			n++
		}
		if n%2 == 1 {
			continue // escaped, in a string
		}
		if tok, plain, ok := modelToEnd(b, c+len(modelName)); ok {
			return tok, plain, true
		}
	}
	return nil, false, false
}

var modelName = []byte(`"model"`)

// lastModelName returns the index of the last `"model"` in b[floor:end], or
// -1. It looks for the name's last two bytes, l and its closing quote, eight
// pairs at a time, from the end: bytes.LastIndex hashes every byte, and a
// search for quotes alone stops at every string of the messages.
func lastModelName(b []byte, floor, end int) int {
	lo := floor + len(modelName) - 1 // the lowest a closing quote may be
	for end > lo {
		if end-8 < floor || end < 9 {
			end--
			if b[end] == '"' && string(b[end-len(modelName)+1:end+1]) == `"model"` {
				return end - len(modelName) + 1
			}
			continue
		}
		// w[1:] is the word before end, w[:8] the byte before each of its
		// bytes.
		w := b[end-9 : end]
		end -= 8
		for m := maybeBytes(binary.LittleEndian.Uint64(w[1:]), '"') & maybeBytes(binary.LittleEndian.Uint64(w), 'l'); m != 0; {
			k := 63 - bits.LeadingZeros64(m)
			m &^= 1 << k
			if q := end + k/8; q >= lo && string(b[q-len(modelName)+1:q+1]) == `"model"` {
				return q - len(modelName) + 1
			}
		}
	}
	return -1
}

// maybeBytes returns a word with the high bit set of each byte of x that is
// c, and perhaps of bytes above one (a borrow): the candidates are checked.
func maybeBytes(x uint64, c byte) uint64 {
	y := x ^ uint64(c)*ones
	return (y - ones) &^ y & highs
}

// modelToEnd reads what follows a member name "model" ending at b[i]: a
// colon, a string (tok), then the object's members to its closing brace
// and the end of b, but for white space, none of them named "model".
func modelToEnd(b []byte, i int) (tok []byte, plain, ok bool) {
	i = skipSpace(b, i)
	if i >= len(b) || b[i] != ':' {
		return nil, false, false
	}
	i = skipSpace(b, i+1)
	if tok, plain, ok = stringValue(b, i); !ok {
		return nil, false, false // not a string: the scan from the start decides
	}
	for i = skipSpace(b, i+len(tok)); i < len(b) && b[i] == ','; {
		i = skipSpace(b, i+1)
		if i >= len(b) || b[i] != '"' {
			return nil, false, false
		}
		end, esc := skipString(b, i)
		if end < 0 || isModelKey(b[i:end], esc) {
			return nil, false, false
		}
		if i = skipSpace(b, end); i >= len(b) || b[i] != ':' {
			return nil, false, false
		}
		if i = skipValue(b, skipSpace(b, i+1), 1); i < 0 {
			return nil, false, false
		}
		i = skipSpace(b, i)
	}
	if i >= len(b) || b[i] != '}' || skipSpace(b, i+1) != len(b) {
		return nil, false, false
	}
	return tok, plain, true
}

// stringValue returns the JSON string token at b[i], and whether the text
// between its quotes is the value as it is (no escapes, valid UTF-8); ok is
// false when b[i:] does not start with a well-formed string.
func stringValue(b []byte, i int) (tok []byte, plain, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, false, false
	}
	end, esc := skipString(b, i)
	if end < 0 {
		return nil, false, false
	}
	tok = b[i:end]
	return tok, !esc && utf8.Valid(tok[1:len(tok)-1]), true
}

// isModelKey reports whether the string token tok, with escapes if esc, is
// "model".
func isModelKey(tok []byte, esc bool) bool {
	if !esc {
		return string(tok) == `"model"`
	}
	if len(tok) > 2+5*len(`\u0000`) { // longer than "model" fully escaped
		return false
	}
	s, ok := unquote(tok)
	return ok && s == "model"
}

// unquote decodes a JSON string token as encoding/json does.
func unquote(tok []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(tok, &s); err != nil {
		return "", false
	}
	return s, true
}

// skipSpace returns the index of the first byte at or after b[i] that is
// not JSON white space. Most calls find none: that test is inlined.
func skipSpace(b []byte, i int) int {
	if i < len(b) && b[i] > ' ' {
		return i
	}
	return skipSpaces(b, i)
}

func skipSpaces(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the JSON value at b[i:], or -1 if it
// is malformed. depth is the nesting depth of the container holding it.
func skipValue(b []byte, i, depth int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := skipString(b, i)
		return end
	case c == '{':
		return skipObject(b, i, depth+1)
	case c == '[':
		return skipArray(b, i, depth+1)
	case c == 't':
		return skipLiteral(b, i, "true")
	case c == 'f':
		return skipLiteral(b, i, "false")
	case c == 'n':
		return skipLiteral(b, i, "null")
	case c == '-' || '0' <= c && c <= '9':
		return skipNumber(b, i)
	}
	return -1
}

func skipObject(b []byte, i, depth int) int {
	if depth > maxDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return -1
		}
		if i, _ = skipString(b, i); i < 0 {
			return -1
		}
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != ':' {
			return -1
		}
		if i = skipValue(b, skipSpace(b, i+1), depth); i < 0 {
			return -1
		}
		var done bool
		if i, done = afterElement(b, i, '}'); done {
			return i
		}
	}
}

func skipArray(b []byte, i, depth int) int {
	if depth > maxDepth {
		return -1
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1
	}
	for {
		if i = skipValue(b, i, depth); i < 0 {
			return -1
		}
		var done bool
		if i, done = afterElement(b, i, ']'); done {
			return i
		}
	}
}

func skipLiteral(b []byte, i int, lit string) int {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return -1
	}
	return i + len(lit)
}

// skipNumber returns the index just past the JSON number at b[i:], or -1.
func skipNumber(b []byte, i int) int {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return -1
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		j := skipDigits(b, i+1)
		if j == i+1 {
			return -1
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i {
			return -1
		}
		i = j
	}
	return i
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// Masks for finding, eight bytes at a time, the bytes a JSON string cannot
// hold as they are: '"', '\\' and control characters.
const (
	ones   = 0x0101010101010101
	highs  = 0x8080808080808080
	quotes = '"' * ones
	backs  = '\\' * ones
	spaces = 0x20 * ones
)

// special returns a word whose lowest set bit is the high bit of the first
// byte of x (in little-endian order) that is '"', '\\' or below 0x20, or 0
// if there is none. (The tests for a zero byte and for a byte below n flag
// the first such byte exactly; a borrow may flag later bytes falsely.)
func special(x uint64) uint64 {
	q, s := x^quotes, x^backs
	return ((q-ones)&^q | (s-ones)&^s | (x-spaces)&^x) & highs
}

// skipString returns the index just past the JSON string at b[i:] (b[i] is
// '"') and whether it holds escapes, or -1 if it is malformed. It checks
// escapes and control characters, not UTF-8, like encoding/json.Valid.
func skipString(b []byte, i int) (end int, esc bool) {
	j := i + 1
	for {
		for j+8 <= len(b) {
			if m := special(binary.LittleEndian.Uint64(b[j:])); m != 0 {
				j += bits.TrailingZeros64(m) / 8
				break
			}
			j += 8
		}
		for ; j < len(b); j++ { // at most 8 bytes, or the string's end
			c := b[j]
			if c == '"' {
				return j + 1, esc
			}
			if c == '\\' {
				break
			}
			if c < 0x20 {
				return -1, false
			}
		}
		if j >= len(b) {
			return -1, false
		}
		esc = true
		if j+1 >= len(b) {
			return -1, false
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			if len(b)-j < 6 || !isHex(b[j+2]) || !isHex(b[j+3]) || !isHex(b[j+4]) || !isHex(b[j+5]) {
				return -1, false
			}
			j += 6
		default:
			return -1, false
		}
	}
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// afterElement reads what follows a member of an object or an element of an
// array: a comma, after which it returns the start of the next one, or the
// closer, after which it returns the position past it and done. Anything
// else is malformed: -1 and done.
func afterElement(b []byte, i int, closer byte) (next int, done bool) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return -1, true
	case b[i] == ',':
		return skipSpace(b, i+1), false
	case b[i] == closer:
		return i + 1, true
	}
	return -1, true
}
