package classify

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzPeek is a small MaxPeek so that fuzzed bodies cross the bound.
const fuzzPeek = 256

// checkDecision checks invariants every Decision of a response holds.
func checkDecision(t *testing.T, d Decision, status int) {
	t.Helper()
	if d.Verdict > Fatal || d.Evidence > ByBody {
		t.Fatalf("invalid Decision %+v", d)
	}
	if d.Status != status {
		t.Fatalf("Decision.Status = %d, want %d", d.Status, status)
	}
	if d.RetryAfter < 0 || d.RetryAfter > MaxHint {
		t.Fatalf("Decision.RetryAfter = %v, out of [0, MaxHint]", d.RetryAfter)
	}
	for _, s := range []string{d.Code, d.Type, d.Message, d.RequestID} {
		if Redact(s) != s {
			t.Fatalf("Decision field %q is not redacted", s)
		}
	}
	if status < 400 && d.Verdict == Success && d.Evidence != ByStatus {
		t.Fatalf("success decided by %v", d.Evidence)
	}
	if d.Evidence == ByStatus && d.Verdict != StatusVerdict(status) {
		t.Fatalf("status %d decided %v, StatusVerdict says %v", status, d.Verdict, StatusVerdict(status))
	}
}

// classifyBytes classifies a response with body data, read in reads of at
// most chunk bytes, and checks the peek bound and the body given back.
func classifyBytes(t *testing.T, c *Catalog, status int, ctype string, data []byte, chunk int) Decision {
	t.Helper()
	u := &upstream{r: &splitReader{data: data, chunk: chunk}}
	resp := &http.Response{StatusCode: status, Header: hdr("Content-Type", ctype), Body: u, ContentLength: -1}
	d := c.Classify(resp, nil)
	if u.read > fuzzPeek {
		t.Fatalf("Classify read %d bytes, MaxPeek is %d", u.read, fuzzPeek)
	}
	got, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("body after Classify = %q, %v; want %q", got, err, data)
	}
	return d
}

// splitReader returns data in reads of at most chunk bytes.
type splitReader struct {
	data  []byte
	chunk int
}

func (r *splitReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data)
	r.data = r.data[n:]
	return n, nil
}

func FuzzErrorBody(f *testing.F) {
	for _, s := range []string{
		`{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"9f3c"}}`,
		`{"error":"permission denied [scope_insufficient]: ik_live_x","code":"scope_insufficient"}`,
		`{"errorId":"RATE_LIMIT_EXCEEDED","message":"m","requestId":"r","error":{"type":"server_error","code":"service_error"}}`,
		`{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"r"}`,
		`{"error":{"code":503,"message":null}}`, `{"error":{"code":"x","mess`, `<html>`, ``, "\xef\xbb\xbf{}",
		`{"error":[1,2],"code":{"a":"b"},"type":"error"}`,
		`[{"error":{"code":429,"message":"Resource exhausted","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}]`,
		`{"error":"Model is overloaded","error_type":"overloaded"}`,
		`{"object":"error","message":"m","type":"invalid_request_error","code":null,"CODE":"x","Message":"M"}`,
		`{"error":{"details":[1,{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.5s"}],"status":7}}`,
		`{"e\u0072ror":{"c\u006fde":"\ud83d\ude00\u00e9\n"}, "requestId": -1.5e3}`,
	} {
		f.Add([]byte(s), uint16(429))
	}
	c := Default()
	c.MaxPeek = fuzzPeek
	f.Fuzz(func(t *testing.T, data []byte, status uint16) {
		st := 400 + int(status)%200
		info, ok := parseErrorBody(data, false)
		if !ok && info != (errorInfo{}) {
			t.Fatalf("parseErrorBody failed but returned %+v", info)
		}
		if ref, refOK := refParseErrorBody(data); ok != refOK || info != ref {
			t.Fatalf("parseErrorBody(%q) = %+v, %v\nencoding/json says %+v, %v", data, info, ok, ref, refOK)
		}
		if ok {
			if cut, cutOK := parseErrorBody(data, true); !cutOK || cut != info {
				t.Fatalf("parseErrorBody(%q, cut) = %+v, %v; want %+v", data, cut, cutOK, info)
			}
			checkPrefixes(t, data)
		}
		d := classifyBytes(t, c, st, "application/json", data, len(data)+1)
		checkDecision(t, d, st)
		if len(data) <= fuzzPeek && ok && d.Code != Redact(firstOf(info.id, info.code, info.topCode)) {
			t.Fatalf("Decision.Code = %q, body says %+v", d.Code, info)
		}
		if d2 := classifyBytes(t, c, st, "application/json", data, 3); d2 != d {
			t.Fatalf("reads of 3 bytes decide %+v, one read %+v", d2, d)
		}
	})
}

