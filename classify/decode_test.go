package classify

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"strings"
	"testing"
)

const quotaBody = `{"error":{"message":"You exceeded your current quota, please check your plan and billing details.","type":"insufficient_quota","param":null,"code":"insufficient_quota"}}`

var quotaDecision = Decision{Verdict: Fatal, Status: 429, Evidence: ByBody, Code: "insufficient_quota", Type: "insufficient_quota",
	Message: "You exceeded your current quota, please check your plan and billing details."}

func gzipped(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func zlibbed(s string) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func deflated(s string) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

// TestCompressedErrorBody sends a 429 insufficient_quota as a server does to
// a caller that asked for gzip itself (or whose Transport has
// DisableCompression): the classifier reads the decoded body, the caller
// the bytes that came.
func TestCompressedErrorBody(t *testing.T) {
	for _, tc := range []struct {
		name, encoding string
		body           []byte
		want           Decision
	}{
		{"gzip", "gzip", gzipped(quotaBody), quotaDecision},
		{"x-gzip, any case", " X-GZip ", gzipped(quotaBody), quotaDecision},
		{"deflate (zlib)", "deflate", zlibbed(quotaBody), quotaDecision},
		{"raw deflate", "deflate", deflated(quotaBody), quotaDecision},
		{"identity", "identity", []byte(quotaBody), quotaDecision},
		{"brotli is not read", "br", []byte("\x1b\x00\x00"), Decision{Verdict: Retryable, Status: 429, Evidence: ByStatus}},
		{"gzip that is not", "gzip", []byte(quotaBody), Decision{Verdict: Retryable, Status: 429, Evidence: ByStatus}},
		{"corrupt gzip", "gzip", gzipped(quotaBody)[:12], Decision{Verdict: Retryable, Status: 429, Evidence: ByStatus}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, u := response(429, hdr("Content-Encoding", tc.encoding), string(tc.body))
			if d := OpenAI().Classify(resp, nil); d != tc.want {
				t.Errorf("Classify = %+v\nwant %+v", d, tc.want)
			}
			checkBody(t, resp, u, string(tc.body))
		})
	}
}

// TestCompressedLongBody: a gzip body whose decoding is longer than MaxPeek
// is decoded no further, and its first members still decide.
func TestCompressedLongBody(t *testing.T) {
	long := `{"error":{"code":"insufficient_quota","message":"` + strings.Repeat("quota ", 100<<10) + `"}}`
	z := gzipped(long)
	resp, u := response(429, hdr("Content-Encoding", "gzip"), string(z))
	c := OpenAI()
	c.MaxPeek = 4 << 10
	if d := c.Classify(resp, nil); d.Verdict != Fatal || d.Code != "insufficient_quota" {
		t.Errorf("Classify = %+v, want fatal insufficient_quota", d)
	}
	checkBody(t, resp, u, string(z))

	// A compressed body longer than MaxPeek is decoded as far as it came.
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
	w.Write([]byte(long))
	w.Close()
	resp, u = response(429, hdr("Content-Encoding", "gzip"), b.String())
	if d := c.Classify(resp, nil); d.Verdict != Fatal || d.Code != "insufficient_quota" {
		t.Errorf("uncompressed gzip: Classify = %+v, want fatal insufficient_quota", d)
	}
	checkBody(t, resp, u, b.String())
}

// TestDecodeBounded decodes a gzip bomb no further than the limit.
func TestDecodeBounded(t *testing.T) {
	bomb := gzipped(strings.Repeat("\x00", 8<<20))
	out, whole := decode("gzip", bomb, true, 1000)
	if len(out) != 1000 || whole {
		t.Errorf("decode of an 8 MiB bomb = %d bytes, whole %v; want 1000, false", len(out), whole)
	}
	for _, tc := range []struct {
		enc       string
		b         []byte
		whole     bool
		wantLen   int
		wantWhole bool
	}{
		{"gzip", gzipped("abc"), true, 3, true},
		{"gzip", gzipped("abc"), false, 3, false},        // the peek was cut: the decoding may be too
		{"gzip", gzipped("abcdef")[:20], true, 6, false}, // no checksum: maybe not all
		{"deflate", zlibbed("abc"), true, 3, true},
		{"deflate", deflated("abc"), true, 3, true},
		{"deflate", []byte{0x78}, true, 0, false},
		{"compress", []byte("abc"), true, 0, false},
		{"", []byte("abc"), true, 3, true},
	} {
		out, whole := decode(tc.enc, tc.b, tc.whole, 1<<10)
		if len(out) != tc.wantLen || whole != tc.wantWhole {
			t.Errorf("decode(%q, %q, %v) = %q, %v; want %d bytes, %v", tc.enc, tc.b, tc.whole, out, whole, tc.wantLen, tc.wantWhole)
		}
	}
	if out, _ := decode("gzip", gzipped("abc"), true, 1<<63-1); string(out) != "abc" {
		t.Errorf("decode with the largest limit = %q", out)
	}
}

// TestCompressedStream: a 200 event stream with a Content-Encoding is left
// to the caller untouched; a compressed error stream is decoded.
func TestCompressedStream(t *testing.T) {
	sse := "event: error\ndata: {\"error\":{\"code\":\"model_overloaded\"}}\n\n"
	resp, u := response(200, hdr("Content-Type", "text/event-stream", "Content-Encoding", "gzip"), string(gzipped(sse)))
	if d := Gateway().Classify(resp, nil); d != (Decision{Status: 200}) {
		t.Errorf("Classify(200 gzip stream) = %+v, want a plain success", d)
	}
	if resp.Body != io.ReadCloser(u) || u.read != 0 {
		t.Errorf("Classify read %d bytes of an encoded 200 stream", u.read)
	}
	resp, u = response(503, hdr("Content-Type", "text/event-stream", "Content-Encoding", "gzip"), string(gzipped(sse)))
	if d := Gateway().Classify(resp, nil); d.Verdict != Retryable || d.Evidence != ByBody || d.Code != "model_overloaded" {
		t.Errorf("Classify(503 gzip stream) = %+v, want model_overloaded", d)
	}
	checkBody(t, resp, u, string(gzipped(sse)))
}
