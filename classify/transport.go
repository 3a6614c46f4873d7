package classify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
)

// ClassifyError reports what a failed round trip's error means; the Decision
// has Status 0, Evidence ByTransport and the error's text, redacted, as its
// Message. ClassifyError(nil) returns the zero Decision.
//
// Retryable are failures of the connection or of the network, which the
// next attempt may not meet: connection refused, reset or aborted, a broken
// pipe, an unexpected EOF before the response, a dial, TLS handshake or
// response header timeout (any net.Error whose Timeout method reports true),
// a temporary DNS failure, and any other *net.OpError.
//
// Fatal are the caller's own context.Canceled and context.DeadlineExceeded,
// certificate and TLS record errors (a retry meets the same certificate),
// DNS names that do not exist, and, conservatively, every error not listed
// here. A timeout of the dialer or of the transport counts as a timeout even
// though it also reports errors.Is(err, context.DeadlineExceeded): only the
// context's own error is the caller's. A retry layer must stop on the
// caller's context anyway.
//
// *url.Error and other wrappers are seen through.
func ClassifyError(err error) Decision {
	if err == nil {
		return Decision{}
	}
	return Decision{Verdict: errorVerdict(err), Evidence: ByTransport, Message: Redact(err.Error())}
}

func errorVerdict(err error) Verdict {
	var (
		dnsErr    *net.DNSError
		netErr    net.Error
		opErr     *net.OpError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		certErr   x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.Canceled), holds(err, context.DeadlineExceeded):
		return Fatal
	case errors.As(err, &verifyErr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &certErr), errors.As(err, &recordErr), errors.As(err, &alertErr):
		return Fatal
	case errors.As(err, &dnsErr):
		if !dnsErr.IsNotFound && (dnsErr.IsTemporary || dnsErr.IsTimeout) {
			return Retryable
		}
		return Fatal
	case isConnErrno(err), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return Retryable
	case errors.As(err, &netErr) && netErr.Timeout(), errors.As(err, &opErr):
		return Retryable
	}
	return Fatal
}

// holds reports whether target itself, not an error that merely says it is
// target through an Is method, is in err's chain.
func holds(err, target error) bool {
	for err != nil {
		if err == target {
			return true
		}
		switch u := err.(type) {
		case interface{ Unwrap() error }:
			err = u.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				if holds(e, target) {
					return true
				}
			}
			return false
		default:
			return false
		}
	}
	return false
}
