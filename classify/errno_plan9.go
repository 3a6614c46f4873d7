package classify

// isConnErrno reports false: Plan 9 has no errnos; its network errors are
// *net.OpError, which are Retryable anyway.
func isConnErrno(error) bool { return false }
