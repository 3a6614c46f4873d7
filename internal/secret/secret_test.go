package secret

import (
	"net/http"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValues(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://x.test/v1?key=AIzaQuery123&api_key=short&model=m-12345678", nil)
	req.Header.Set("Authorization", "Bearer tok-0123456789")
	req.Header.Set("X-Api-Key", "  anthropic-key-1  ")
	req.Header.Set("Api-Key", "a=b c") // no scheme: a value with a space, too short
	req.Header.Set("X-Goog-Api-Key", "gemini-key-12")
	got := Values(req)
	want := []string{"tok-0123456789", "anthropic-key-1", "gemini-key-12", "AIzaQuery123"}
	if !slices.Equal(got, want) {
		t.Errorf("Values = %q, want %q", got, want)
	}
	if v := Values(&http.Request{Header: http.Header{}}); v != nil {
		t.Errorf("Values of a request without credentials = %q, want nil", v)
	}
	if v := Values(nil); v != nil {
		t.Errorf("Values(nil) = %q, want nil", v)
	}
}

func TestScrub(t *testing.T) {
	secrets := []string{"tok-0123456789", "AIzaQuery123"}
	if got, want := Scrub("token tok-0123456789 and AIzaQuery123, tok-0123456789", secrets), "token … and …, …"; got != want {
		t.Errorf("Scrub = %q, want %q", got, want)
	}
	if got := Scrub("nothing", secrets); got != "nothing" {
		t.Errorf("Scrub = %q, want the text unchanged", got)
	}
}

// TestAWSCredentials: a session token sent as a header, and a presigned
// URL's token and signature, are credentials.
func TestAWSCredentials(t *testing.T) {
	req, _ := http.NewRequest("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/m/invoke?X-Amz-Signature=0123abcd4567ef&X-Amz-Security-Token=querysessiontoken", nil)
	req.Header.Set("X-Amz-Security-Token", "headersessiontoken")
	got := Values(req)
	for _, want := range []string{"headersessiontoken", "0123abcd4567ef", "querysessiontoken"} {
		if !slices.Contains(got, want) {
			t.Errorf("Values = %q, without %q", got, want)
		}
	}
}
