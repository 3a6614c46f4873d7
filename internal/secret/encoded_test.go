package secret

import (
	"net/http"
	"strings"
	"testing"
)

// TestEncodedForms: Scrub with Values must cut a credential out of a
// text that quotes it as a URL spells it: the query's raw form (percent
// escapes, "+" for a space) and the escaped form of a header's value.
func TestEncodedForms(t *testing.T) {
	req, _ := http.NewRequest("GET", "https://x.test/v1?key=abc%2Fdef%2B0123&api_key=tok+with+space", nil)
	req.Header.Set("Api-Key", "hdr/key+0123456789")
	v := Values(req)
	for _, text := range []string{
		"Get " + req.URL.String() + ": EOF",
		"echoed abc/def+0123 and tok with space",
		"GET /v1?x=hdr%2Fkey%2B0123456789",
		"hdr/key+0123456789",
	} {
		got := Scrub(text, v)
		for _, s := range []string{"abc%2Fdef%2B0123", "abc/def+0123", "tok+with+space", "tok with space", "hdr%2Fkey%2B0123456789", "hdr/key+0123456789"} {
			if strings.Contains(got, s) {
				t.Errorf("Scrub(%q) = %q: %q left in", text, got, s)
			}
		}
	}
}
