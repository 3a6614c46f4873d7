package classify

import (
	"bytes"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"
)

// errorInfo is what an error response says, field by field.
type errorInfo struct {
	id         string // top-level errorId or error_id (Skytells), else the error object's
	code       string // error.code
	topCode    string // top-level code (InferenceKey, vLLM, Mistral)
	awsType    string // the x-amzn-errortype header's type (Bedrock)
	typ        string // error.type
	status     string // error.status, a google.rpc.Code name (Gemini)
	topType    string // top-level type, unless it is Anthropic's envelope "error"
	topErrType string // top-level error_type (TGI)
	message    string
	requestID  string
	retryDelay time.Duration // error.details' google.rpc.RetryInfo (Gemini)
	hasDelay   bool
	isError    bool // the body has a non-null "error" member
}

// keys returns the fields a Catalog looks up, in order of precedence.
func (e *errorInfo) keys() [8]string {
	return [8]string{e.id, e.code, e.topCode, e.awsType, e.typ, e.status, e.topType, e.topErrType}
}

// fill copies the fields into d, redacted.
func (e *errorInfo) fill(d *Decision) {
	d.Code = Redact(firstOf(e.id, e.code, e.topCode, e.awsType))
	d.Type = Redact(firstOf(e.typ, e.status, e.topType, e.topErrType))
	d.Message = Redact(e.message)
	if e.requestID != "" {
		d.RequestID = Redact(e.requestID)
	}
}

// wire holds the members of an error body as the scan meets them. A member
// that occurs twice keeps its last value, as with encoding/json, whose
// case-insensitive matching of member names it shares.
type wire struct {
	// The top level.
	errorID, errorIDSnake, code, typ, errType, message, requestID, requestIDCam string
	// The "error" member: its kind ('{', '"', 'x' for any other non-null
	// value, 0 for none or null), its text if a string, and the members of
	// the object.
	errKind   byte
	errString string
	in        wireError
}

// wireError holds the members of the object in an error body's "error".
type wireError struct {
	errorID, errorIDSnake, code, typ, status, message, requestID, requestIDCam string
	retryDelay                                                                 time.Duration
	hasDelay                                                                   bool
}

// retryInfoType is the @type of a google.rpc.RetryInfo error detail.
const retryInfoType = "type.googleapis.com/google.rpc.RetryInfo"

var bom = []byte("\xef\xbb\xbf")

// parseErrorBody extracts the error fields of a JSON body: an object, or an
// array whose first element is one (Gemini). It reports false, and a zero
// errorInfo, when b is anything else (HTML, plain text, empty, malformed),
// whatever the Content-Type said. When cut is true, b may be the start of a
// longer body, and a text that ends too soon yields the members read before
// the cut.
func parseErrorBody(b []byte, cut bool) (errorInfo, bool) {
	s := scanner{b: bytes.TrimPrefix(b, bom)}
	var w wire
	found := true // the body is an object, or an array that holds one first
	switch c, ok := s.next(); {
	case !ok:
		return errorInfo{}, false
	case c == '{':
		s.object(w.topMember(&s))
	case c == '[':
		found = false
		s.array(func(i int) bool {
			if i > 0 {
				return s.value()
			}
			if c, ok := s.next(); !ok || c != '{' {
				return s.stop(malformed) // not an error body
			}
			found = true
			return s.object(w.topMember(&s))
		})
	default:
		return errorInfo{}, false
	}
	switch {
	case !found, s.fail == noFailure && !s.atEnd(), s.fail == malformed, s.fail == cutShort && !cut:
		return errorInfo{}, false
	}
	return w.info(), true
}

// info assembles what the members say.
func (w *wire) info() errorInfo {
	e := errorInfo{
		id:         firstOf(w.errorID, w.errorIDSnake, w.in.errorID, w.in.errorIDSnake),
		topCode:    w.code,
		topType:    w.typ,
		topErrType: w.errType,
		requestID:  firstOf(w.in.requestID, w.in.requestIDCam, w.requestID, w.requestIDCam),
		code:       w.in.code,
		typ:        w.in.typ,
		status:     w.in.status,
		message:    firstOf(w.in.message, w.message, w.errString),
		retryDelay: w.in.retryDelay,
		hasDelay:   w.in.hasDelay,
		isError:    w.errKind != 0,
	}
	if e.topType == "error" {
		e.topType = ""
	}
	return e
}

