package rebound

import (
	"bytes"
	"errors"
	"io"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"unsafe"
)

// bodyMode says how a request's body is replayed.
type bodyMode uint8

const (
	noBody   bodyMode = iota // nil or http.NoBody: nothing to replay
	getBody                  // the caller's GetBody makes fresh copies
	buffered                 // read once into buf, replayed from it
	oneShot                  // too large to buffer and no GetBody: one attempt only
)

// replay holds what is needed to give each attempt a fresh, byte-identical
// request body.
type replay struct {
	mode bodyMode
	buf  []byte        // buffered: the whole body; oneShot: the prefix already read
	rest io.ReadCloser // oneShot: the caller's body after buf
}

// prepareBody decides how req's body will be replayed, reading it into memory
// when it has no GetBody and fits in limit bytes. The buffer grows with the
// body, up to limit+1 bytes: a small body of unknown length costs little
// more than its size, however large limit is. It never modifies req; it
// closes req.Body once the body has been read in full.
func prepareBody(req *http.Request, limit int64) (replay, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return replay{mode: noBody}, nil
	}
	if req.GetBody != nil {
		return replay{mode: getBody}, nil
	}
	if limit < 0 {
		return replay{mode: oneShot, rest: req.Body}, nil
	}
	n := limit // read n bytes at most: limit, and one more to see a longer body
	if n < math.MaxInt64 {
		n++
	}
	size := int64(512)
	if cl := req.ContentLength; cl > 0 && cl < math.MaxInt64 {
		size = cl + 1 // the length is known: room to see io.EOF without growing
	}
	buf := make([]byte, 0, min(size, n))
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, int(min(int64(cap(buf)), n-int64(len(buf)))))
		}
		m, err := req.Body.Read(buf[len(buf):min(int64(cap(buf)), n)])
		buf = buf[:len(buf)+m]
		switch {
		case errors.Is(err, io.EOF):
			req.Body.Close()
			return replay{mode: buffered, buf: buf}, nil
		case err != nil:
			req.Body.Close()
			return replay{}, err
		}
	}
	// More than limit bytes and no way to rewind: send what was read, then
	// the rest, once.
	return replay{mode: oneShot, buf: buf, rest: req.Body}, nil
}

// keyBody calls f with the body bytes a KeyFunc may look at: the buffer (of
// a one-shot body, its first limit bytes), the unread bytes of the reader
// http.NewRequest wrapped (see peekable), or a GetBody copy read into a
// pooled buffer; f gets nil when the body is absent, when a GetBody body's
// length is unknown or larger than limit, or when a copy would be larger
// than maxPooledKeyBody. The bytes are only valid during f.
func (r *replay) keyBody(req *http.Request, limit int64, f func([]byte) string) string {
	switch r.mode {
	case buffered, oneShot:
		return f(r.buf)
	case getBody:
		return r.keyBodyCopy(req, limit, f)
	}
	return f(nil)
}

// keyBodyCopy is keyBody for a body with GetBody.
func (r *replay) keyBodyCopy(req *http.Request, limit int64, f func([]byte) string) string {
	n := req.ContentLength
	if n < 0 || n > limit {
		return f(nil) // unknown, or larger than a body is buffered
	}
	switch r := peekable(req.Body).(type) {
	case *bytes.Buffer:
		if int64(r.Len()) == n {
			return f(r.Bytes())
		}
	case *bytes.Reader:
		if b, ok := unreadOf[[]byte](unsafe.Pointer(r)); ok && int64(len(b)) == n {
			return f(b)
		}
	case *strings.Reader:
		if s, ok := unreadOf[string](unsafe.Pointer(r)); ok && int64(len(s)) == n {
			return f(unsafe.Slice(unsafe.StringData(s), len(s)))
		}
	}
	if n > maxPooledKeyBody {
		return f(nil) // not worth a copy per request
	}
	bp := keyBufs.Get().(*[]byte)
	defer keyBufs.Put(bp)
	if int64(cap(*bp)) < n+1 {
		*bp = make([]byte, n+1)
	}
	rc, err := req.GetBody()
	if err != nil {
		return f(nil)
	}
	b := (*bp)[:n+1]
	got, err := io.ReadFull(rc, b)
	rc.Close()
	if got != int(n) || !errors.Is(err, io.ErrUnexpectedEOF) {
		return f(nil) // ContentLength was wrong
	}
	return f(b[:n])
}

// nopCloserType is the type io.NopCloser gives the readers http.NewRequest
// makes a GetBody for (each has a WriteTo method): a struct whose one field
// is the reader, when peekable can read it.
var nopCloserType = func() reflect.Type {
	r := strings.NewReader("")
	body := io.NopCloser(r)
	t := reflect.TypeOf(body)
	if t.Kind() != reflect.Struct || t.NumField() != 1 || t.Field(0).Type != reflect.TypeFor[io.Reader]() || t.Size() != unsafe.Sizeof(struct{ io.Reader }{}) {
		return nil // io.NopCloser changed: GetBody serves
	}
	if inner, ok := wrapped(body).(*strings.Reader); !ok || inner != r {
		return nil
	}
	return t
}()

// peekable returns the reader that io.NopCloser wrapped to make body, the
// way http.NewRequest wraps a *bytes.Buffer, *bytes.Reader or
// *strings.Reader, or nil for any other body. Its unread bytes are those
// the first attempt sends: reading them where they are (Bytes, unreadOf)
// spares the GetBody copy that finding the key would otherwise cost.
func peekable(body io.ReadCloser) io.Reader {
	if body == nil || nopCloserType == nil || reflect.TypeOf(body) != nopCloserType {
		return nil
	}
	return wrapped(body)
}

