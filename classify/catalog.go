package classify

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// DefaultMaxPeek is the number of body bytes a Catalog reads at most when its
// MaxPeek field is zero.
const DefaultMaxPeek = 64 << 10

// A Catalog is one service's error vocabulary: which of its error codes and
// which HTTP statuses are worth a retry. It implements Classifier.
//
// Classify weighs the evidence strongest first: a transport error; the
// x-should-retry response header; the provider's code in the error body,
// looked up in Codes; the status, looked up in Statuses and else decided by
// StatusVerdict.
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
	// only the header and the status decide.
	MaxPeek int64
}

// Validate reports whether c can be used: every code non-empty, every
// overridden status between 400 and 999, every Verdict one of Success,
// Retryable and Fatal. A nil Catalog is valid.
func (c *Catalog) Validate() error {
	if c == nil {
		return nil
	}
	for _, code := range sortedKeys(c.Codes) {
		if code == "" {
			return fmt.Errorf("classify: catalog %q: empty code in Codes", c.Name)
		}
		if v := c.Codes[code]; v > Fatal {
			return fmt.Errorf("classify: catalog %q: Codes[%q] is %v, want Success, Retryable or Fatal", c.Name, code, v)
		}
	}
	for _, status := range sortedKeys(c.Statuses) {
		if status < 400 || status > 999 {
			return fmt.Errorf("classify: catalog %q: Statuses[%d]: only statuses 400 to 999 can be overridden", c.Name, status)
		}
		if v := c.Statuses[status]; v > Fatal {
			return fmt.Errorf("classify: catalog %q: Statuses[%d] is %v, want Success, Retryable or Fatal", c.Name, status, v)
		}
	}
	return nil
}

// Classify reports what resp, or err when the round trip failed, means.
//
// For a status of 400 or more, and for the first event of a 200
// text/event-stream response, Classify reads at most MaxPeek bytes of
// resp.Body and replaces resp.Body with a reader that yields every byte the
// upstream sent, the peeked ones first; closing it closes the original body.
// Other response bodies are not touched. For an event stream, Classify waits
// until the first event has arrived, MaxPeek bytes have, or the stream ends
// or fails (as when the request's context is done).
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
		if d.Status == http.StatusOK && isEventStream(resp.Header.Get("Content-Type")) {
			d.RequestID = headerRequestID(resp.Header)
			c.classifyStream(resp, &d)
		}
		return d
	}
	d.RequestID = headerRequestID(resp.Header)

	d.RetryAfter, _ = parseHints(resp.Header, serverNow(resp.Header), d.Status == http.StatusTooManyRequests)

	var info errorInfo
	if limit := c.maxPeek(); limit > 0 {
		var body []byte
		if isEventStream(resp.Header.Get("Content-Type")) {
			body, _ = firstEvent(peek(resp, limit, newEventEnd()))
		} else {
			body = peek(resp, limit, nil)
		}
		info, _ = parseErrorBody(body)
		info.fill(&d)
	}

	if v, ok := shouldRetry(resp.Header); ok {
		d.Verdict, d.Evidence = v, ByHeader
	} else if v, ok := c.lookup(&info); ok {
		d.Verdict, d.Evidence = v, ByBody
	} else {
		d.Verdict, d.Evidence = c.statusVerdict(d.Status), ByStatus
	}
	return d
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

func (c *Catalog) statusVerdict(status int) Verdict {
	if c != nil {
		if v, ok := c.Statuses[status]; ok {
			return v
		}
	}
	return StatusVerdict(status)
}

// lookup returns the Verdict of the first of info's keys that c knows, in
// the order errorId, error.code, code, error.type, type.
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
