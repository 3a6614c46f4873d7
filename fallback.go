package rebound

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/rebound-http/rebound/classify"
	"github.com/rebound-http/rebound/internal/secret"
	"github.com/rebound-http/rebound/key"
)

// modelFault reports whether d is an answer that blames the model (or the
// provider serving it) and not the request: another model may serve the
// same request now.
func modelFault(d classify.Decision) bool {
	switch d.Code {
	case "model_overloaded", "engine_overloaded", "provider_unavailable", "model_unavailable",
		"model_not_found", "unknown_model", "overloaded_error":
		return true
	}
	switch d.Type {
	case "overloaded_error", "model_unavailable":
		return true
	}
	return d.Verdict == classify.Retryable && (d.Status == http.StatusServiceUnavailable || d.Status == 529)
}

// fallBack tries the call's alternatives in turn after its own key could
// not serve it: resp and err are what the key gave (a retryable or
// model-fault answer, or the error of an attempt that could not go), and
// why says why it stopped. The answer held is never lost: the caller gets
// the last answer any key gave when no alternative serves.
func (c *call) fallBack(resp *http.Response, err error, why Reason) (*http.Response, error) {
	t := c.t
	from, last := c.key, c.last
	final := last // the classification of what the caller gets
	told := false // the end of the last key tried was told to OnGiveUp (a call through this Transport tells its own)
	for i, alt := range c.chain {
		if c.ctx.Err() != nil {
			why = ReasonCanceled
			break
		}
		freq, to, ok := c.rewrite(alt, i+1)
		if !ok {
			continue
		}
		now := t.now()
		if h := t.obs.OnFallback; h != nil {
			h(FallbackEvent{Context: c.ctx, Key: from, To: to, Alternative: i + 1, Reason: why, Decision: last})
		}
		sent := c.attempts > 0
		var (
			r    *http.Response
			e    error
			more bool
		)
		if alt.Transport == nil {
			sub := call{t: t, req: freq, ctx: freq.Context(), sched: t.policy.Start(), chain: c.chain[i+1:], sub: true, extra: sent, share: c.share}
			r, why, more, e = sub.run()
			c.attempts += sub.attempts
			last, told = sub.last, !more
		} else {
			if sent && !t.gates.Withdraw(c.share, now) {
				c.observeGiveUp(ReasonBudget, nil)
				told = true
				break
			}
			r, e = alt.Transport.RoundTrip(freq)
			c.attempts++
			last = t.classifier.Classify(r, e)
			if last.Verdict != classify.Success {
				scrubSent(&last, freq) // the Transport may be none of ours
			}
			if sent && last.Verdict == classify.Success && e == nil {
				t.gates.Refund(c.share, now)
			}
			more = i+1 < len(c.chain) && (e != nil || last.Verdict == classify.Retryable || modelFault(last))
			why = ReasonFatal
			if last.Verdict == classify.Retryable || modelFault(last) {
				why = ReasonAttempts
			}
			if c.ctx.Err() != nil {
				why = ReasonCanceled
			}
			var own *Error
			if e != nil && !errors.As(e, &own) {
				// Its text kept free of the request's credentials, as ours.
				e = &Error{Key: to, Attempts: 1, Last: last, RequestID: last.RequestID, Reason: why, Err: e, secrets: secret.Values(freq)}
			}
			told = false
		}
		switch {
		case r != nil:
			discard(resp)
			resp, err, final = r, nil, last
		case resp == nil && (err == nil || c.ctx.Err() != nil):
			// The caller gets the error of the call's own key, unless
			// its context ended meanwhile.
			err = e
		}
		from = to
		if !more {
			break
		}
	}
	if h := t.obs.OnGiveUp; h != nil && !told && (err != nil || final.Verdict == classify.Retryable) {
		// The chain ended on a failure no call told: an alternative's own
		// Transport, or no alternative that applied.
		h(GiveUpEvent{Context: c.ctx, Key: from, Attempts: c.attempts, Reason: why, Decision: last, Err: err})
	}
	return resp, err
}

// rewrite returns the copy of the caller's request that alternative n,
// alt, sends, and the key it goes to: its model or host replaced, with a
// body of its own. It reports false when the alternative does not apply
// (no model to replace) or the body cannot be had again. The body is read
// only when the model it names is replaced.
func (c *call) rewrite(alt Alternative, n int) (*http.Request, string, bool) {
	t := c.t
	r := c.req.Clone(withAnswered(c.ctx, alt, n))
	if alt.Host != "" {
		r.URL.Host, r.Host = alt.Host, ""
	}
	if alt.Model != "" {
		esc := r.URL.EscapedPath()
		m := url.PathEscape(alt.Model)
		if had, _ := key.ModelFromPath(esc); strings.Contains(had, "/") {
			m = escapeSegments(alt.Model) // {owner}/{name} for {owner}/{name}
		}
		raw, inPath := key.ReplacePathModel(esc, m)
		if !inPath {
			body, ok := c.body.bytes(c.req)
			if !ok {
				return nil, "", false
			}
			if body, ok = key.ReplaceModel(body, alt.Model); !ok {
				return nil, "", false
			}
			r.ContentLength = int64(len(body))
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
			return r, t.key(r, body), true
		}
		p, err := url.PathUnescape(raw)
		if err != nil {
			return nil, "", false
		}
		r.URL.Path, r.URL.RawPath = p, ""
		if r.URL.EscapedPath() != raw { // a "/" within a segment (a Bedrock ARN)
			r.URL.RawPath = raw
		}
	}
	// The body as it is: the buffer, or GetBody's copies.
	switch c.body.mode {
	case noBody:
		r.Body, r.GetBody = c.req.Body, c.req.GetBody
	case buffered:
		buf := c.body.buf
		r.Body = io.NopCloser(bytes.NewReader(buf))
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	case getBody:
		b, err := c.req.GetBody()
		if err != nil {
			return nil, "", false
		}
		r.Body = b
	default:
		return nil, "", false // sent once already
	}
	return r, c.body.keyBody(c.req, t.policy.MaxBodyBuffer, func(b []byte) string { return t.key(r, b) }), true
}

// bytes returns the whole body of req, for a copy with its model replaced:
// the buffer, or a GetBody copy read in full, however large (MaxBodyBuffer
// bounds what must be buffered to be replayed, and a GetBody body need
// not be). It reports false for a body that cannot be had again.
func (r *replay) bytes(req *http.Request) ([]byte, bool) {
	switch r.mode {
	case noBody:
		return nil, true
	case buffered:
		return r.buf, true
	case getBody:
		rc, err := req.GetBody()
		if err != nil {
			return nil, false
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			return nil, false
		}
		return b, true
	}
	return nil, false
}

// escapeSegments escapes each "/"-separated segment of p as a path segment.
func escapeSegments(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
