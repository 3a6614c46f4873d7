//go:build !plan9

package classify

import (
	"errors"
	"syscall"
)

// isConnErrno reports whether err holds an errno of a failed connection.
func isConnErrno(err error) bool {
	for _, e := range [...]syscall.Errno{
		syscall.ECONNREFUSED, syscall.ECONNRESET, syscall.ECONNABORTED,
		syscall.EPIPE, syscall.ETIMEDOUT, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
