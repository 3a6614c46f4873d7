package classify

import (
	"cmp"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rebound-http/rebound/internal/secret"
)

// DefaultMaxPeek is the number of body bytes a Catalog reads at most when its
// MaxPeek field is zero.
const DefaultMaxPeek = 64 << 10

// DefaultMaxPeekTime is how long a Catalog waits at most for the body bytes
// it peeks at when its MaxPeekTime field is zero.
const DefaultMaxPeekTime = 2 * time.Second

// A Catalog is one service's error vocabulary: which of its error codes and
// which HTTP statuses are worth a retry. It implements Classifier.
//
// Classify weighs the evidence strongest first: a transport error; the
// x-should-retry response header; the provider's code in the error body (or
// in Bedrock's x-amzn-errortype header), looked up in Codes, unless the
// status overrules it (see the package documentation); the status, looked
// up in Statuses and else decided by StatusVerdict.
//
// The zero Catalog, and a nil *Catalog, know no codes and override no
// status: the header and the status decide, and the body is read only for
// the Decision's message, code and request id.
//
// A Catalog must not be modified after its first use; it is then safe for
// concurrent use by multiple goroutines.
type Catalog struct {
	// Name identifies the service ("openai", "gateway", …). It is only
	// informational.
	Name string

	// Codes maps the provider's error ids, codes and types (errorId,
	// error.code, error.type, …) to a Verdict. Keys match exactly, including
	// case. A nil map knows no codes.
	Codes map[string]Verdict

	// Statuses overrides StatusVerdict for statuses 400 and above, as OpenAI's
	// SDKs retry 409. A nil map overrides nothing.
	Statuses map[int]Verdict

	// MaxPeek is the largest number of body bytes Classify reads to find the
	// error code (and the first event of an event stream). Zero means
	// DefaultMaxPeek; a negative value means bodies are never read, so
	// only the headers and the status decide.
	MaxPeek int64

	// MaxPeekTime is the longest Classify waits for those bytes: a body that
	// trickles in is classified on what arrived in time, and the rest still
	// reaches the caller. Zero means DefaultMaxPeekTime; a negative value
	// means no bound but the body's own (the request's context).
	MaxPeekTime time.Duration

	newTimer timerFunc // time.NewTimer unless a test sets it
}

// ErrInvalidCatalog is wrapped by every error Validate returns.
var ErrInvalidCatalog = errors.New("classify: invalid catalog")

// Validate reports every problem of c, joined: an empty code in Codes, a
// status in Statuses outside 400 to 599 (Classify consults Statuses for
// those alone), a Verdict other than Success, Retryable and Fatal. Each
// error wraps ErrInvalidCatalog. A nil Catalog is valid.
func (c *Catalog) Validate() error {
	if c == nil {
		return nil
	}
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w %q: "+format, append([]any{ErrInvalidCatalog, c.Name}, args...)...))
	}
	for _, code := range sortedKeys(c.Codes) {
		if code == "" {
			bad("empty code in Codes")
		}
		if v := c.Codes[code]; v > Fatal {
			bad("Codes[%q] is %v, want Success, Retryable or Fatal", code, v)
		}
	}
	for _, status := range sortedKeys(c.Statuses) {
		if status < 400 || status > 599 {
			bad("Statuses[%d]: only statuses 400 to 599 can be overridden", status)
		}
		if v := c.Statuses[status]; v > Fatal {
			bad("Statuses[%d] is %v, want Success, Retryable or Fatal", status, v)
		}
	}
	return errors.Join(errs...)
}

