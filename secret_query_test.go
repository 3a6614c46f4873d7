package rebound

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rebound-http/rebound/retry"
)

// TestEncodedQueryKey: a transport error that quotes the request's URL
// (a *url.Error, as http.Client and many wrapping transports return) repeats
// a ?key= credential as the URL spells it, percent-encoded or with "+" for a
// space. Neither the *Error's text, nor the log line, nor the attempt's
// Decision may carry it.
func TestEncodedQueryKey(t *testing.T) {
	for _, tc := range []struct{ query, secret string }{
		{"key=abc%2Fdef%2B0123456789", "abc%2Fdef%2B0123456789"},
		{"key=abc+def0123456789", "abc+def0123456789"},
		{"api_key=Zm9vYmFyYmF6%3D%3D", "Zm9vYmFyYmF6%3D%3D"},
	} {
		next := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			return nil, &url.Error{Op: "Post", URL: r.URL.String(), Err: errors.New("connection refused")}
		})
		var logs bytes.Buffer
		var msgs []string
		obs := SlogObserver(slog.New(slog.NewTextHandler(&logs, nil)))
		obs.OnAttempt = func(e AttemptEvent) { msgs = append(msgs, e.Decision.Message) }
		tr := New(next, WithRetry(retry.Policy{MaxAttempts: 1}), WithObserver(obs))
		req, _ := http.NewRequest(http.MethodPost, "https://gen.test/v1/models/m:generate?"+tc.query, strings.NewReader(`{}`))
		_, err := tr.RoundTrip(req)
		if err == nil {
			t.Fatal("no error")
		}
		if strings.Contains(err.Error(), tc.secret) {
			t.Errorf("%s: Error() leaks the key: %s", tc.query, err)
		}
		if strings.Contains(logs.String(), tc.secret) {
			t.Errorf("%s: the log leaks the key: %s", tc.query, logs.String())
		}
		for _, m := range msgs {
			if strings.Contains(m, tc.secret) {
				t.Errorf("%s: the attempt's Decision.Message leaks the key: %s", tc.query, m)
			}
		}
	}
}
