package classify

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"net/http"
	"strings"
)

// contentCoding returns the response's Content-Encoding, lower case, or ""
// for none or identity. A Transport that asked for gzip itself decodes the
// body and removes the header; one whose caller set Accept-Encoding, or
// whose DisableCompression is set, leaves both as the server sent them.
func contentCoding(h http.Header) string {
	v := strings.ToLower(strings.TrimSpace(h.Get("Content-Encoding")))
	if v == "identity" {
		return ""
	}
	return v
}

// decode returns the body the classifier reads from the peeked bytes b of a
// body in the content coding enc: b itself without one, and for gzip (or
// x-gzip) and deflate (zlib-wrapped as HTTP says, or raw, as some servers
// send it) at most limit bytes of its decoding. Other codings yield nothing
// to read. whole says whether b is the whole body; the result's whole says
// whether the decoding is.
func decode(enc string, b []byte, whole bool, limit int64) ([]byte, bool) {
	var r io.Reader
	switch enc {
	case "":
		return b, whole
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, false
		}
		r = zr
	case "deflate":
		zr, err := zlib.NewReader(bytes.NewReader(b))
		switch err {
		case nil:
			r = zr
		case zlib.ErrHeader:
			r = flate.NewReader(bytes.NewReader(b))
		default:
			return nil, false
		}
	default: // br, zstd, a chain of codings: nothing this package can read
		return nil, false
	}
	n := limit
	if n < math.MaxInt64 {
		n++ // to tell a decoding of exactly limit bytes from a longer one
	}
	out, err := io.ReadAll(io.LimitReader(r, n))
	if int64(len(out)) > limit {
		return out[:limit], false
	}
	return out, whole && err == nil
}
