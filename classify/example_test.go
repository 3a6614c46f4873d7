package classify_test

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/rebound-http/rebound/classify"
)

// errorResponse builds a response as an HTTP client would receive it.
func errorResponse(status int, h http.Header, body string) *http.Response {
	if h == nil {
		h = http.Header{}
	}
	h.Set("Content-Type", "application/json")
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(body))}
}

// A 429 from InferKit: the code says retry, the Retry-After header says when.
func ExampleCatalog_Classify() {
	resp := errorResponse(429, http.Header{"Retry-After": {"2"}},
		`{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"9f3c12a8"}}`)

	d := classify.InferKit().Classify(resp, nil)
	fmt.Println(d.Verdict, "by", d.Evidence, "after", d.RetryAfter)
	fmt.Println(d.Code, d.RequestID)

	// The peeked body is still there for the caller.
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(string(body))
	// Output:
	// retryable by body after 2s
	// rate_limited 9f3c12a8
	// {"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"9f3c12a8"}}
}

// The gateway says its internal_error is not retryable, InferKit says its
// internal_error is: the default catalog leaves the code to the status.
func ExampleGateway() {
	const body = `{"error":{"type":"gateway","code":"internal_error","message":"Unexpected internal gateway error."}}`
	for _, c := range []*classify.Catalog{classify.Gateway(), classify.InferKit(), classify.Default()} {
		d := c.Classify(errorResponse(500, nil, body), nil)
		fmt.Printf("%-8s %-9s by %s\n", c.Name, d.Verdict, d.Evidence)
	}
	// Output:
	// gateway  fatal     by body
	// inferkit retryable by body
	// default  retryable by status
}

// ResponseError turns a response an SDK would parse into a Go error, for
// code that wants one.
func ExampleResponseError() {
	resp := errorResponse(403, http.Header{"X-Request-Id": {"req_7"}},
		`{"error":"permission denied [wrong_credential_type]: ik_live_proj1234… is a data key","code":"wrong_credential_type"}`)

	err := classify.ResponseError(resp)
	var apiErr *classify.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.StatusCode, apiErr.Code, apiErr.Retryable)
	}
	fmt.Println(err)
	// Output:
	// 403 wrong_credential_type false
	// 403 wrong_credential_type: permission denied [wrong_credential_type]: ik_live_… is a data key (request id req_7)
}

func ExampleRedact() {
	fmt.Println(classify.Redact("Authorization: Bearer sk-proj-abc123 rejected; use an ik_sdk_ token"))
	// Output: Authorization: Bearer … rejected; use an ik_sdk_ token
}

func ExampleParseRetryAfter() {
	h := http.Header{}
	h.Set("Retry-After-Ms", "1500")
	h.Set("Retry-After", "2")
	d, ok := classify.ParseRetryAfter(h, time.Time{})
	fmt.Println(d, ok) // the larger of the two: never earlier than either says
	// Output: 2s true
}
