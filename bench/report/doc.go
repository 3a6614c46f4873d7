// Package report renders the bench's results: a markdown table (client ×
// scenario: success, latency percentiles, amplification, early and fatal
// retries, recovery, generator validity) and PNG charts drawn with
// gonum.org/v1/plot (latency by percentile per scenario, amplification over
// time, success per scenario).
//
// A Report is plain data; rendering does not modify it, and its functions are
// safe for concurrent use on different writers and folders.
package report
