//go:build !plan9

package classify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"
)

// roundTrip sends a GET to rawURL through tr, both bare and through an
// http.Client (which wraps the error in *url.Error), and returns both errors.
func roundTrip(t *testing.T, tr *http.Transport, ctx context.Context, rawURL string) (bare, wrapped error) {
	t.Helper()
	t.Cleanup(tr.CloseIdleConnections)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, errp := range []*error{&bare, &wrapped} {
		var resp *http.Response
		if i == 0 {
			resp, *errp = tr.RoundTrip(req)
		} else {
			resp, *errp = (&http.Client{Transport: tr}).Do(req)
		}
		if *errp == nil {
			resp.Body.Close()
			t.Fatalf("GET %s succeeded, want an error", rawURL)
		}
	}
	var uerr *url.Error
	if !errors.As(wrapped, &uerr) {
		t.Fatalf("client error %T is not a *url.Error", wrapped)
	}
	return bare, wrapped
}

// wantVerdict checks ClassifyError and Classify on err.
func wantVerdict(t *testing.T, err error, want Verdict) {
	t.Helper()
	d := ClassifyError(err)
	if d.Verdict != want || d.Evidence != ByTransport || d.Status != 0 || d.Message != Redact(err.Error()) {
		t.Errorf("ClassifyError(%T %q) = %+v, want %v by transport", err, err, d, want)
	}
	if got := Default().Classify(nil, err); got != d {
		t.Errorf("Classify(nil, err) = %+v, want ClassifyError's %+v", got, d)
	}
}

// server starts an httptest server whose handler is h and whose error log
// is discarded.
func server(t *testing.T, tlsServer bool, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	s := httptest.NewUnstartedServer(h)
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	if tlsServer {
		s.StartTLS()
	} else {
		s.Start()
	}
	t.Cleanup(s.Close)
	return s
}

func TestTransportRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	bare, wrapped := roundTrip(t, &http.Transport{}, context.Background(), "http://"+addr)
	if !errors.Is(bare, syscall.ECONNREFUSED) {
		t.Fatalf("dialing a closed port: %v, want ECONNREFUSED", bare)
	}
	wantVerdict(t, bare, Retryable)
	wantVerdict(t, wrapped, Retryable)
}

func TestTransportEOF(t *testing.T) {
	s := server(t, false, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
	})
	bare, wrapped := roundTrip(t, &http.Transport{}, context.Background(), s.URL)
	if !errors.Is(bare, io.EOF) {
		t.Fatalf("server closed the connection: %v, want io.EOF", bare)
	}
	wantVerdict(t, bare, Retryable)
	wantVerdict(t, wrapped, Retryable)
}

func TestTransportReset(t *testing.T) {
	s := server(t, false, func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.(*net.TCPConn).SetLinger(0) // close with RST
			conn.Close()
		}
	})
	bare, wrapped := roundTrip(t, &http.Transport{}, context.Background(), s.URL)
	if !errors.Is(bare, syscall.ECONNRESET) && !errors.Is(bare, io.EOF) {
		t.Fatalf("server reset the connection: %v, want ECONNRESET or EOF", bare)
	}
	wantVerdict(t, bare, Retryable)
	wantVerdict(t, wrapped, Retryable)
}

// silentListener accepts connections and never writes to them.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}

func TestTransportTLSHandshakeTimeout(t *testing.T) {
	addr := silentListener(t)
	tr := &http.Transport{TLSHandshakeTimeout: 20 * time.Millisecond}
	bare, wrapped := roundTrip(t, tr, context.Background(), "https://"+addr)
	if bare.Error() != "net/http: TLS handshake timeout" {
		t.Fatalf("silent TLS server: %v, want a TLS handshake timeout", bare)
	}
	wantVerdict(t, bare, Retryable)
	wantVerdict(t, wrapped, Retryable)
}

func TestTransportResponseHeaderTimeout(t *testing.T) {
	addr := silentListener(t)
	tr := &http.Transport{ResponseHeaderTimeout: 20 * time.Millisecond}
	bare, wrapped := roundTrip(t, tr, context.Background(), "http://"+addr)
	// net/http's timeout also says it is context.DeadlineExceeded; it is
	// the transport's, not the caller's, so it is Retryable.
	if !errors.Is(bare, context.DeadlineExceeded) {
		t.Fatalf("silent server: %v, want a timeout that is context.DeadlineExceeded", bare)
	}
	wantVerdict(t, bare, Retryable)
	wantVerdict(t, wrapped, Retryable)
}

