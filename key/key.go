package key

import (
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Of returns the default key of req: its host, followed by "/" and
// the model the request addresses when one is found, as in
// "api.openai.com/gpt-4o" or "generativelanguage.googleapis.com/gemini-1.5-pro".
// A request that names no model gets the host alone, as in "api.openai.com".
//
// The host is req.URL.Host, or req.Host when that is empty, lower-cased; a
// port stays as it is. The model is taken from the URL path first (see
// ModelFromPath), then from the "model" member of body (see ModelFromJSON),
// which is the request body, or nil when it is not at hand. An empty model
// counts as none. Since a host never holds a "/", the host of a key is
// everything before its first "/". A key is valid UTF-8, as metric labels
// must be: a model the path names in bytes that are not stays escaped.
func Of(req *http.Request, body []byte) string {
	var buf [128]byte
	return string(Append(buf[:0], req, body)) // one allocation: the result
}

// Append appends Of(req, body) to dst and returns the extended buffer,
// so that a caller can look the key up without allocating it.
func Append(dst []byte, req *http.Request, body []byte) []byte {
	host := req.Host
	path, raw := "", false
	if req.URL != nil {
		if req.URL.Host != "" {
			host = req.URL.Host
		}
		path = req.URL.Path
		if req.URL.RawPath != "" { // escaped: a model holding a "/" (a Bedrock ARN) is one segment there
			path, raw = req.URL.EscapedPath(), true // RawPath, unless it no longer fits Path
		}
	}
	dst = append(dst, lower(host)...)
	if m, ok := ModelFromPath(path); ok {
		if raw {
			m = unescape(m)
		} else if !utf8.ValidString(m) {
			m = url.PathEscape(m) // as sent: a label or a span could not carry it
		}
		return append(append(dst, '/'), m...)
	}
	if tok, plain, ok := scanModel(body); ok && len(tok) > len(`""`) {
		if plain {
			return append(append(dst, '/'), tok[1:len(tok)-1]...)
		}
		if m, ok := unquote(tok); ok && m != "" {
			return append(append(dst, '/'), m...)
		}
	}
	return dst
}

// unescape returns the escaped path segment m unescaped, or as it is when
// it holds no valid escape or unescapes to bytes that are not UTF-8 (which
// a metric's label or an exported span could not carry).
func unescape(m string) string {
	if strings.IndexByte(m, '%') < 0 {
		return m
	}
	if u, err := url.PathUnescape(m); err == nil && u != "" && utf8.ValidString(u) {
		return u
	}
	return m
}

// ModelFromPath returns the model named by a URL path: the first segment
// that follows a "models" or "deployments" segment, cut at its first ":"
// (Gemini's method suffix, escaped or not), provided that leaves it
// non-empty, or the first that follows a "model" segment, whole (Bedrock's
// ids hold a ":"). After "models", a segment that the ":" did not cut and
// that a non-empty segment follows is a model's owner, and the model is
// {owner}/{name}, the name cut as the owner would be; after "deployments"
// too when "predictions" follows the name (Replicate's deployments). Empty segments ("//")
// are skipped, and so are the routes that follow "models" in Azure AI
// model inference ("chat", "embeddings", "images", "info"), whose requests
// name the model in their body. It recognizes
//
//	/v1beta/models/{model}:generateContent                 Gemini
//	/v1/projects/{p}/locations/{l}/publishers/{pub}/models/{model}:predict
//	                                                       Vertex AI
//	/openai/deployments/{model}/chat/completions           Azure OpenAI
//	/model/{model}/converse                                Bedrock
//	/v1/models/{owner}/{name}/predictions                  Replicate
//	/v1/deployments/{owner}/{name}/predictions             Replicate
//	/models/{owner}/{name}                                 Hugging Face
//	/v1/models/{model}                                     model retrieval
//
// with or without the leading "/". A query or fragment ("?…", "#…") is
// ignored, so a request URI may be passed as well as a path. The result is
// a substring of path: of an escaped path (URL.EscapedPath), escaped.
func ModelFromPath(path string) (string, bool) {
	start, end, ok := pathModel(path)
	return path[start:end], ok
}

// pathModel returns where ModelFromPath's model lies in path.
func pathModel(path string) (start, end int, ok bool) {
	if !mayName(path) {
		return 0, 0, false // the common case, found fast
	}
	const (
		none    = iota
		models  // the last non-empty segment was "models"
		deploys // "deployments"
		bedrock // "model"
	)
	after := none
	from := 0
	for i := 0; ; i++ {
		last := i == len(path) || path[i] == '?' || path[i] == '#'
		if !last && path[i] != '/' {
			continue
		}
		if seg := path[from:i]; seg != "" {
			if after == models || after == deploys {
				seg = cutMethod(seg)
			}
			if seg != "" && after != none && !(after == models && inferenceRoute(seg)) {
				end := from + len(seg)
				if after != bedrock && end == i && i < len(path) && path[i] == '/' {
					end = ownedName(path, i+1, end, after == deploys)
				}
				return from, end, true
			}
			switch seg {
			case "models":
				after = models
			case "deployments":
				after = deploys
			case "model":
				after = bedrock
			default:
				after = none
			}
		}
		if last {
			return 0, 0, false
		}
		from = i + 1
	}
}

// ownedName returns where a model named {owner}/{name} ends, its owner
// ending at end and the path's next segment starting at from: the end of
// that segment, cut as the owner would be (Replicate, Hugging Face and
// OpenRouter after "models"; after "deployments", Replicate's, only when
// "predictions" follows, since Azure OpenAI's route follows its name);
// end when the segment is empty, or after "deployments" when no
// "predictions" follows.
func ownedName(path string, from, end int, deploys bool) int {
	j := from
	for j < len(path) && path[j] != '/' && path[j] != '?' && path[j] != '#' {
		j++
	}
	name := cutMethod(path[from:j])
	if name == "" {
		return end
	}
	if deploys {
		const route = "/predictions"
		if rest := path[j:]; !strings.HasPrefix(rest, route) || len(rest) > len(route) && !strings.ContainsRune("/?#", rune(rest[len(route)])) {
			return end
		}
	}
	return from + len(name)
}

// mayName reports whether path holds "models/", "model/" or
// "deployments/": none of them, no model.
func mayName(path string) bool {
	for p := path; ; {
		i := strings.Index(p, "model")
		if i < 0 {
			break
		}
		p = p[i+len("model"):]
		if len(p) > 0 && p[0] == '/' || len(p) > 1 && p[0] == 's' && p[1] == '/' {
			return true
		}
	}
	return strings.Contains(path, "deployments/")
}

// cutMethod cuts seg at its first ":" or escaped ":" ("%3A").
func cutMethod(seg string) string {
	for i := 0; i < len(seg); i++ {
		if seg[i] == ':' || seg[i] == '%' && i+2 < len(seg) && seg[i+1] == '3' && (seg[i+2] == 'A' || seg[i+2] == 'a') {
			return seg[:i]
		}
	}
	return seg
}

// inferenceRoute reports whether seg, after a "models" segment, is a route
// of Azure AI model inference (/models/chat/completions, /models/embeddings,
// /models/images/embeddings, /models/info), whose model is in the body.
func inferenceRoute(seg string) bool {
	switch seg {
	case "chat", "embeddings", "images", "info":
		return true
	}
	return false
}

// lower returns s lower-cased, without allocating when it already is.
func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			return strings.ToLower(s)
		}
	}
	return s
}

