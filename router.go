package rebound

import (
	"errors"
	"net/http"
	"strings"
)

// Router sends each request to the RoundTripper configured for its host, so
// one http.Client can talk to several providers, each with its own catalog,
// budget, breakers and limits:
//
//	client := &http.Client{Transport: &rebound.Router{
//		Routes: map[string]http.RoundTripper{
//			"api.openai.com":    rebound.New(base, rebound.WithPreset(rebound.OpenAI)),
//			"api.anthropic.com": rebound.New(base, rebound.WithPreset(rebound.Anthropic)),
//		},
//		Fallback: rebound.New(base),
//	}}
//
// Hosts are matched case-insensitively, with or without a port: a route for
// "api.example.com" also serves "api.example.com:8443" unless that host and
// port has a route of its own. A Router must not be modified once in use;
// it is then safe for concurrent use.
type Router struct {
	// Routes maps a host (as in URL.Host, lower case) to its RoundTripper.
	Routes map[string]http.RoundTripper
	// Fallback serves hosts without a route. If nil, such requests fail
	// without being sent.
	Fallback http.RoundTripper
}

// RoundTrip sends req through the RoundTripper of its host.
func (r *Router) RoundTrip(req *http.Request) (*http.Response, error) {
	host := req.URL.Host
	if host == "" {
		host = req.Host
	}
	if rt := r.route(host); rt != nil {
		return rt.RoundTrip(req)
	}
	if r.Fallback != nil {
		return r.Fallback.RoundTrip(req)
	}
	closeBody(req)
	return nil, &Error{Key: host, Err: errNoRoute}
}

func (r *Router) route(host string) http.RoundTripper {
	if rt, ok := r.Routes[host]; ok {
		return rt
	}
	lower := strings.ToLower(host)
	if rt, ok := r.Routes[lower]; ok {
		return rt
	}
	if i := strings.LastIndexByte(lower, ':'); i > 0 && !strings.HasSuffix(lower, "]") {
		return r.Routes[lower[:i]]
	}
	return nil
}

var errNoRoute = errors.New("rebound: no route for this host and no Fallback")
