package classify

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestAPIErrorString(t *testing.T) {
	for _, tc := range []struct {
		e    APIError
		want string
	}{
		{APIError{StatusCode: 429, Code: "rate_limited", Message: "Rate limit exceeded", RequestID: "9f3c12a8"},
			"429 rate_limited: Rate limit exceeded (request id 9f3c12a8)"},
		{APIError{StatusCode: 529, Type: "overloaded_error", Message: "Overloaded"}, "529 overloaded_error: Overloaded"},
		{APIError{StatusCode: 502}, "502 Bad Gateway"},
		{APIError{StatusCode: 599, Message: "odd"}, "599: odd"},
		{APIError{StatusCode: 200, Code: "stream_error"}, "200 stream_error"},
		{APIError{}, "classify: upstream error"},
		{APIError{StatusCode: 401, Code: "ik_live_abc123", Type: "t", Message: "key sk-proj-abc and Bearer xyz.123 refused",
			RequestID: "ik_sdk_secret9"},
			"401 ik_live_…: key sk-proj-… and Bearer … refused (request id ik_sdk_…)"},
	} {
		if got := tc.e.Error(); got != tc.want {
			t.Errorf("%+v.Error() = %q, want %q", tc.e, got, tc.want)
		}
	}
}

// TestAPIErrorNoSecrets puts keys in every field a body can set and checks
// that neither the Decision nor the error shows them.
func TestAPIErrorNoSecrets(t *testing.T) {
	secrets := []string{"proj1234secret", "AbCd0123sdk", "pubKEY987", "ant-api03-Zz9", "Zz9", "tok.en-42"}
	body := `{"errorId":"ik_live_proj1234secret","message":"ik_sdk_AbCd0123sdk, ik_pub_pubKEY987, sk-ant-api03-Zz9 and Bearer tok.en-42",` +
		`"requestId":"sk-Zz9","error":{"type":"sk-proj-Zz9"}}`
	resp, u := response(401, nil, body)
	err := Default().ResponseError(resp)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("ResponseError = %v, want an *APIError", err)
	}
	d := Default().Classify(secondResponse(body), nil)
	for _, s := range secrets {
		for _, field := range []string{err.Error(), apiErr.Code, apiErr.Type, apiErr.Message, apiErr.RequestID,
			d.Code, d.Type, d.Message, d.RequestID} {
			if strings.Contains(field, s) {
				t.Errorf("secret %q leaked in %q", s, field)
			}
		}
	}
	checkBody(t, resp, u, body) // the caller still reads the body as sent
}

func TestResponseError(t *testing.T) {
	resp, u := response(200, nil, `{"ok":true}`)
	if err := ResponseError(resp); err != nil {
		t.Errorf("ResponseError(200) = %v, want nil", err)
	}
	checkBody(t, resp, u, `{"ok":true}`)

	const body = `{"error":{"code":"rate_limited","message":"Rate limit exceeded","request_id":"9f3c12a8"}}`
	resp, u = response(429, hdr("Retry-After", "3"), body)
	err := InferKit().ResponseError(resp)
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("ResponseError = %v, want an *APIError", err)
	}
	want := APIError{StatusCode: 429, Code: "rate_limited", Message: "Rate limit exceeded", RequestID: "9f3c12a8", Retryable: true}
	if *apiErr != want {
		t.Errorf("ResponseError = %+v, want %+v", *apiErr, want)
	}
	checkBody(t, resp, u, body)

	// The package-level ResponseError uses the Default catalog:
	// internal_error is a conflict there, so the 500 status decides.
	resp, _ = response(500, nil, `{"error":{"code":"internal_error"}}`)
	if err := ResponseError(resp); !errors.As(err, &apiErr) || !apiErr.Retryable {
		t.Errorf("ResponseError(500 internal_error) = %#v, want a retryable *APIError", err)
	}
	resp, _ = response(500, nil, `{"error":{"code":"internal_error"}}`)
	if err := Gateway().ResponseError(resp); !errors.As(err, &apiErr) || apiErr.Retryable {
		t.Errorf("Gateway().ResponseError(500 internal_error) = %#v, want a fatal *APIError", err)
	}
	io.Copy(io.Discard, resp.Body)
}

func secondResponse(body string) *http.Response {
	r, _ := response(401, nil, body)
	return r
}

// TestSentCredentialsNotEchoed: a bearer token without a known prefix
// (Mistral's, Together's), an Azure api-key and a ?key= parameter are no
// keys to Redact; echoed back by the provider, they are cut out by their
// values, taken from the request the answer came for.
func TestSentCredentialsNotEchoed(t *testing.T) {
	const bearer, azure, query = "Zq81mNs0pLk2vTq9", "3f9a0c7d1e2b4a6f8c0d", "plainKey0001x"
	body := `{"error":{"code":"bad_` + azure + `","message":"Invalid token: ` + bearer + ` (key ` + query + `)"}}`
	for _, status := range []int{401, 429, 500} {
		resp, u := response(status, hdr("X-Request-Id", "req-"+bearer), body)
		req, _ := http.NewRequest("POST", "https://api.example.com/v1/chat?key="+query, nil)
		req.Header.Set("Authorization", "Bearer "+bearer)
		req.Header.Set("Api-Key", azure)
		resp.Request = req
		d := Default().Classify(resp, nil)
		var fields []string
		if status == 401 {
			resp2, _ := response(status, hdr("X-Request-Id", "req-"+bearer), body)
			resp2.Request = req
			err := Default().ResponseError(resp2)
			fields = append(fields, err.Error())
		}
		fields = append(fields, d.Code, d.Type, d.Message, d.RequestID)
		if !strings.Contains(d.Message, "Invalid token: … (key …)") || d.RequestID != "req-…" {
			t.Errorf("%d: message %q, request id %q: want the values cut out and the rest kept", status, d.Message, d.RequestID)
		}
		for _, s := range []string{bearer, azure, query} {
			for _, f := range fields {
				if strings.Contains(f, s) {
					t.Errorf("%d: credential %q in %q", status, s, f)
				}
			}
		}
		checkBody(t, resp, u, body) // the caller still reads the body as sent
	}
}
