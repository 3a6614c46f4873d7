// Package secret finds the credentials a request carries, so that what is
// told of its answer (a provider's message, a request id, an error) never
// repeats them. classify.Redact knows keys by their prefixes; a bearer
// token of Mistral or Together, or an Azure api-key, has none, and a
// provider that echoes it back is caught only by the value itself.
package secret

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// headers are the request headers whose values are credentials.
var headers = [...]string{
	"Authorization",
	"Proxy-Authorization",
	"X-Api-Key",      // Anthropic
	"Api-Key",        // Azure OpenAI
	"X-Goog-Api-Key", // Gemini
	"Ocp-Apim-Subscription-Key",
	"X-Amz-Security-Token", // AWS session credentials (Bedrock)
}

// params are the query parameters whose values are credentials.
var params = [...]string{"key", "api_key", "api-key", "apikey", "access_token", "token",
	"X-Amz-Security-Token", "X-Amz-Signature"} // a presigned AWS URL

// minLen is the shortest value taken for a credential: a shorter one would
// cut ordinary words out of a message, and guesses nothing.
const minLen = 8

// Values returns the credentials req carries: the value of each credential
// header (after its scheme, for Authorization), and of each credential
// query parameter, those of at least minLen bytes; nil when there are none.
func Values(req *http.Request) []string {
	if req == nil {
		return nil
	}
	var out []string
	add := func(v string) {
		v = strings.TrimSpace(v)
		if len(v) < minLen {
			return
		}
		// The value as sent, and as a URL or a form spells it, encoded
		// once or twice: an error's URL or a logged request line repeats
		// it encoded.
		q := url.QueryEscape(v)
		for _, f := range [...]string{v, q, url.PathEscape(v), strings.ReplaceAll(q, "+", "%20"), url.QueryEscape(q)} {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	for _, h := range headers {
		for _, v := range req.Header.Values(h) {
			if scheme, rest, ok := strings.Cut(strings.TrimSpace(v), " "); ok && !strings.ContainsAny(scheme, "=:") {
				v = rest // "Bearer abc": the token
			}
			add(v)
		}
	}
	if req.URL != nil && req.URL.RawQuery != "" {
		// Each parameter as decoded, and as written in the URL, which
		// an error that quotes the URL repeats.
		for _, kv := range strings.Split(req.URL.RawQuery, "&") {
			k, raw, _ := strings.Cut(kv, "=")
			if name, err := url.QueryUnescape(k); err == nil && slices.Contains(params[:], name) {
				if v, err := url.QueryUnescape(raw); err == nil {
					add(v)
				}
				add(raw)
			}
		}
	}
	return out
}

// Scrub returns s with every occurrence of each of secrets replaced by "…";
// s itself when none occurs.
func Scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "…")
		}
	}
	return s
}
