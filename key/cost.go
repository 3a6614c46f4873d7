package key

import (
	"bytes"
	"encoding/binary"
	"math"
)

// bytesPerToken is how many bytes of a request body are reckoned one token
// of prompt: the usual rule of thumb for English text (OpenAI's "about four
// characters per token").
const bytesPerToken = 4

// The members that declare a request's output cap: max_tokens (OpenAI
// chat, Anthropic, Mistral, Groq and most compatible APIs),
// max_completion_tokens (OpenAI's newer chat parameter), max_output_tokens
// (OpenAI Responses) and maxOutputTokens (Gemini's generationConfig), in
// the order outputCap looks for them. They are found by their tails, whose
// first bytes are rare in prompts, so that the vectorized search for that
// byte skips most of a body at once (see indexTail); the head is then
// checked backwards.
var capTails = [...]struct {
	tail  []byte
	word  uint64 // the tail's first eight bytes, little-endian
	heads []string
}{
	{tail: []byte(`_tokens"`), heads: []string{`"max`, `"max_completion`, `"max_output`}},
	{tail: []byte(`OutputTokens"`), heads: []string{`"max`}},
}

func init() {
	for i := range capTails {
		capTails[i].word = binary.LittleEndian.Uint64(capTails[i].tail)
	}
}

// Cost estimates the tokens a request with this JSON body will be charged
// against a token limit, as providers reckon it before running the request:
// its declared output cap plus its prompt, one token for every four bytes
// of the body. The output cap is the largest number held by a member named
// max_tokens, max_completion_tokens or max_output_tokens anywhere in the
// body or, in a body with none of those, by one named maxOutputTokens
// (Gemini's generationConfig); a body that declares none is charged its
// prompt only. Text inside strings is never taken for a member.
//
// Cost does not parse the body: it looks for those names with a vectorized
// search, an order of magnitude faster than a member-by-member scan. It is
// an estimate: a body carrying images or files inline (base64) is reckoned
// far above what a provider charges for them; give the Transport a cost
// function of its own for such traffic.
func Cost(body []byte) int {
	n := (len(body) + bytesPerToken - 1) / bytesPerToken
	return n + outputCap(body)
}

// outputCap returns the largest output cap the body declares, or 0. The
// camelCase name is looked for only in a body without a snake_case one:
// APIs use one style or the other, and most bodies then take one pass.
func outputCap(b []byte) int {
	best, found := 0, false
	for _, c := range capTails {
		if found {
			break
		}
		tail := c.tail
		for i := 0; ; {
			j := indexTail(b[i:], tail, c.word)
			if j < 0 {
				break
			}
			at := i + j
			i = at + len(tail)
			if !hasHead(b[:at], c.heads) {
				continue
			}
			if v, ok := numberAfterName(b[i:]); ok {
				best, found = max(best, v), true
			}
		}
	}
	return best
}

// indexTail returns the index of the first tail in b, or -1; word is its
// first eight bytes. It goes from one of the tail's first byte to the next,
// rare in prose, and compares a word there. In text dense with that byte
// (snake_case code) it goes on from one quote to the next, where the tail
// would end; in text dense with both, it takes bytes.Index for the rest.
func indexTail(b, tail []byte, word uint64) int {
	i, from := 0, 0
	for fails := 0; fails <= 4+(i-from)/64; fails++ { // one in 64 bytes
		j := bytes.IndexByte(b[i:], tail[0])
		if j < 0 {
			return -1
		}
		if at := i + j; isTail(b, at, tail, word) {
			return at
		}
		i += j + 1
	}
	last := len(tail) - 1
	from = i
	for fails := 0; fails <= 4+(i-from)/64; fails++ {
		if i+last >= len(b) {
			return -1
		}
		j := bytes.IndexByte(b[i+last:], tail[last])
		if j < 0 {
			return -1
		}
		if at := i + j; isTail(b, at, tail, word) {
			return at
		}
		i += j + 1
	}
	if k := bytes.Index(b[i:], tail); k >= 0 {
		return i + k
	}
	return -1
}

// isTail reports whether tail, whose first eight bytes are word, is at
// b[at:].
func isTail(b []byte, at int, tail []byte, word uint64) bool {
	return len(b)-at >= len(tail) && binary.LittleEndian.Uint64(b[at:]) == word && bytes.Equal(b[at+8:at+len(tail)], tail[8:])
}

// hasHead reports whether b ends with one of heads, and that head's opening
// quote starts a member name rather than sitting, escaped, inside a string.
func hasHead(b []byte, heads []string) bool {
	for _, h := range heads {
		if bytes.HasSuffix(b, []byte(h)) {
			k := len(b) - len(h)
			return k == 0 || b[k-1] != '\\'
		}
	}
	return false
}

// numberAfterName returns the non-negative integer that follows a member
// name's closing quote (": 512"), saturated at MaxInt32.
func numberAfterName(rest []byte) (int, bool) {
	k := skipSpace(rest, 0)
	if k >= len(rest) || rest[k] != ':' {
		return 0, false
	}
	k = skipSpace(rest, k+1)
	v, end := 0, k
	for ; end < len(rest) && '0' <= rest[end] && rest[end] <= '9'; end++ {
		if v > (math.MaxInt32-9)/10 {
			v = math.MaxInt32 // absurd: saturate
			continue
		}
		v = v*10 + int(rest[end]-'0')
	}
	return v, end > k
}
