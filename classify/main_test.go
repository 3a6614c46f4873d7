package classify

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// row is one table case: a response as a service sends it, and the Decision
// it must get.
type row struct {
	name   string
	status int
	header http.Header // Content-Type defaults to application/json
	body   string
	want   Decision // want.Status is set from status
}

// hdr builds a header from key, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

// upstream is a response body that records reads and Close.
type upstream struct {
	r      io.Reader
	read   int64
	closed bool
}

func (u *upstream) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.read += int64(n)
	return n, err
}

func (u *upstream) Close() error { u.closed = true; return nil }

// response returns a response with the given status, header and body,
// and the upstream body behind it.
func response(status int, h http.Header, body string) (*http.Response, *upstream) {
	if h == nil {
		h = http.Header{}
	} else {
		h = h.Clone()
	}
	if _, ok := h["Content-Type"]; !ok {
		h.Set("Content-Type", "application/json")
	}
	u := &upstream{r: strings.NewReader(body)}
	return &http.Response{
		StatusCode:    status,
		Header:        h,
		Body:          u,
		ContentLength: int64(len(body)),
	}, u
}

// runRows classifies every row with c and checks the Decision, that the
// caller still reads the exact body, and that Close reaches the upstream.
func runRows(t *testing.T, c *Catalog, rows []row) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Helper()
			resp, u := response(r.status, r.header, r.body)
			got := c.Classify(resp, nil)
			want := r.want
			want.Status = r.status
			if got != want {
				t.Errorf("%s.Classify(%d %s)\n got %+v\nwant %+v", c.Name, r.status, r.body, got, want)
			}
			checkBody(t, resp, u, r.body)
		})
	}
}

// checkBody reads resp.Body to the end, wants exactly body, closes it and
// wants the upstream closed.
func checkBody(t *testing.T, resp *http.Response, u *upstream, body string) {
	t.Helper()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading the body after Classify: %v", err)
	}
	if !bytes.Equal(got, []byte(body)) {
		t.Errorf("body after Classify = %q, want %q", got, body)
	}
	if err := resp.Body.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if u != nil && !u.closed {
		t.Error("Close did not reach the upstream body")
	}
}
