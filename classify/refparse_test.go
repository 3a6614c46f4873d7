package classify

import (
	"bytes"
	"encoding/json"
	"time"
	"unicode/utf8"
)

// refParseErrorBody is parseErrorBody(b, false) written with encoding/json,
// the reference the scanner is fuzzed against.
func refParseErrorBody(b []byte) (errorInfo, bool) {
	b = bytes.TrimPrefix(b, bom)
	b = bytes.TrimLeft(b, " \t\r\n")
	if len(b) > 0 && b[0] == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(b, &elems) != nil || len(elems) == 0 || elems[0][0] != '{' {
			return errorInfo{}, false
		}
		b = elems[0]
	}
	if len(b) == 0 || b[0] != '{' {
		return errorInfo{}, false
	}
	var top refWire
	if json.Unmarshal(b, &top) != nil {
		return errorInfo{}, false
	}
	e := errorInfo{
		id:         firstOf(string(top.ErrorID), string(top.ErrorIDSnake)),
		topCode:    string(top.Code),
		topType:    string(top.Type),
		topErrType: string(top.ErrorType),
		requestID:  firstOf(string(top.RequestID), string(top.RequestIDCam)),
	}
	if e.topType == "error" {
		e.topType = ""
	}
	var errString refText
	switch {
	case len(top.Error) == 0 || top.Error[0] == 'n': // absent or null
	case top.Error[0] == '"':
		e.isError = true
		errString.UnmarshalJSON(top.Error)
	case top.Error[0] == '{':
		e.isError = true
		var in refWire
		if json.Unmarshal(top.Error, &in) == nil {
			e.code = string(in.Code)
			e.typ = string(in.Type)
			e.status = string(in.Status)
			e.message = string(in.Message)
			e.requestID = firstOf(string(in.RequestID), string(in.RequestIDCam), e.requestID)
			if e.id == "" {
				e.id = firstOf(string(in.ErrorID), string(in.ErrorIDSnake))
			}
			e.retryDelay, e.hasDelay = refRetryDelay(in.Details)
		}
	default: // a number, a boolean or an array
		e.isError = true
	}
	e.message = firstOf(e.message, string(top.Message), string(errString))
	return e, true
}

// refWire is the JSON of an error body, and of the object in its "error"
// member.
type refWire struct {
	Error        json.RawMessage `json:"error"`
	ErrorID      refText         `json:"errorId"`
	ErrorIDSnake refText         `json:"error_id"`
	Code         refText         `json:"code"`
	Type         refText         `json:"type"`
	ErrorType    refText         `json:"error_type"` // read at the top level only
	Status       refString       `json:"status"`     // read in the error object only
	Message      refText         `json:"message"`
	RequestID    refText         `json:"request_id"`
	RequestIDCam refText         `json:"requestId"`
	Details      json.RawMessage `json:"details"` // read in the error object only
}

// refRetryDelay returns the wait of the first RetryInfo in details whose
// retryDelay parses.
func refRetryDelay(details json.RawMessage) (time.Duration, bool) {
	var elems []json.RawMessage
	if json.Unmarshal(details, &elems) != nil {
		return 0, false
	}
	for _, e := range elems {
		var d struct {
			Type  refText `json:"@type"`
			Delay refText `json:"retryDelay"`
		}
		if e[0] != '{' || json.Unmarshal(e, &d) != nil || d.Type != retryInfoType {
			continue
		}
		if v, ok := parseRetryDelay(string(d.Delay)); ok {
			return v, true
		}
	}
	return 0, false
}

// refText is a JSON value read as text: a string's value, a number's digits,
// and "" for anything else.
type refText string

func (t *refText) UnmarshalJSON(b []byte) error {
	*t = ""
	switch c := b[0]; {
	case c == '"':
		if s := b[1 : len(b)-1]; bytes.IndexByte(s, '\\') < 0 && utf8.Valid(s) {
			*t = refText(s)
			return nil
		}
		var s string
		if json.Unmarshal(b, &s) == nil {
			*t = refText(s)
		}
	case c == '-' || '0' <= c && c <= '9':
		*t = refText(b)
	}
	return nil
}

// refString is a JSON string's value, and "" for any other value.
type refString string

func (t *refString) UnmarshalJSON(b []byte) error {
	*t = ""
	if b[0] == '"' {
		var s refText
		s.UnmarshalJSON(b)
		*t = refString(s)
	}
	return nil
}
