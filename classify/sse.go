package classify

import (
	"bytes"
	"io"
	"net/http"
)

// classifyStream looks at the first event of a 200 text/event-stream
// response. A stream may open with an error (a gateway's stream_error,
// Anthropic's overloaded_error) instead of an answer: when the event is named
// "error", or its data is a JSON object with a non-null "error" member, the
// error's code decides as in a body, and a code c does not know is Fatal.
// A stream that ends or breaks before its first event is Retryable. Any
// other first event leaves d a Success.
func (c *Catalog) classifyStream(resp *http.Response, d *Decision) {
	limit := c.maxPeek()
	if limit == 0 || contentCoding(resp.Header) != "" {
		return // an encoded stream can only be read as it arrives: left to the caller
	}
	b, whole := peek(resp, limit, c.maxPeekTime(), c.timer(), newEventEnd())
	data, event := firstEvent(b)
	if pb, ok := resp.Body.(*peekedBody); ok && pb.err != nil && len(data) == 0 && event == "" {
		// The stream ended, or broke, before its first event: nothing of
		// an answer reached the caller, so it may be asked again.
		d.Verdict, d.Evidence = Retryable, ByTransport
		d.Message = "event stream ended before its first event"
		if pb.err != io.EOF {
			d.Message = "event stream broke before its first event: " + Redact(pb.err.Error())
		}
		return
	}
	named := event == "error"
	if !named && !bytes.Contains(data, []byte(`"error"`)) {
		return
	}
	info, ok := parseErrorBody(data, !whole)
	if !named && !info.isError {
		return
	}
	if ok {
		info.fill(d)
	} else {
		d.Message = Redact(string(data))
	}
	d.Verdict, d.Evidence = Fatal, ByBody
	if v, found := c.lookup(&info); found {
		d.Verdict = v
	}
}

// eventEnd finds the end of the first event of an event stream while peek
// reads it, scanning each byte once however the stream is split into reads.
// The first event ends at the first blank line after an "event" or "data"
// field; blank lines, comments and other fields before it do not count
// (a stream may open with ": keep-alive" comments or a "retry" field).
type eventEnd struct {
	line   int  // offset of the current line
	next   int  // offset where the search for the current line's end resumes
	skipLF bool // the last line ended in CR at the end of the buffer
	seen   bool // the current block has an "event" or "data" field
}

// newEventEnd returns a done function for peek that reports true once the
// buffer holds the whole first event.
func newEventEnd() func([]byte) bool {
	s := &eventEnd{}
	return s.done
}

func (s *eventEnd) done(b []byte) bool {
	for {
		if s.skipLF { // CR then LF is one line ending, even across reads
			if s.line >= len(b) {
				return false
			}
			if b[s.line] == '\n' {
				s.line++
			}
			s.next, s.skipLF = s.line, false
		}
		i := bytes.IndexAny(b[s.next:], "\r\n")
		if i < 0 {
			s.next = len(b)
			return false
		}
		end := s.next + i
		line := b[s.line:end]
		s.line = end + 1
		if b[end] == '\r' {
			if s.line == len(b) {
				s.skipLF = true
			} else if b[s.line] == '\n' {
				s.line++
			}
		}
		s.next = s.line
		if len(line) == 0 {
			if s.seen {
				return true
			}
			continue
		}
		if name, _ := splitField(line); string(name) == "event" || string(name) == "data" {
			s.seen = true
		}
	}
}

// firstEvent parses the first event in b, as eventEnd delimits it, and
// returns its data (data lines joined by "\n") and its event name. The end of
// b ends an event that has no blank line after it.
func firstEvent(b []byte) (data []byte, event string) {
	var seen, hasData bool
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexAny(b, "\r\n"); i < 0 {
			line, b = b, nil
		} else {
			line = b[:i]
			if b[i] == '\r' && i+1 < len(b) && b[i+1] == '\n' {
				i++
			}
			b = b[i+1:]
		}
		if len(line) == 0 {
			if seen {
				break
			}
			continue
		}
		switch name, value := splitField(line); string(name) {
		case "event":
			event, seen = string(value), true
		case "data":
			if hasData {
				data = append(append(data[:len(data):len(data)], '\n'), value...)
			} else {
				data = value
			}
			hasData, seen = true, true
		}
	}
	return data, event
}

// splitField splits an event stream line into its field name and value; a
// comment line (":…") has an empty name.
func splitField(line []byte) (name, value []byte) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return line, nil
	}
	value = line[i+1:]
	if len(value) > 0 && value[0] == ' ' {
		value = value[1:]
	}
	return line[:i], value
}
