package rebound

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
)

// onlyReader hides everything of a body but Read and Close, as a request
// body of unknown length is.
type onlyReader struct {
	r      io.Reader
	closed bool
}

func (o *onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }
func (o *onlyReader) Close() error               { o.closed = true; return nil }

func bodyRequest(t *testing.T, body string, contentLength int64) (*http.Request, *onlyReader) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, "http://upstream.test/v1/chat/completions", nil)
	if err != nil {
		t.Fatal(err)
	}
	o := &onlyReader{r: strings.NewReader(body)}
	req.Body, req.ContentLength = o, contentLength
	return req, o
}

// TestPrepareBodyGrowsWithBody buffers a small body of unknown length in
// memory of its size, not of the 4 MiB limit: 1,000 calls in flight must not
// hold 4 GiB.
func TestPrepareBodyGrowsWithBody(t *testing.T) {
	const limit = 4 << 20
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	for _, cl := range []int64{-1, 0, int64(len(body))} {
		req, o := bodyRequest(t, body, cl)
		r, err := prepareBody(req, limit)
		if err != nil || r.mode != buffered || string(r.buf) != body || !o.closed {
			t.Fatalf("ContentLength %d: prepareBody = mode %d, %q, %v, closed %v", cl, r.mode, r.buf, err, o.closed)
		}
		if cap(r.buf) > 1024 {
			t.Errorf("ContentLength %d: a %d-byte body holds a %d-byte buffer", cl, len(body), cap(r.buf))
		}
	}
	// Larger bodies grow the buffer to about their size, never past limit+1.
	big := strings.Repeat("x", 100<<10)
	req, _ := bodyRequest(t, big, -1)
	r, _ := prepareBody(req, limit)
	if r.mode != buffered || len(r.buf) != len(big) || cap(r.buf) > 2*len(big) {
		t.Errorf("a 100 KiB body: mode %d, %d bytes in a %d-byte buffer", r.mode, len(r.buf), cap(r.buf))
	}
	req, _ = bodyRequest(t, big, -1)
	r, _ = prepareBody(req, 1000)
	if r.mode != oneShot || len(r.buf) != 1001 || cap(r.buf) > 2048 {
		t.Errorf("a body over the limit: mode %d, %d bytes in a %d-byte buffer; want one-shot with 1001 in no more than 2 KiB", r.mode, len(r.buf), cap(r.buf))
	}
	if allocs := testing.AllocsPerRun(20, func() {
		req, _ := bodyRequest(t, body, -1)
		prepareBody(req, limit)
	}); allocs > 8 {
		t.Errorf("prepareBody of a small body allocates %v times", allocs)
	}
}

// TestPrepareBodyHugeLimit: math.MaxInt64, a limit Policy.Validate accepts,
// must neither panic nor lose the body.
func TestPrepareBodyHugeLimit(t *testing.T) {
	const body = `{"model":"m"}`
	for _, cl := range []int64{-1, int64(len(body))} {
		req, _ := bodyRequest(t, body, cl)
		r, err := prepareBody(req, math.MaxInt64)
		if err != nil || r.mode != buffered || string(r.buf) != body {
			t.Fatalf("ContentLength %d: prepareBody = mode %d, %q, %v", cl, r.mode, r.buf, err)
		}
		rc, _ := r.body(req, 2)
		if got, _ := io.ReadAll(rc); !bytes.Equal(got, []byte(body)) {
			t.Errorf("replayed body %q, want %q", got, body)
		}
	}
}