// checkPrefixes wants every prefix of the error body data that reaches into
// its error object to read as a body cut short, never as a malformed one.
func checkPrefixes(t *testing.T, data []byte) {
	t.Helper()
	b := bytes.TrimPrefix(data, bom)
	start := len(data) - len(b) + bytes.IndexByte(b, '{')
	for n := start + 1; n < len(data) && n < 4096; n++ {
		if _, ok := parseErrorBody(data[:n], true); !ok {
			t.Fatalf("parseErrorBody(%q, cut) failed on a prefix of %q", data[:n], data)
		}
	}
}

func FuzzEventStream(f *testing.F) {
	for _, s := range []string{
		"data: {\"id\":1}\n\ndata: [DONE]\n\n",
		"event: error\ndata: {\"error\":{\"code\":\"stream_error\"}}\n\n",
		"event: error\r\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\"}}\r\n\r\n",
		": ping\r\rdata: {\"error\":{\"code\":\"x\"}}\r\r",
		"retry: 10\n\nevent: error\ndata: oops\n\n",
	} {
		f.Add([]byte(s))
	}
	c := Gateway()
	c.MaxPeek = fuzzPeek
	f.Fuzz(func(t *testing.T, data []byte) {
		d := classifyBytes(t, c, 200, "text/event-stream", data, len(data)+1)
		checkDecision(t, d, 200)
		for _, chunk := range []int{1, 2, 7} {
			if d2 := classifyBytes(t, c, 200, "text/event-stream", data, chunk); d2 != d {
				t.Fatalf("reads of %d bytes decide %+v, one read %+v", chunk, d2, d)
			}
		}
	})
}

// checkHint checks what every hint parser returns.
func checkHint(t *testing.T, in string, d time.Duration, ok bool) {
	t.Helper()
	if d < 0 || d > MaxHint || (!ok && d != 0) {
		t.Fatalf("hint %q = %v, %v", in, d, ok)
	}
}

func FuzzRetryAfter(f *testing.F) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, s := range []string{"120", "0", "1.5", "-5", "99999999999999999999", "NaN", "Sat, 01 Mar 2025 12:01:00 GMT",
		"Saturday, 01-Mar-25 11:00:00 GMT", "Sat Mar  1 12:00:30 2025", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfter(s, now)
		checkHint(t, s, d, ok)
		d2, ok2 := ParseRetryAfter(hdr("Retry-After", s), now)
		if d2 != d || ok2 != ok {
			t.Fatalf("ParseRetryAfter(Retry-After: %q) = %v, %v; parseRetryAfter %v, %v", s, d2, ok2, d, ok)
		}
	})
}

func FuzzRetryAfterMs(f *testing.F) {
	for _, s := range []string{"20", "1500.5", "0.0000001", "-1", "NaN", "+Inf", "1e3", "99999999999999999999", ".", strings.Repeat("9", 400)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseRetryAfterMs(s)
		checkHint(t, s, d, ok)
	})
}

