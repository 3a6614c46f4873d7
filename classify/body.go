package classify

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"unicode/utf8"
)

// errorInfo is what an error body says, field by field.
type errorInfo struct {
	id        string // top-level errorId or error_id (Skytells)
	code      string // error.code
	topCode   string // top-level code (InferenceKey)
	typ       string // error.type
	topType   string // top-level type, unless it is Anthropic's envelope "error"
	message   string
	requestID string
	isError   bool // the body has a non-null "error" member
}

// keys returns the fields a Catalog looks up, in order of precedence.
func (e *errorInfo) keys() [5]string {
	return [5]string{e.id, e.code, e.topCode, e.typ, e.topType}
}

// fill copies the body's fields into d, redacted.
func (e *errorInfo) fill(d *Decision) {
	d.Code = Redact(firstOf(e.id, e.code, e.topCode))
	d.Type = Redact(firstOf(e.typ, e.topType))
	d.Message = Redact(e.message)
	if e.requestID != "" {
		d.RequestID = Redact(e.requestID)
	}
}

// wireError is the JSON of an error body, and of the object in its "error"
// member. Services disagree on the members' types: "error" is an object or a
// string, so it is kept raw; "code" is a string, a number or null, so every
// other member is read as a text.
type wireError struct {
	Error        json.RawMessage `json:"error"`
	ErrorID      text            `json:"errorId"`
	ErrorIDSnake text            `json:"error_id"`
	Code         text            `json:"code"`
	Type         text            `json:"type"`
	Message      text            `json:"message"`
	RequestID    text            `json:"request_id"`
	RequestIDCam text            `json:"requestId"`
}

// parseErrorBody extracts the error fields of a JSON body. It reports false,
// and a zero errorInfo, when b is not a JSON object (HTML, plain text, empty,
// truncated), whatever the Content-Type said.
func parseErrorBody(b []byte) (errorInfo, bool) {
	b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return errorInfo{}, false
	}
	var top wireError
	if json.Unmarshal(b, &top) != nil {
		return errorInfo{}, false
	}
	e := errorInfo{
		id:        firstOf(string(top.ErrorID), string(top.ErrorIDSnake)),
		topCode:   string(top.Code),
		topType:   string(top.Type),
		requestID: firstOf(string(top.RequestID), string(top.RequestIDCam)),
	}
	if e.topType == "error" {
		e.topType = ""
	}
	var errString text
	switch {
	case len(top.Error) == 0 || top.Error[0] == 'n': // absent or null
	case top.Error[0] == '"':
		e.isError = true
		errString.UnmarshalJSON(top.Error)
	case top.Error[0] == '{':
		e.isError = true
		var in wireError
		if json.Unmarshal(top.Error, &in) == nil {
			e.code = string(in.Code)
			e.typ = string(in.Type)
			e.message = string(in.Message)
			e.requestID = firstOf(string(in.RequestID), string(in.RequestIDCam), e.requestID)
			if e.id == "" {
				e.id = firstOf(string(in.ErrorID), string(in.ErrorIDSnake))
			}
		}
	default: // a number, a boolean or an array: say nothing about it
		e.isError = true
	}
	e.message = firstOf(e.message, string(top.Message), string(errString))
	return e, true
}

// text is a JSON value read as text: a string's value, a number's digits,
// and "" for anything else (null, booleans, objects, arrays).
type text string

// UnmarshalJSON implements json.Unmarshaler. It never fails: a member of an
// unexpected type is read as "".
func (t *text) UnmarshalJSON(b []byte) error {
	*t = ""
	if len(b) == 0 {
		return nil
	}
	switch c := b[0]; {
	case c == '"':
		// The decoder has validated b: without escapes, its value is
		// its content.
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			*t = text(s)
			return nil
		}
		var s string
		if json.Unmarshal(b, &s) == nil {
			*t = text(s)
		}
	case c == '-' || '0' <= c && c <= '9':
		*t = text(b)
	}
	return nil
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// maxEmptyReads is how many reads in a row may return no bytes and no error
// before peek gives up on a misbehaving body (bufio uses the same bound).
const maxEmptyReads = 100

// peek reads at most limit bytes of resp.Body, stopping early once done
// reports true for the bytes read so far, and puts them back: resp.Body then
// yields the peeked bytes followed by the rest of the original body, or by
// the error that stopped the peek. It returns the peeked bytes, which the
// caller must not modify.
func peek(resp *http.Response, limit int64, done func([]byte) bool) []byte {
	if limit <= 0 || resp.Body == nil || resp.Body == http.NoBody {
		return nil
	}
	size := int64(512)
	if cl := resp.ContentLength; cl >= 0 && cl < size {
		size = cl + 1 // room to see io.EOF without growing
	}
	size = min(size, limit)
	buf := make([]byte, 0, size)
	var err error
	for empty := 0; int64(len(buf)) < limit && empty < maxEmptyReads; {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), limit-int64(len(buf)))))
		}
		var n int
		n, err = resp.Body.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if err != nil {
			break
		}
		if n == 0 {
			empty++
			continue
		}
		empty = 0
		if done != nil && done(buf) {
			break
		}
	}
	resp.Body = &peekedBody{buf: buf, rest: resp.Body, err: err}
	return buf
}

// peekedBody gives back the bytes peek took from rest.
type peekedBody struct {
	buf  []byte        // peeked bytes not yet read again
	rest io.ReadCloser // the original body
	err  error         // what rest returned to the peek: read no further
}

func (b *peekedBody) Read(p []byte) (int, error) {
	if len(b.buf) > 0 {
		n := copy(p, b.buf)
		b.buf = b.buf[n:]
		return n, nil
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.rest.Read(p)
}

func (b *peekedBody) Close() error { return b.rest.Close() }