// ModelFromJSON returns the value of the "model" member of the JSON object in
// body, if that member is a string, unescaped as encoding/json would. Members
// of nested objects and text inside strings are never taken for it.
//
// The body is not decoded: it is scanned member by member from its start,
// nested values skipped, and only as far as the "model" member, so that what
// comes before that member must be well-formed JSON and what comes after it
// is not read. When a member before it holds an array or object that does
// not end within 64 bytes (the messages, as openai-go and anthropic-sdk-go
// order their bodies), the member is first looked for near the body's end,
// among the members after that (and, should the scan from the start find
// none, further back); found so, the member and everything after it must be well-formed,
// and what comes before it is not read. A valid body with one top-level
// "model" member gets the same answer either way; of several, the first or
// the last counts (encoding/json takes the last).
//
// It returns false when body is not a JSON object, is malformed where it is
// read, has no such member, or that member is not a string.
func ModelFromJSON(body []byte) (string, bool) {
	tok, plain, ok := scanModel(body)
	if !ok {
		return "", false
	}
	return tokModel(tok, plain)
}

// tokModel returns the model held by the string token tok found by
// scanModel.
func tokModel(tok []byte, plain bool) (string, bool) {
	if plain {
		return string(tok[1 : len(tok)-1]), true
	}
	return unquote(tok)
}