// Classify reports what resp, or err when the round trip failed, means.
//
// For a status of 400 or more, and for the first event of a 200
// text/event-stream response, Classify reads at most MaxPeek bytes of
// resp.Body, for at most MaxPeekTime, and replaces resp.Body with a reader
// that yields every byte the upstream sent, the peeked ones first; closing
// it closes the original body. Other response bodies are not touched. For an
// event stream, Classify waits until the first event has arrived, MaxPeek
// bytes have, MaxPeekTime has passed, or the stream ends or fails (as when
// the request's context is done). A gzip or deflate Content-Encoding is
// decoded for the classifier alone; the caller reads the encoded bytes.
func (c *Catalog) Classify(resp *http.Response, err error) Decision {
	if err != nil {
		return ClassifyError(err)
	}
	if resp == nil {
		return Decision{Verdict: Fatal, Evidence: ByTransport, Message: "classify: no response and no error"}
	}
	d := Decision{Status: resp.StatusCode}
	if d.Status < 400 {
		// The success path: no body, and no header beyond Content-Type.
		if d.Status == http.StatusOK && isEventStream(contentType(resp.Header)) {
			d.RequestID = headerRequestID(resp.Header)
			c.classifyStream(resp, &d)
			if d.Message != "" {
				scrubSent(&d, resp.Request)
			}
		}
		return d
	}
	d.RequestID = headerRequestID(resp.Header)

	var hinted bool
	d.RetryAfter, hinted = parseHints(resp.Header, serverNow(resp.Header), d.Status == http.StatusTooManyRequests)

	var info errorInfo
	if body, whole, ok := c.peekError(resp); ok {
		info, _ = parseErrorBody(body, !whole)
	}
	info.awsType = awsErrorType(resp.Header.Get("X-Amzn-Errortype"))
	info.fill(&d)
	if !hinted && info.hasDelay {
		d.RetryAfter = info.retryDelay
	}

	if v, ok := shouldRetry(resp.Header); ok {
		d.Verdict, d.Evidence = v, ByHeader
	} else if v, ok := c.bodyVerdict(&info, d.Status); ok {
		d.Verdict, d.Evidence = v, ByBody
	} else {
		d.Verdict, d.Evidence = c.statusVerdict(d.Status), ByStatus
	}
	scrubSent(&d, resp.Request)
	return d
}

// scrubSent cuts out of d's text the credentials its request carried
// (see internal/secret): an unprefixed token a provider echoes back is no
// key to Redact.
func scrubSent(d *Decision, req *http.Request) {
	v := secret.Values(req)
	if v == nil {
		return
	}
	d.Code, d.Type = secret.Scrub(d.Code, v), secret.Scrub(d.Type, v)
	d.Message, d.RequestID = secret.Scrub(d.Message, v), secret.Scrub(d.RequestID, v)
}

// peekError peeks at the body of an error response and returns what the
// classifier reads: the body (decoded if need be) or, for an event stream,
// the data of its first event; whole is false if that may be cut short. It
// reports false when c reads no bodies.
func (c *Catalog) peekError(resp *http.Response) (b []byte, whole, ok bool) {
	limit := c.maxPeek()
	if limit == 0 {
		return nil, false, false
	}
	enc := contentCoding(resp.Header)
	stream := isEventStream(contentType(resp.Header))
	var done func([]byte) bool
	if stream && enc == "" {
		done = newEventEnd()
	}
	b, whole = peek(resp, limit, c.maxPeekTime(), c.timer(), done)
	b, whole = decode(enc, b, whole, limit)
	if stream {
		b, _ = firstEvent(b)
	}
	return b, whole, true
}

// awsErrorType returns the error type of an x-amzn-errortype value, as in
// "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/".
func awsErrorType(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		v = v[:i]
	}
	return strings.TrimSpace(v)
}

// StatusVerdict is the status rule Classify falls back on when no stronger
// evidence decides: statuses below 400 are Success; 408 and 429 are
// Retryable and every other 4xx is Fatal; 5xx statuses are Retryable except
// 501 Not Implemented, 505 HTTP Version Not Supported and 511 Network
// Authentication Required, which a retry cannot cure; statuses of 600 and
// above are unknown and so Fatal.
func StatusVerdict(status int) Verdict {
	switch {
	case status < 400:
		return Success
	case status == http.StatusRequestTimeout, status == http.StatusTooManyRequests:
		return Retryable
	case status < 500:
		return Fatal
	case status == http.StatusNotImplemented,
		status == http.StatusHTTPVersionNotSupported,
		status == http.StatusNetworkAuthenticationRequired:
		return Fatal
	case status < 600:
		return Retryable
	}
	return Fatal
}