func FuzzResetDuration(f *testing.F) {
	for _, s := range []string{"1s", "6m0s", "20ms", "1m30.5s", "-1s", "99999999999999999999h", "1", "0", "1.5µs", "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := parseReset(s)
		checkHint(t, s, d, ok)
		if td, err := time.ParseDuration(strings.TrimSpace(s)); err == nil && td >= 0 && td <= MaxHint && (d != td || !ok) {
			t.Fatalf("parseReset(%q) = %v, %v; time.ParseDuration says %v", s, d, ok, td)
		}
	})
}

func FuzzRedact(f *testing.F) {
	for _, s := range []string{"ik_live_proj1234… is a data key", "task-force sk-abc", "Bearer x.y", "sk-ant-…", "sk-", "ik_sdk_ token",
		"Bearer%20sk-proj-abc", "Authorization%3A%20Bearer%20abc", "authorization=basic+dXNl", "?key%253DAIzaX", "sk-a%2Bb%2520c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := Redact(s)
		if Redact(r) != r {
			t.Fatalf("Redact(%q) = %q, not idempotent", s, r)
		}
		// After redaction every key value is at most an ellipsis.
		for i := 0; i < len(r); i++ {
			if p := prefixAt(r, i); p > 0 {
				if v := r[i+p : valueEnd(r, i+p)]; v != "" && v != ellipsis {
					t.Fatalf("Redact(%q) = %q keeps value %q", s, r, v)
				}
			}
		}
		if leak := findSecret(r); leak >= 0 {
			t.Fatalf("Redact(%q) = %q leaves a secret at %d: %q", s, r, leak, r[leak:])
		}
		lower := strings.ToLower(s)
		for _, k := range []string{"sk-", "ik_", "gsk_", "aiza", "bearer", "authorization"} {
			if strings.Contains(lower, k) {
				return
			}
		}
		if r != s {
			t.Fatalf("Redact(%q) = %q, changed a string without keys", s, r)
		}
	})
}

// findSecret is the fuzz oracle for Redact, written apart from it: it
// percent-decodes s (escapes encoded once or twice) and returns where a known
// prefix, at the start of a word or after an underscore where it must be, or "bearer" or
// "authorization:" with their spaces and scheme, is followed by a letter or
// a digit; -1 if none is.
func findSecret(s string) int {
	// d is s decoded; at[i] is the index in d of the byte s[i] starts, or
	// -1 inside an escape.
	var d []byte
	at := make([]int, len(s)+1)
	for i := 0; i < len(s); {
		at[i] = len(d)
		n := 1
		c := s[i]
		if c == '%' {
			if i+5 <= len(s) && s[i+1:i+3] == "25" && isHexDigit(s[i+3]) && isHexDigit(s[i+4]) {
				c, n = hexByte(s[i+3:i+5]), 5
			} else if i+3 <= len(s) && isHexDigit(s[i+1]) && isHexDigit(s[i+2]) {
				c, n = hexByte(s[i+1:i+3]), 3
			}
		}
		for k := 1; k < n; k++ {
			at[i+k] = -1
		}
		d = append(d, c)
		i += n
	}
	at[len(s)] = len(d)
	word := func(c byte) bool {
		return c == '_' || '0' <= c && c <= '9' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z'
	}
	space := func(c byte) bool { return c == ' ' || c == '\t' || c == '+' }
	// next returns the index in s after the spaces at s[i:].
	skipSpaces := func(i int) (int, int) {
		n := 0
		for i < len(s) && at[i] >= 0 && space(d[at[i]]) {
			k := at[i] + 1
			for i++; i < len(s) && at[i] != k; i++ {
			}
			n++
		}
		return i, n
	}
	secretAt := func(i int) bool { return i < len(s) && at[i] >= 0 && word(d[at[i]]) && d[at[i]] != '_' }
	for i := 0; i < len(s); i++ {
		if at[i] < 0 {
			continue
		}
		start := at[i] == 0 || !word(d[at[i]-1])
		keyStart := start || d[at[i]-1] == '_'
		rest := s[i:]
		for _, p := range []struct {
			prefix string
			word   bool
		}{{"ik_live_", false}, {"ik_sdk_", false}, {"ik_pub_", false}, {"sk-ant-", true}, {"sk-proj-", true}, {"sk-", true}, {"gsk_", true}, {"AIza", true}} {
			if strings.HasPrefix(rest, p.prefix) && (keyStart || !p.word) {
				if secretAt(i + len(p.prefix)) {
					return i
				}
				break
			}
		}
		if !start {
			continue
		}
		fold := func(s, prefix string) bool {
			return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
		}
		if fold(rest, "bearer") {
			if j, n := skipSpaces(i + 6); n > 0 && secretAt(j) {
				return i
			}
		}
		if fold(rest, "authorization") {
			j, _ := skipSpaces(i + 13)
			if j >= len(s) || at[j] < 0 || (d[at[j]] != ':' && d[at[j]] != '=') {
				continue
			}
			k := at[j] + 1
			for j++; j < len(s) && at[j] != k; j++ {
			}
			j, _ = skipSpaces(j)
			for _, scheme := range []string{"bearer", "basic", "token"} {
				if fold(s[j:], scheme) {
					if j2, n := skipSpaces(j + len(scheme)); n > 0 {
						j = j2
					}
					break
				}
			}
			if secretAt(j) {
				return i
			}
		}
	}
	return -1
}

