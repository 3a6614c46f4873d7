package rebound

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"
	"unsafe"

	"github.com/rebound-http/rebound/retry"
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

// TestKeyReadInPlace: the bodies http.NewRequest makes (from a
// *bytes.Buffer, *bytes.Reader or *strings.Reader) give their key without a
// GetBody copy, and are sent whole; a body already partly read, or of
// another kind, is keyed from a GetBody copy as before.
func TestKeyReadInPlace(t *testing.T) {
	const body = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	cases := []struct {
		name     string
		body     func() io.Reader
		skip     int  // bytes of req.Body read before RoundTrip
		getBody  bool // the key comes from a GetBody copy
		wantSent string
		shared   bool // GetBody hands out the reader of req.Body
	}{
		{"bytes.Buffer", func() io.Reader { return bytes.NewBufferString(body) }, 0, false, body, false},
		{"bytes.Reader", func() io.Reader { return bytes.NewReader([]byte(body)) }, 0, false, body, false},
		{"strings.Reader", func() io.Reader { return strings.NewReader(body) }, 0, false, body, false},
		// Partly read: what is left is not what ContentLength says, and GetBody
		// (the snapshot http.NewRequest took) finds the key.
		{"strings.Reader, partly read", func() io.Reader { return strings.NewReader(body) }, 5, true, body[5:], false},
		{"another reader", func() io.Reader { return &onlyReader{r: strings.NewReader(body)} }, 0, true, body, false},
		{"bytes.Reader shared with GetBody", func() io.Reader { return nil }, 0, false, body, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var sent []byte
			tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				sent, _ = io.ReadAll(r.Body)
				r.Body.Close()
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			}))
			req, err := http.NewRequest(http.MethodPost, "http://api.example.com/v1/chat/completions", c.body())
			if err != nil {
				t.Fatal(err)
			}
			if c.shared {
				// openai-go's *bytes.Reader body: GetBody rewinds the one
				// reader and hands it out again, so a GetBody copy read to
				// find the key would leave req.Body at its end.
				r := bytes.NewReader([]byte(body))
				req.Body, req.ContentLength = io.NopCloser(r), int64(len(body))
				req.GetBody = func() (io.ReadCloser, error) { _, err := r.Seek(0, io.SeekStart); return io.NopCloser(r), err }
			}
			if req.GetBody == nil {
				// A reader http.NewRequest does not know: give it a GetBody.
				req.ContentLength = int64(len(body))
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
			}
			if c.skip > 0 {
				io.ReadFull(req.Body, make([]byte, c.skip))
			}
			copies := 0
			get := req.GetBody
			req.GetBody = func() (io.ReadCloser, error) { copies++; return get() }
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if string(sent) != c.wantSent {
				t.Errorf("sent %q, want %q", sent, c.wantSent)
			}
			if want := map[bool]int{false: 0, true: 1}[c.getBody]; copies != want {
				t.Errorf("%d GetBody copies, want %d", copies, want)
			}
			if st := tr.Stats(); len(st.Keys) != 1 || st.Keys[0].Key != "api.example.com/gpt-4o-mini" {
				t.Errorf("keys %+v, want api.example.com/gpt-4o-mini", st.Keys)
			}
		})
	}
}

// TestUnreadInPlace: the unread bytes of a *bytes.Reader or *strings.Reader
// are read where they are, as the reader would give them, at its start,
// part way and at its end. (Should a Go release change the readers'
// layout, readerLayouts turns this off and the key is read from a copy:
// this test then says so.)
func TestUnreadInPlace(t *testing.T) {
	if !readerLayouts {
		t.Fatal("bytes.Reader or strings.Reader changed its layout: keys are read from GetBody copies")
	}
	const text = `{"model":"m"}`
	for skip := 0; skip <= len(text); skip++ {
		x := []byte(text)
		br, sr := bytes.NewReader(x), strings.NewReader(text)
		io.ReadFull(br, make([]byte, skip))
		io.ReadFull(sr, make([]byte, skip))
		b, ok := unreadOf[[]byte](unsafe.Pointer(br))
		if !ok || string(b) != text[skip:] || len(b) > 0 && &b[0] != &x[skip] {
			t.Errorf("skip %d: unread bytes = %q, %v; want %q, in place", skip, b, ok, text[skip:])
		}
		if s, ok := unreadOf[string](unsafe.Pointer(sr)); !ok || s != text[skip:] {
			t.Errorf("skip %d: unread string = %q, %v; want %q", skip, s, ok, text[skip:])
		}
	}
}

// TestLargeBodyKeyedInPlace: a body over maxPooledKeyBody that
// http.NewRequest wrapped is keyed by its model, read in place, up to the
// buffer limit; one that would need a GetBody copy is keyed by its host.
func TestLargeBodyKeyedInPlace(t *testing.T) {
	big := `{"messages":[{"role":"user","content":"` + strings.Repeat("a", maxPooledKeyBody) + `"}],"model":"m-big"}`
	for _, c := range []struct {
		name    string
		body    func() io.Reader
		limit   int64
		wantKey string
	}{
		{"bytes.Reader", func() io.Reader { return bytes.NewReader([]byte(big)) }, 0, "api.example.com/m-big"},
		{"strings.Reader", func() io.Reader { return strings.NewReader(big) }, 0, "api.example.com/m-big"},
		{"bytes.Buffer", func() io.Reader { return bytes.NewBufferString(big) }, 0, "api.example.com/m-big"},
		{"over the buffer limit", func() io.Reader { return strings.NewReader(big) }, maxPooledKeyBody, "api.example.com"},
		{"another reader", func() io.Reader { return &onlyReader{r: strings.NewReader(big)} }, 0, "api.example.com"},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := New(roundTripFunc(func(r *http.Request) (*http.Response, error) {
				io.Copy(io.Discard, r.Body)
				r.Body.Close()
				return &http.Response{StatusCode: 200, Header: http.Header{}, Body: http.NoBody, Request: r}, nil
			}), WithRetry(retry.Policy{MaxBodyBuffer: c.limit}))
			req, err := http.NewRequest(http.MethodPost, "http://api.example.com/v1/chat/completions", c.body())
			if err != nil {
				t.Fatal(err)
			}
			copies := 0
			if req.GetBody == nil {
				req.ContentLength = int64(len(big))
				req.GetBody = func() (io.ReadCloser, error) { copies++; return io.NopCloser(strings.NewReader(big)), nil }
			}
			resp, err := tr.RoundTrip(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if copies != 0 {
				t.Errorf("%d GetBody copies, want none", copies)
			}
			if st := tr.Stats(); len(st.Keys) != 1 || st.Keys[0].Key != c.wantKey {
				t.Errorf("keys %+v, want %s", st.Keys, c.wantKey)
			}
		})
	}
}