func (c *Catalog) maxPeek() int64 {
	switch {
	case c == nil || c.MaxPeek == 0:
		return DefaultMaxPeek
	case c.MaxPeek < 0:
		return 0
	}
	return c.MaxPeek
}

func (c *Catalog) maxPeekTime() time.Duration {
	if c == nil || c.MaxPeekTime == 0 {
		return DefaultMaxPeekTime
	}
	return c.MaxPeekTime
}

func (c *Catalog) timer() timerFunc {
	if c == nil || c.newTimer == nil {
		return newRealTimer
	}
	return c.newTimer
}

func (c *Catalog) statusVerdict(status int) Verdict {
	if c != nil {
		if v, ok := c.Statuses[status]; ok {
			return v
		}
	}
	return StatusVerdict(status)
}

// bodyVerdict returns the Verdict of the first of info's keys that c knows
// and that may decide a response of this status, as the package
// documentation's precedence table says: a key whose Verdict agrees with the
// status's always may; one that disagrees may not at a status that no retry
// can cure (413, 414, 431), nor, if generic (see isGeneric), at any status
// but 409 Conflict, which services use for opposite things.
func (c *Catalog) bodyVerdict(info *errorInfo, status int) (Verdict, bool) {
	if c == nil || len(c.Codes) == 0 {
		return 0, false
	}
	sv := c.statusVerdict(status)
	for _, k := range info.keys() {
		v, ok := c.Codes[k]
		switch {
		case !ok || k == "":
		case v == sv, !tooLarge(status) && (status == http.StatusConflict || !isGeneric(k)):
			return v, true
		}
	}
	return 0, false
}

// tooLarge reports whether status says the request is too large for the
// server, which the same request will always be.
func tooLarge(status int) bool {
	switch status {
	case http.StatusRequestEntityTooLarge, http.StatusRequestURITooLong, http.StatusRequestHeaderFieldsTooLarge:
		return true
	}
	return false
}

// isGeneric reports whether an error code or type names a class of errors
// that services send with statuses of every kind rather than a cause.
func isGeneric(k string) bool {
	switch k {
	case "invalid_request_error", "invalid_request", "bad_request", "api_error", "server_error":
		return true
	}
	return false
}

// lookup returns the Verdict of the first of info's keys that c knows, in
// the order of errorInfo.keys.
func (c *Catalog) lookup(info *errorInfo) (Verdict, bool) {
	if c == nil || len(c.Codes) == 0 {
		return 0, false
	}
	for _, k := range info.keys() {
		if k == "" {
			continue
		}
		if v, ok := c.Codes[k]; ok {
			return v, true
		}
	}
	return 0, false
}

// shouldRetry reads the x-should-retry header that OpenAI and Anthropic
// send to overrule the status.
func shouldRetry(h http.Header) (Verdict, bool) {
	switch v := h.Get("X-Should-Retry"); {
	case strings.EqualFold(v, "true"):
		return Retryable, true
	case strings.EqualFold(v, "false"):
		return Fatal, true
	}
	return 0, false
}

// headerRequestID returns the request id the response headers carry,
// redacted.
func headerRequestID(h http.Header) string {
	for _, k := range [...]string{"X-Request-Id", "Request-Id", "X-Amzn-Requestid"} {
		if v := h.Get(k); v != "" {
			return Redact(v)
		}
	}
	return ""
}

// contentType returns h's Content-Type as h.Get would, without
// canonicalizing the key on every success.
func contentType(h http.Header) string {
	if v := h["Content-Type"]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// isEventStream reports whether the Content-Type value ct names
// text/event-stream, with or without parameters.
func isEventStream(ct string) bool {
	const mt = "text/event-stream"
	ct = strings.TrimSpace(ct)
	if len(ct) < len(mt) || !strings.EqualFold(ct[:len(mt)], mt) {
		return false
	}
	rest := ct[len(mt):]
	return rest == "" || rest[0] == ';' || rest[0] == ' ' || rest[0] == '\t'
}

// sortedKeys returns the keys of m in increasing order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