func TestTransportCertificate(t *testing.T) {
	s := server(t, true, func(http.ResponseWriter, *http.Request) {})
	bare, wrapped := roundTrip(t, &http.Transport{}, context.Background(), s.URL)
	var verr *tls.CertificateVerificationError
	if !errors.As(bare, &verr) {
		t.Fatalf("untrusted certificate: %v, want a *tls.CertificateVerificationError", bare)
	}
	wantVerdict(t, bare, Fatal)
	wantVerdict(t, wrapped, Fatal)
}

func TestTransportHTTPSToHTTP(t *testing.T) {
	s := server(t, false, func(http.ResponseWriter, *http.Request) {})
	bare, wrapped := roundTrip(t, &http.Transport{}, context.Background(), "https://"+s.Listener.Addr().String())
	wantVerdict(t, bare, Fatal)
	wantVerdict(t, wrapped, Fatal)
}

func TestTransportContext(t *testing.T) {
	addr := silentListener(t)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	bare, wrapped := roundTrip(t, &http.Transport{}, cancelled, "http://"+addr)
	if !errors.Is(bare, context.Canceled) {
		t.Fatalf("cancelled context: %v", bare)
	}
	wantVerdict(t, bare, Fatal)
	wantVerdict(t, wrapped, Fatal)

	expired, cancel := context.WithDeadline(context.Background(), time.Unix(0, 0))
	defer cancel()
	bare, wrapped = roundTrip(t, &http.Transport{}, expired, "http://"+addr)
	if !errors.Is(bare, context.DeadlineExceeded) {
		t.Fatalf("expired context: %v", bare)
	}
	wantVerdict(t, bare, Fatal)
	wantVerdict(t, wrapped, Fatal)

	// The dialer turns a context deadline into its own i/o timeout, which
	// cannot be told from Dialer.Timeout: it counts as a timeout.
	_, err := (&net.Dialer{}).DialContext(expired, "tcp", addr)
	var op *net.OpError
	if !errors.As(err, &op) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("dial with an expired context: %v, want a *net.OpError timeout", err)
	}
	wantVerdict(t, err, Retryable)
}

// TestTransportErrors covers errors that are hard to provoke for real, built
// as the standard library builds them.
func TestTransportErrors(t *testing.T) {
	sys := func(call string, errno syscall.Errno) error {
		return &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError(call, errno)}
	}
	for _, tc := range []struct {
		err  error
		want Verdict
	}{
		{sys("write", syscall.EPIPE), Retryable},
		{sys("read", syscall.ECONNRESET), Retryable},
		{sys("read", syscall.ECONNABORTED), Retryable},
		{&url.Error{Op: "Post", URL: "https://api.example.com", Err: syscall.ECONNRESET}, Retryable},
		{io.ErrUnexpectedEOF, Retryable},
		{fmt.Errorf("reading: %w", io.EOF), Retryable},
		{&net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}, Retryable},
		{&net.OpError{Op: "read", Net: "tcp", Err: net.ErrClosed}, Retryable},
		{&net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}}, Fatal},
		{&net.DNSError{Err: "i/o timeout", Name: "api.example.com", IsTimeout: true}, Retryable},
		{&net.DNSError{Err: "lookup failed", Name: "api.example.com"}, Fatal},
		{&net.OpError{Op: "dial", Net: "tcp", Err: context.Canceled}, Fatal},
		{fmt.Errorf("attempt: %w", context.DeadlineExceeded), Fatal},
		{errors.Join(errors.New("x"), context.DeadlineExceeded), Fatal},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, Fatal},
		{tls.AlertError(40), Fatal},
		{errors.New("http2: server sent GOAWAY and closed the connection"), Fatal},
		{errors.New("something unheard of"), Fatal},
	} {
		wantVerdict(t, tc.err, tc.want)
	}
	if d := ClassifyError(nil); d != (Decision{}) {
		t.Errorf("ClassifyError(nil) = %+v, want the zero Decision", d)
	}
	err := &url.Error{Op: "Get", URL: "https://api.example.com/v1?x=1", Err: errors.New("proxy refused Bearer abc.def-123 and sk-ant-api03-xyz")}
	if got, want := ClassifyError(err).Message, `Get "https://api.example.com/v1?x=1": proxy refused Bearer … and sk-ant-…`; got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
}