// wrapped returns the field of body, a value of nopCloserType: the
// interface's data word points to the struct, whose one field is the
// reader. (reflect's Field(0).Interface() does the same at ten times the
// cost; nopCloserType checks the layout, and this, once at init.)
func wrapped(body io.ReadCloser) io.Reader {
	return (*struct{ io.Reader })((*[2]unsafe.Pointer)(unsafe.Pointer(&body))[1]).Reader
}

// readerLayout is the layout of bytes.Reader and strings.Reader: the bytes
// or string, and the index of the next byte to read.
type readerLayout[S []byte | string] struct {
	s S
	i int64
}

// readerLayouts reports whether *bytes.Reader and *strings.Reader are laid
// out as readerLayout, so that their unread bytes can be read in place
// (see unreadOf): checked once, by reflect and a round trip. Should a Go
// release change it, the key is read from a GetBody copy.
var readerLayouts = func() bool {
	laidOut := func(t, s reflect.Type, offset uintptr) bool {
		return t.NumField() >= 2 && t.Field(0).Name == "s" && t.Field(0).Type == s && t.Field(0).Offset == 0 &&
			t.Field(1).Name == "i" && t.Field(1).Type == reflect.TypeFor[int64]() && t.Field(1).Offset == offset
	}
	if !laidOut(reflect.TypeFor[bytes.Reader](), reflect.TypeFor[[]byte](), unsafe.Offsetof(readerLayout[[]byte]{}.i)) ||
		!laidOut(reflect.TypeFor[strings.Reader](), reflect.TypeFor[string](), unsafe.Offsetof(readerLayout[string]{}.i)) {
		return false
	}
	x := []byte("abc")
	br, sr := bytes.NewReader(x), strings.NewReader("abc")
	br.ReadByte()
	sr.ReadByte()
	v, w := (*readerLayout[[]byte])(unsafe.Pointer(br)), (*readerLayout[string])(unsafe.Pointer(sr))
	return v.i == 1 && len(v.s) == 3 && &v.s[0] == &x[0] && w.i == 1 && w.s == "abc"
}()

// unreadOf returns the bytes or the string a *bytes.Reader or a
// *strings.Reader (r, of the matching kind) has yet to read, in place; ok is
// false when their layout is not known. What it returns must not be
// modified: the bytes are the body's (a KeyFunc or CostFunc must not modify
// them), and a string's may be read-only.
func unreadOf[S []byte | string](r unsafe.Pointer) (s S, ok bool) {
	if !readerLayouts {
		return s, false
	}
	v := (*readerLayout[S])(r)
	if v.i < 0 || v.i > int64(len(v.s)) {
		return s, false
	}
	return v.s[v.i:], true
}

// maxPooledKeyBody bounds the copies read to find a request's key (the
// bodies read in place are bounded by the buffer limit alone, as buffered
// ones are).
const maxPooledKeyBody = 1 << 20

var keyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// body returns a fresh body for attempt n (1 for the first); for noBody it
// returns req.Body as is.
func (r *replay) body(req *http.Request, n int) (io.ReadCloser, error) {
	switch r.mode {
	case getBody:
		if n == 1 {
			return req.Body, nil
		}
		return req.GetBody()
	case buffered:
		return io.NopCloser(bytes.NewReader(r.buf)), nil
	case oneShot:
		rest := r.rest
		r.rest = nil
		if rest == nil {
			return nil, errNotReplayable
		}
		if len(r.buf) == 0 {
			return rest, nil
		}
		return struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(r.buf), rest), rest}, nil
	}
	return req.Body, nil
}

// replayable reports whether the body can be sent more than once.
func (r *replay) replayable() bool { return r.mode != oneShot }

// close closes the caller's body if it was never handed to the inner
// transport (the RoundTripper contract: the body is closed on every path).
func (r *replay) close(req *http.Request, sent bool) {
	switch {
	case r.mode == getBody && !sent:
		req.Body.Close()
	case r.mode == oneShot && r.rest != nil:
		r.rest.Close()
		r.rest = nil
	}
}

var errNotReplayable = errors.New("rebound: request body cannot be replayed")

// maxDrain bounds how much of a discarded response body is read so that its
// connection can be reused; a longer body is closed unread (go-retryablehttp
// and net/http make the same trade).
const maxDrain = 4 << 10

// discard drains at most maxDrain bytes of resp's body and closes it. An
// event stream is closed undrained: its server may keep it open, and a
// read would wait for its next event.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	if !eventStream(resp.Header) {
		io.CopyN(io.Discard, resp.Body, maxDrain)
	}
	resp.Body.Close()
}

// maxKept bounds the error body of an answer held while the call waits for
// its next attempt that is read into memory, so that its connection goes
// back to the pool meanwhile.
const maxKept = 64 << 10

// keep prepares resp, a retryable answer, to be held while the call waits:
// a body of at most maxKept bytes is read into memory and the upstream body
// closed; a longer one stays as it is (and its connection with it), and so
// does an event stream, whose server may keep it open after its error
// event: reading it to its end could wait for ever.
func keep(resp *http.Response) *http.Response {
	if resp == nil || resp.Body == nil || resp.Body == http.NoBody || eventStream(resp.Header) {
		return resp
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxKept+1))
	rest := io.Reader(nil)
	switch {
	case err != nil:
		rest = errReader{err}
	case len(b) > maxKept:
		// Too long to buffer: put the bytes back in front of the rest.
		resp.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), resp.Body), resp.Body}
		return resp
	}
	resp.Body.Close()
	r := io.Reader(bytes.NewReader(b))
	if rest != nil {
		r = io.MultiReader(r, rest)
	}
	resp.Body = io.NopCloser(r)
	return resp
}

// errReader returns its error on every read: the held body fails where the
// upstream body did.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }
