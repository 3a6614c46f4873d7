package classify

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestReadAfterClose: once the caller closes a peeked body, a Read
// must fail as the upstream body's would (net/http's says "read on
// closed response body"), not hand out the peeked bytes again.
func TestReadAfterClose(t *testing.T) {
	const body = `{"error":{"code":"rate_limit_exceeded","message":"slow down"}}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(body))
	}))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	OpenAI().Classify(resp, nil)
	resp.Body.Close()
	n, err := resp.Body.Read(make([]byte, 100))
	if n != 0 || err == nil || errors.Is(err, io.EOF) {
		t.Errorf("Read after Close = %d bytes, %v; want 0 and the closed body's error", n, err)
	}
}
