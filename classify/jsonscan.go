package classify

// maxDepth is how deeply arrays and objects may nest, the outermost one
// counting 1; encoding/json rejects deeper input with the same limit.
const maxDepth = 10000

// failure says why a scanner stopped.
type failure uint8

const (
	noFailure failure = iota
	cutShort          // the input ended inside a value: a prefix of a longer text
	malformed         // the input is not JSON
)

// A scanner reads one JSON text from b, a token at a time, and tells a text
// cut short (the input ends inside a value, as a body longer than the peek
// does) from one that is not JSON. Once it fails it stays failed; every
// method then returns false.
type scanner struct {
	b     []byte
	i     int
	depth int // how many arrays and objects hold the current position
	fail  failure
}

// stop records why the scan failed, unless it already had, and returns false.
func (s *scanner) stop(f failure) bool {
	if s.fail == noFailure {
		s.fail = f
	}
	return false
}

// next skips white space and returns the byte that follows, without
// consuming it. At the end of the input it fails: cut short.
func (s *scanner) next() (byte, bool) {
	if s.fail != noFailure {
		return 0, false
	}
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return c, true
		}
	}
	return 0, s.stop(cutShort)
}

// atEnd reports whether only white space is left.
func (s *scanner) atEnd() bool {
	for ; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
		default:
			return false
		}
	}
	return true
}

// expect consumes the next non-space byte, which must be c.
func (s *scanner) expect(c byte) bool {
	got, ok := s.next()
	switch {
	case !ok:
		return false
	case got != c:
		return s.stop(malformed)
	}
	s.i++
	return true
}

// str consumes the string at s.b[s.i], which is '"', and returns its token,
// quotes included, and whether it holds escapes. Like encoding/json.Valid it
// checks escapes and control characters, not UTF-8.
func (s *scanner) str() (tok []byte, esc, ok bool) {
	b, j := s.b, s.i+1
	for j < len(b) {
		switch c := b[j]; {
		case c == '"':
			tok, s.i = b[s.i:j+1], j+1
			return tok, esc, true
		case c < 0x20:
			return nil, false, s.stop(malformed)
		case c != '\\':
			j++
			continue
		}
		esc = true
		if j+1 >= len(b) {
			return nil, false, s.stop(cutShort)
		}
		switch b[j+1] {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			j += 2
		case 'u':
			for k := j + 2; k < j+6; k++ {
				if k >= len(b) {
					return nil, false, s.stop(cutShort)
				}
				if !isHex(b[k]) {
					return nil, false, s.stop(malformed)
				}
			}
			j += 6
		default:
			return nil, false, s.stop(malformed)
		}
	}
	return nil, false, s.stop(cutShort)
}

// number consumes the number at s.b[s.i] and returns its token. A number
// that runs to the end of the input may be cut short, and counts as such: no
// text this package reads ends in a number.
func (s *scanner) number() ([]byte, bool) {
	b, i := s.b, s.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return nil, s.stop(cutShort)
	case b[i] == '0':
		i++
	case '1' <= b[i] && b[i] <= '9':
		i = skipDigits(b, i+1)
	default:
		return nil, s.stop(malformed)
	}
	if i < len(b) && b[i] == '.' {
		if i = skipDigits(b, i+1); i < len(b) && b[i-1] == '.' {
			return nil, s.stop(malformed)
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := skipDigits(b, i)
		if j == i && j < len(b) {
			return nil, s.stop(malformed)
		}
		i = j
	}
	if i >= len(b) {
		return nil, s.stop(cutShort)
	}
	tok := b[s.i:i]
	s.i = i
	return tok, true
}

func skipDigits(b []byte, i int) int {
	for i < len(b) && '0' <= b[i] && b[i] <= '9' {
		i++
	}
	return i
}

// literal consumes lit (true, false or null) at s.b[s.i].
func (s *scanner) literal(lit string) bool {
	rest := s.b[s.i:]
	n := min(len(rest), len(lit))
	switch {
	case string(rest[:n]) != lit[:n]:
		return s.stop(malformed)
	case n < len(lit):
		return s.stop(cutShort)
	}
	s.i += n
	return true
}

// value consumes the next value.
func (s *scanner) value() bool {
	c, ok := s.next()
	switch {
	case !ok:
		return false
	case c == '"':
		_, _, ok = s.str()
		return ok
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array(nil)
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, ok = s.number()
		return ok
	}
	return s.stop(malformed)
}

// object consumes the object at s.b[s.i], which is '{'. For each member it
// calls member with the key's token and whether it holds escapes; member
// must consume the value. A nil member skips every value.
func (s *scanner) object(member func(key []byte, esc bool) bool) bool {
	if s.depth++; s.depth > maxDepth {
		return s.stop(malformed)
	}
	s.i++
	c, ok := s.next()
	if ok && c == '}' {
		s.i++
		s.depth--
		return true
	}
	for ok {
		if c != '"' {
			return s.stop(malformed)
		}
		key, esc, valid := s.str()
		if !valid || !s.expect(':') {
			return false
		}
		if member != nil {
			valid = member(key, esc)
		} else {
			valid = s.value()
		}
		if !valid {
			return false
		}
		if done, valid := s.after('}'); done || !valid {
			s.depth--
			return valid
		}
		c, ok = s.next()
	}
	return false
}

// array consumes the array at s.b[s.i], which is '['. For each element it
// calls elem with the element's index; elem must consume the element. A nil
// elem skips every element.
func (s *scanner) array(elem func(i int) bool) bool {
	if s.depth++; s.depth > maxDepth {
		return s.stop(malformed)
	}
	s.i++
	if c, ok := s.next(); !ok {
		return false
	} else if c == ']' {
		s.i++
		s.depth--
		return true
	}
	for i := 0; ; i++ {
		var ok bool
		if elem != nil {
			ok = elem(i)
		} else {
			ok = s.value()
		}
		if !ok {
			return false
		}
		if done, ok := s.after(']'); done || !ok {
			s.depth--
			return ok
		}
	}
}

// after consumes what follows a member or an element: a comma, or closer,
// after which done is true.
func (s *scanner) after(closer byte) (done, ok bool) {
	c, ok := s.next()
	switch {
	case !ok:
		return false, false
	case c == ',':
		s.i++
		return false, true
	case c == closer:
		s.i++
		return true, true
	}
	return false, s.stop(malformed)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