// topMember returns the member function of the body's object.
func (w *wire) topMember(s *scanner) func([]byte, bool) bool {
	return func(key []byte, esc bool) bool {
		switch k := keyName(key, esc); {
		case isKey(k, "error"):
			return w.errorMember(s)
		case isKey(k, "errorId"):
			return s.text(&w.errorID)
		case isKey(k, "error_id"):
			return s.text(&w.errorIDSnake)
		case isKey(k, "code"):
			return s.text(&w.code)
		case isKey(k, "type"):
			return s.text(&w.typ)
		case isKey(k, "error_type"):
			return s.text(&w.errType)
		case isKey(k, "message"):
			return s.text(&w.message)
		case isKey(k, "request_id"):
			return s.text(&w.requestID)
		case isKey(k, "requestId"):
			return s.text(&w.requestIDCam)
		}
		return s.value()
	}
}

// errorMember consumes the value of the body's "error" member.
func (w *wire) errorMember(s *scanner) bool {
	w.errKind, w.errString, w.in = 0, "", wireError{}
	c, ok := s.next()
	switch {
	case !ok:
		return false
	case c == '{':
		w.errKind = '{'
		in := &w.in
		return s.object(func(key []byte, esc bool) bool {
			switch k := keyName(key, esc); {
			case isKey(k, "errorId"):
				return s.text(&in.errorID)
			case isKey(k, "error_id"):
				return s.text(&in.errorIDSnake)
			case isKey(k, "code"):
				return s.text(&in.code)
			case isKey(k, "type"):
				return s.text(&in.typ)
			case isKey(k, "status"):
				return s.stringOnly(&in.status)
			case isKey(k, "message"):
				return s.text(&in.message)
			case isKey(k, "request_id"):
				return s.text(&in.requestID)
			case isKey(k, "requestId"):
				return s.text(&in.requestIDCam)
			case isKey(k, "details"):
				return in.details(s)
			}
			return s.value()
		})
	case c == '"':
		w.errKind = '"'
		return s.text(&w.errString)
	case c != 'n':
		w.errKind = 'x'
	}
	return s.value()
}

// details consumes the error object's "details" and keeps the wait of its
// first google.rpc.RetryInfo whose retryDelay parses.
func (in *wireError) details(s *scanner) bool {
	in.retryDelay, in.hasDelay = 0, false
	if c, ok := s.next(); !ok || c != '[' {
		return s.value()
	}
	return s.array(func(int) bool {
		if c, ok := s.next(); !ok || c != '{' {
			return s.value()
		}
		var typ, delay string
		ok := s.object(func(key []byte, esc bool) bool {
			switch k := keyName(key, esc); {
			case isKey(k, "@type"):
				return s.text(&typ)
			case isKey(k, "retryDelay"):
				return s.text(&delay)
			}
			return s.value()
		})
		if d, valid := parseRetryDelay(delay); ok && valid && !in.hasDelay && typ == retryInfoType {
			in.retryDelay, in.hasDelay = d, true
		}
		return ok
	})
}

// parseRetryDelay parses a google.protobuf.Duration in its JSON form, decimal
// seconds with an "s" ("30s", "45.837906927s"), rounding up to the
// nanosecond and clamping to MaxHint.
func parseRetryDelay(v string) (time.Duration, bool) {
	n, ok := strings.CutSuffix(v, "s")
	if !ok || strings.TrimSpace(n) != n {
		return 0, false
	}
	return parseDecimal(n, float64(time.Second))
}

// text consumes a value and stores it in dst as text: a string's value, a
// number's digits, and "" for anything else (null, booleans, objects,
// arrays).
func (s *scanner) text(dst *string) bool {
	*dst = ""
	c, ok := s.next()
	switch {
	case !ok:
		return false
	case c == '"':
		tok, esc, ok := s.str()
		if ok {
			*dst = unquote(tok, esc)
		}
		return ok
	case c == '-' || '0' <= c && c <= '9':
		tok, ok := s.number()
		if ok {
			*dst = string(tok)
		}
		return ok
	}
	return s.value()
}

// stringOnly is text for strings alone: a number too is stored as "".
func (s *scanner) stringOnly(dst *string) bool {
	if c, ok := s.next(); ok && c != '"' {
		*dst = ""
		return s.value()
	}
	return s.text(dst)
}

// unquote returns the value of the string token tok, decoded as
// encoding/json decodes it (invalid UTF-8 becomes U+FFFD).
func unquote(tok []byte, esc bool) string {
	if s := tok[1 : len(tok)-1]; !esc && utf8.Valid(s) {
		return string(s)
	}
	var v string
	json.Unmarshal(tok, &v) // the scanner has validated tok
	return v
}

// keyName returns the name a member's key token spells.
func keyName(tok []byte, esc bool) []byte {
	if !esc {
		return tok[1 : len(tok)-1]
	}
	return []byte(unquote(tok, true))
}

// isKey reports whether a member named k sets the field named name: names
// match as encoding/json matches them to struct fields, ignoring case.
func isKey(k []byte, name string) bool {
	return bytes.EqualFold(k, []byte(name))
}

func firstOf(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}