func isHexDigit(c byte) bool { return strings.IndexByte("0123456789abcdefABCDEF", c) >= 0 }

func hexByte(s string) byte {
	v, _ := strconv.ParseUint(s, 16, 8)
	return byte(v)
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{quotaBody, "", "\x00\x01", `{"error":"x"}`} {
		f.Add([]byte(s), uint8(0))
		f.Add(gzipped(s), uint8(1))
		f.Add(zlibbed(s), uint8(2))
		f.Add(deflated(s), uint8(2))
	}
	encs := []string{"", "gzip", "deflate", "br"}
	c := OpenAI()
	c.MaxPeek = fuzzPeek
	f.Fuzz(func(t *testing.T, data []byte, enc uint8) {
		e := encs[int(enc)%len(encs)]
		for _, whole := range []bool{true, false} {
			out, outWhole := decode(e, data, whole, fuzzPeek)
			if e == "" && (!bytes.Equal(out, data) || outWhole != whole) {
				// Without a coding the peeked bytes are the body, whatever
				// their length: the peek bounded them already.
				t.Fatalf("decode(%q, %q, %v) = %q, whole %v: want the bytes themselves", e, data, whole, out, outWhole)
			}
			if e != "" && len(out) > fuzzPeek || outWhole && !whole {
				t.Fatalf("decode(%q, %q, %v) = %d bytes, whole %v", e, data, whole, len(out), outWhole)
			}
		}
		// A compressed body is classified as the same body sent plain.
		for _, z := range []struct {
			enc  string
			body []byte
		}{{"gzip", gzipped(string(data))}, {"deflate", zlibbed(string(data))}, {"deflate", deflated(string(data))}} {
			if out, whole := decode(z.enc, z.body, true, 1<<20); !whole || !bytes.Equal(out, data) {
				t.Fatalf("decode(%s(%q)) = %q, whole %v", z.enc, data, out, whole)
			}
			if len(z.body) > fuzzPeek || len(data) > fuzzPeek {
				continue
			}
			plain := classifyBytes(t, c, 429, "application/json", data, len(data)+1)
			u := &upstream{r: bytes.NewReader(z.body)}
			resp := &http.Response{StatusCode: 429, Header: hdr("Content-Encoding", z.enc), Body: u, ContentLength: -1}
			if d := c.Classify(resp, nil); d != plain {
				t.Fatalf("%s body %q decides %+v, plain %+v", z.enc, data, d, plain)
			}
			if got, _ := io.ReadAll(resp.Body); !bytes.Equal(got, z.body) {
				t.Fatalf("caller read %q, upstream sent %q", got, z.body)
			}
		}
	})
}
