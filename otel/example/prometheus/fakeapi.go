package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// newFakeAPI starts a fake inference API. Per model: gpt-4o answers 429
// asking for 50ms, then 200 telling what is left of its quotas;
// gpt-4o-mini answers 503 once, then 200; o3 is down, 503 every time.
func newFakeAPI() *httptest.Server {
	var mu sync.Mutex
	seen := map[string]int{}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Model string }
		b, _ := io.ReadAll(r.Body)
		json.Unmarshal(b, &body)
		mu.Lock()
		n := seen[body.Model]
		seen[body.Model]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case body.Model == "gpt-4o" && n == 0:
			w.Header().Set("retry-after-ms", "50")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"error":{"code":"rate_limit_exceeded","message":"Rate limit reached"}}`)
		case body.Model == "o3", body.Model == "gpt-4o-mini" && n == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `{"error":{"code":"model_overloaded","message":"The model is overloaded"}}`)
		default:
			if body.Model == "gpt-4o" {
				for k, v := range map[string]string{
					"x-ratelimit-limit-requests": "500", "x-ratelimit-remaining-requests": "499", "x-ratelimit-reset-requests": "1m",
					"x-ratelimit-limit-tokens": "30000", "x-ratelimit-remaining-tokens": "29000", "x-ratelimit-reset-tokens": "1m",
				} {
					w.Header().Set(k, v)
				}
			}
			io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`)
		}
	}))
}
