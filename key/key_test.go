package key

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

type modelCase struct {
	in    string
	want  string
	found bool
}

var jsonCases = []modelCase{
	{`{"model":"gpt-4o"}`, "gpt-4o", true},
	{" \n\t\r{ \"model\" :\n\"gpt-4o\" , \"stream\":true}", "gpt-4o", true},
	{`{"messages":[{"role":"user","content":"hi"}],"model":"gpt-4o","temperature":0.7}`, "gpt-4o", true},
	{`{"model":""}`, "", true},
	{`{"model":"模型-1"}`, "模型-1", true},
	// Escapes in the value or the key.
	{`{"model":"gpt\u002d4o"}`, "gpt-4o", true},
	{`{"model":"a\"b\\c\/d\n"}`, "a\"b\\c/d\n", true},
	{`{"mod\u0065l":"x"}`, "x", true},
	{`{"\u006d\u006f\u0064\u0065\u006c":"x"}`, "x", true},
	{`{"model\u0000":"x"}`, "", false},
	{"{\"model\":\"\xff\"}", "\ufffd", true}, // as encoding/json decodes it
	// Only the top-level member counts.
	{`{"a":{"model":"x"}}`, "", false},
	{`{"a":{"model":"x"},"model":"y"}`, "y", true},
	{`{"a":[{"model":"x"},["model","x"]],"model":"y"}`, "y", true},
	{`{"content":"\"model\":\"x\"","model":"y"}`, "y", true},
	{`{"content":"{\"model\":\"x\"}"}`, "", false},
	{`{"a":"model","b":"x"}`, "", false},
	{`{"Model":"x","MODEL":"y"}`, "", false},
	{`{"a":"\\","model":"y"}`, "y", true}, // escaped backslash before a quote
	{`{"a":"\\\"model\":","model":"y"}`, "y", true},
	// The first "model" member decides.
	{`{"model":"a","model":"b"}`, "a", true},
	{`{"model":1,"model":"b"}`, "", false},
	// Not a string.
	{`{"model":4}`, "", false},
	{`{"model":null}`, "", false},
	{`{"model":true}`, "", false},
	{`{"model":["x"]}`, "", false},
	{`{"model":{"id":"x"}}`, "", false},
	// Not an object.
	{``, "", false},
	{`   `, "", false},
	{`null`, "", false},
	{`"model"`, "", false},
	{`["model","x"]`, "", false},
	{`{}`, "", false},
	{"\xef\xbb\xbf{\"model\":\"x\"}", "", false}, // a BOM is not JSON
	{`model=x`, "", false},
	// Malformed before or at the member.
	{`{`, "", false},
	{`{"model"`, "", false},
	{`{"model":`, "", false},
	{`{"model":"x`, "", false},
	{`{"model":"x"`, "", false},
	{`{"model":"x" "y"}`, "", false},
	{`{"model" "x"}`, "", false},
	{`{model:"x"}`, "", false},
	{`{'model':'x'}`, "", false},
	{`{,"model":"x"}`, "", false},
	{`{"a":1,,"model":"x"}`, "", false},
	{`{"a":1,}`, "", false},
	{`{"a":tru,"model":"x"}`, "", false},
	{`{"a":nul,"model":"x"}`, "", false},
	{`{"a":01,"model":"x"}`, "", false},
	{`{"a":1.,"model":"x"}`, "", false},
	{`{"a":1e,"model":"x"}`, "", false},
	{`{"a":-,"model":"x"}`, "", false},
	{`{"a":+1,"model":"x"}`, "", false},
	{`{"a":"\q","model":"x"}`, "", false},
	{`{"a":"\u12G4","model":"x"}`, "", false},
	{"{\"a\":\"line\nbreak\",\"model\":\"x\"}", "", false},
	{"{\"model\":\"tab\there\"}", "", false},
	{`{"a":]`, "", false},
	{`{"a":{"b":1]}`, "", false},
	// Malformed inside an array or object before the member: the member
	// is found from the body's end, and what comes before it is not read.
	{`{"a":[1 2],"model":"x"}`, "x", true},
	{`{"a":{"b"},"model":"x"}`, "x", true},
	{`{"a":[,],"model":"x"}`, "x", true},
	// Well-formed values of every kind before the member.
	{`{"a":-1.5e+10,"b":0,"c":[true,false,null,[],{}],"d":{"e":"f"},"g":1E-2,"model":"x"}`, "x", true},
	// Not read past the member.
	{`{"model":"x", garbage`, "x", true},
	{`{"model":"x"}}}`, "x", true},
}

// tailPad opens a body whose messages are long enough for ModelFromJSON to
// look for the model at the body's end first; tailCases go on from it.
const tailPad = `{"messages":[{"role":"user","content":"` + `Summarize this, \"briefly\".\n` + `lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore."}],`

var tailCases = []modelCase{
	{`"model":"gpt-4o","temperature":0.7,"stream":true}`, "gpt-4o", true},
	{`"model":"claude-sonnet-4-5"}`, "claude-sonnet-4-5", true},
	{`"max_tokens":1024, "model" : "x" ,"stop":[""model":"y"",{"model":"z"}]}` + " \n\t", "x", true},
	{`"model":"gpt\u002d4o"}`, "gpt-4o", true},
	{`"mod\u0065l":"x"}`, "x", true},
	{`"model":"x\\"}`, "x\\", true},
	{`"model":"\"x"}`, "\"x", true},
	{`"a":"\\","model":"y"}`, "y", true},
	{`"a":"\\\"model\":","model":"y"}`, "y", true},
	{`"model":"a","b":{"c":[1,-2.5e3,true,false,null,{}]}}`, "a", true},
	// Only the top-level member counts.
	{`"a":{"model":"x"}}`, "", false},
	{`"a":{"model":"x"},"model":"y"}`, "y", true},
	{`"content":"\"model\":\"x\""}`, "", false},
	{`"a":"model","b":"x"}`, "", false},
	// Found from the end, the last of several counts, as in encoding/json;
	// one that is not a string is left to the scan from the start.
	{`"model":"a","model":"b"}`, "b", true},
	{`"model":"a","model":1}`, "a", true},
	{`"model":1,"model":"b"}`, "b", true},
	// Malformed after the member: the scan from the start decides.
	{`"model":"x","a":[1 2]}`, "x", true},
	{`"model":"x","a":"\q"}`, "x", true},
	{`"model":"x"} garbage`, "x", true},
	{`"model":"x"`, "", false},
	{`"model":"x" "y"}`, "", false},
	{`"model":4}`, "", false},
}

func TestModelFromJSON(t *testing.T) {
	check := func(t *testing.T, c modelCase) {
		t.Helper()
		got, found := ModelFromJSON([]byte(c.in))
		if got != c.want || found != c.found {
			t.Errorf("ModelFromJSON(%q) = %q, %v; want %q, %v", c.in, got, found, c.want, c.found)
		}
		if c.found && json.Valid([]byte(c.in)) {
			agreeWithEncodingJSON(t, []byte(c.in), got, found)
		}
	}
	for _, c := range jsonCases {
		check(t, c)
	}
	for _, c := range tailCases {
		c.in = tailPad + c.in
		check(t, c)
	}
	// Tools after the model, with members named "model" of their own,
	// within the look at the end and beyond it.
	tool := `{"type":"function","function":{"name":"pick","parameters":{"type":"object","properties":{"model":{"type":"string"}}}}},`
	for _, n := range []int{3, 100} {
		check(t, modelCase{tailPad + `"model":"x","tools":[` + strings.Repeat(tool, n) + `{}]}`, "x", true})
	}
	// The messages themselves are not read when the model is found after
	// them.
	check(t, modelCase{strings.Replace(tailPad, `"role"`, `"role"::`, 1) + `"model":"x"}`, "x", true})
}

func TestModelFromJSONNesting(t *testing.T) {
	for _, depth := range []int{maxDepth - 1, maxDepth, maxDepth + 1} {
		nested := strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1)
		// depth containers, the object included, read from the start: too
		// deep, and the model after them is not found.
		body := []byte(`{"a":` + nested + `,"model":"x"}`)
		if _, _, found := scanModelTail(body, -1); found != json.Valid(body) {
			t.Errorf("depth %d: found %v, encoding/json says valid %v", depth, found, json.Valid(body))
		}
		// After the model, looked for from the end: too deep, and the
		// model is found from the start instead.
		body = []byte(`{"messages":[` + strings.Repeat(`"padding",`, 40) + `"."],"model":"x","a":` + nested + `}`)
		if tok, _, found := scanModelTail(body, 0); !found || string(tok) != `"x"` {
			t.Errorf("depth %d, after the model: %q, %v", depth, tok, found)
		}
	}
}

var pathCases = []modelCase{
	{"/v1beta/models/gemini-1.5-pro:generateContent", "gemini-1.5-pro", true},
	{"/v1beta/models/gemini-1.5-pro:streamGenerateContent?alt=sse", "gemini-1.5-pro", true},
	{"models/gemini-pro:generateContent", "gemini-pro", true},
	{"/v1/projects/p/locations/us-central1/publishers/google/models/gemini-1.5-flash:predict", "gemini-1.5-flash", true},
	{"/openai/deployments/my-gpt4/chat/completions?api-version=2024-02-01", "my-gpt4", true},
	{"/openai/deployments/my-gpt4?api-version=2024-02-01", "my-gpt4", true},
	{"/openai/deployments/dep#frag", "dep", true},
	{"/v1/models/gpt-4o", "gpt-4o", true},
	{"/v1/models/gpt-4o/", "gpt-4o", true},
	{"//models//x", "x", true},
	{"/models/:generateContent/models/y", "y", true},
	{"/v1/models", "", false},
	{"/v1/models/", "", false},
	{"/v1/models?x=/models/y", "", false},
	{"/v1/models/:count", "", false},
	{"/v1/chat/completions", "", false},
	{"/v1/mymodels/x", "", false},
	{"/v1/Models/x", "", false},
	{"/deploymentsx/y", "", false},
	{"", "", false},
	{"/", "", false},
	{"?models/x", "", false},
	// Azure AI model inference: routes after "models", the model in the body.
	{"/models/chat/completions?api-version=2024-05-01-preview", "", false},
	{"/models/embeddings", "", false},
	{"/models/images/embeddings", "", false},
	{"/models/info", "", false},
	// Bedrock: the id's ":" is its own, escaped or not.
	{"/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke", "anthropic.claude-3-5-sonnet-20240620-v1:0", true},
	{"/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse-stream", "anthropic.claude-3-5-sonnet-20240620-v1%3A0", true},
	{"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse",
		"arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123", true},
	{"/model/", "", false},
	{"/v1/mymodel/x", "", false},
	// Gemini's method suffix, escaped.
	{"/v1beta/models/gemini-pro%3AgenerateContent", "gemini-pro", true},
	{"/v1beta/models/gemini-pro%3agenerateContent", "gemini-pro", true},
	{"/v1beta/models/gemini-pro%3", "gemini-pro%3", true},
	// {owner}/{name} after "models": Replicate, Hugging Face, OpenRouter.
	{"/v1/models/meta/meta-llama-3-70b-instruct/predictions", "meta/meta-llama-3-70b-instruct", true},
	{"/models/meta-llama/Meta-Llama-3-8B-Instruct", "meta-llama/Meta-Llama-3-8B-Instruct", true},
	{"/hf-inference/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions", "meta-llama/Llama-3.1-8B-Instruct", true},
	{"/api/v1/models/openai/gpt-4o/endpoints", "openai/gpt-4o", true},
	{"/v1/models/a/b:predict", "a/b", true},
	{"/v1/models/a/b%3Apredict?x=1", "a/b", true},
	{"/v1/models/a:x/b", "a", true},
	{"/v1/models/a//b", "a", true},
	{"/v1/models/a/?q=b", "a", true},
	{"/v1/models/a/:x", "a", true},
	{"/openai/deployments/d/chat/completions", "d", true},
	{"/openai/deployments/d/completions", "d", true},
	{"/v1/deployments/acme/chat-bot/predictions", "acme/chat-bot", true},
	{"/v1/deployments/acme/chat-bot/predictions?x", "acme/chat-bot", true},
	{"/v1/deployments/acme/chat-bot/predictionsx", "acme", true},
	{"/v1/deployments/acme/chat-bot", "acme", true},
}

func TestModelFromPath(t *testing.T) {
	for _, c := range pathCases {
		if got, found := ModelFromPath(c.in); got != c.want || found != c.found {
			t.Errorf("ModelFromPath(%q) = %q, %v; want %q, %v", c.in, got, found, c.want, c.found)
		}
	}
}

func TestKey(t *testing.T) {
	check := func(t *testing.T, req *http.Request, body, want string) {
		t.Helper()
		var b []byte
		if body != "" {
			b = []byte(body)
		}
		if got := Of(req, b); got != want {
			t.Errorf("Of(%s %s, %q) = %q, want %q", req.Method, req.URL, body, got, want)
		}
	}
	newReq := func(method, url string) *http.Request { return httptest.NewRequest(method, url, nil) }
	chat := "https://api.openai.com/v1/chat/completions"
	for _, c := range []struct {
		req        *http.Request
		body, want string
	}{
		{newReq("GET", "https://api.openai.com/v1/models"), "", "api.openai.com"},
		{newReq("POST", chat), `{"model":"gpt-4o","messages":[]}`, "api.openai.com/gpt-4o"},
		{newReq("POST", chat), `{"messages":[{"model":"no"}],"model":"gpt-4o-mini"}`, "api.openai.com/gpt-4o-mini"},
		{newReq("POST", chat), `{"model":"gpt\u002d4o"}`, "api.openai.com/gpt-4o"},
		{newReq("POST", chat), `{"model":""}`, "api.openai.com"},
		{newReq("POST", chat), `{"model":7}`, "api.openai.com"},
		{newReq("POST", chat), `model=gpt-4o`, "api.openai.com"},
		{newReq("POST", chat), `{"model":"meta-llama/Llama-3-8B"}`, "api.openai.com/meta-llama/Llama-3-8B"},
		{newReq("POST", "https://API.OpenAI.com/v1/chat/completions"), `{"model":"gpt-4o"}`, "api.openai.com/gpt-4o"},
		{newReq("POST", "http://localhost:8080/v1/chat/completions"), `{"model":"m"}`, "localhost:8080/m"},
		{newReq("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent?key=k"),
			`{"model":"ignored","contents":[]}`, "generativelanguage.googleapis.com/gemini-1.5-pro"},
		{newReq("POST", "https://x.openai.azure.com/openai/deployments/gpt4-prod/chat/completions?api-version=2024-02-01"),
			`{"messages":[]}`, "x.openai.azure.com/gpt4-prod"},
		// Replicate and Hugging Face name {owner}/{name}: two models of one
		// owner are two keys.
		{newReq("POST", "https://api.replicate.com/v1/models/meta/meta-llama-3-70b-instruct/predictions"),
			`{"input":{}}`, "api.replicate.com/meta/meta-llama-3-70b-instruct"},
		{newReq("POST", "https://api.replicate.com/v1/models/meta/meta-llama-3-8b-instruct/predictions"),
			`{"input":{}}`, "api.replicate.com/meta/meta-llama-3-8b-instruct"},
		// An escape that is not UTF-8 stays escaped.
		{newReq("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/%FF%FE/invoke"), "",
			"bedrock-runtime.us-east-1.amazonaws.com/%FF%FE"},
		{newReq("POST", "https://api.replicate.com/v1/deployments/acme/chat-bot/predictions"),
			`{"input":{}}`, "api.replicate.com/acme/chat-bot"},
		{newReq("POST", "https://router.huggingface.co/hf-inference/models/meta-llama/Llama-3.1-8B-Instruct/v1/chat/completions"),
			`{"model":"ignored"}`, "router.huggingface.co/meta-llama/Llama-3.1-8B-Instruct"},
		// Azure AI model inference names the model in the body.
		{newReq("POST", "https://acme.services.ai.azure.com/models/chat/completions?api-version=2024-05-01-preview"),
			`{"model":"DeepSeek-R1","messages":[]}`, "acme.services.ai.azure.com/DeepSeek-R1"},
		// Bedrock names it in the path, as the SDK sends it (escaped) or not.
		{newReq("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1:0/invoke"),
			`{"messages":[]}`, "bedrock-runtime.us-east-1.amazonaws.com/anthropic.claude-3-5-sonnet-20240620-v1:0"},
		{newReq("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse"),
			`{"messages":[]}`, "bedrock-runtime.us-east-1.amazonaws.com/anthropic.claude-3-5-sonnet-20240620-v1:0"},
		{newReq("POST", "https://bedrock-runtime.us-east-1.amazonaws.com/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc123/converse"),
			"", "bedrock-runtime.us-east-1.amazonaws.com/arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123"},
		// Credentials in the URL never reach the key.
		{newReq("POST", "https://user:sk-proj-secret@generativelanguage.googleapis.com/v1beta/models/gemini-pro:generateContent?key=AIza-secret"),
			"", "generativelanguage.googleapis.com/gemini-pro"},
		// A server-side request: the URL has no host, req.Host has it.
		{func() *http.Request {
			r := newReq("POST", "/v1/chat/completions")
			r.Host = "Inference.Example"
			return r
		}(), `{"model":"m"}`, "inference.example/m"},
	} {
		check(t, c.req, c.body, c.want)
	}
	if got := Of(&http.Request{Host: "h"}, nil); got != "h" {
		t.Errorf("Key with a nil URL = %q, want %q", got, "h")
	}
}

// modelMembers decodes body with encoding/json, member by member, and
// returns the values of its top-level "model" members. body must be valid
// JSON.
func modelMembers(t *testing.T, body []byte) []json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var ms []json.RawMessage
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			t.Fatalf("decoding %q: %v", body, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("decoding %q: %v", body, err)
		}
		if key == "model" {
			ms = append(ms, raw)
		}
	}
	return ms
}

// stringModel returns what raw, a member's value, holds if it is a string.
func stringModel(raw json.RawMessage) (string, bool) {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// agreeWithEncodingJSON checks ModelFromJSON's answer for valid JSON body
// against encoding/json: the answer of its first or of its last top-level
// "model" member, and when there is one such member, of encoding/json's map.
func agreeWithEncodingJSON(t *testing.T, body []byte, got string, found bool) {
	t.Helper()
	ms := modelMembers(t, body)
	if len(ms) == 0 {
		if found {
			t.Fatalf("ModelFromJSON(%q) = %q, %v; encoding/json finds no top-level model", body, got, found)
		}
		return
	}
	first, firstOK := stringModel(ms[0])
	last, lastOK := stringModel(ms[len(ms)-1])
	if (got != first || found != firstOK) && (got != last || found != lastOK) {
		t.Fatalf("ModelFromJSON(%q) = %q, %v; encoding/json's first member: %q, %v; last: %q, %v", body, got, found, first, firstOK, last, lastOK)
	}
	if len(ms) != 1 {
		return
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("json.Unmarshal(%q): %v", body, err)
	}
	s, isString := stringModel(m["model"])
	if got != s || found != isString {
		t.Fatalf("ModelFromJSON(%q) = %q, %v; encoding/json's map: %q, %v", body, got, found, s, isString)
	}
}

func FuzzModelFromJSON(f *testing.F) {
	for _, c := range jsonCases {
		f.Add([]byte(c.in))
	}
	for _, c := range tailCases {
		f.Add([]byte(tailPad + c.in))
	}
	f.Add(chatBody(2<<10, false))
	f.Fuzz(checkModelFromJSON)
}

// checkModelFromJSON checks ModelFromJSON(body) against encoding/json, and
// the scan that looks at the body's end first after any array or object.
func checkModelFromJSON(t *testing.T, body []byte) {
	t.Helper()
	for _, peek := range []int{tailPeek, 0} {
		tok, plain, found := scanModelTail(body, peek)
		got := ""
		if found {
			got, found = tokModel(tok, plain)
		}
		if peek == tailPeek {
			if g, f := ModelFromJSON(body); g != got || f != found {
				t.Fatalf("ModelFromJSON(%q) = %q, %v; its scan found %q, %v", body, g, f, got, found)
			}
		}
		if json.Valid(body) {
			agreeWithEncodingJSON(t, body, got, found)
		}
		if !found {
			continue
		}
		// Whatever else the body holds, either the body up to the
		// member, closed, is a valid object whose first "model" member is
		// it (found from the start), or the member and everything after
		// it make one whose last "model" member is it (found from the end).
		at := cap(body) - cap(tok)
		end := at + len(tok)
		prefix := append(body[:end:end], '}')
		suffix := append([]byte(`{"model":`), body[at:]...)
		fromStart := json.Valid(prefix) && sameModel(t, modelMembers(t, prefix)[0], got)
		fromEnd := func() bool {
			if !json.Valid(suffix) {
				return false
			}
			ms := modelMembers(t, suffix)
			return sameModel(t, ms[len(ms)-1], got)
		}
		if !fromStart && !fromEnd() {
			t.Fatalf("scanModelTail(%q, %d) found %q, but neither %q nor %q is a valid object with that model", body, peek, got, prefix, suffix)
		}
	}
}

// sameModel reports whether raw holds the string model.
func sameModel(t *testing.T, raw json.RawMessage, model string) bool {
	t.Helper()
	s, ok := stringModel(raw)
	return ok && s == model
}

// TestModelFromJSONRandom checks ModelFromJSON against encoding/json on
// generated objects, valid and slightly broken: the fuzzer, starting from
// bytes, rarely builds deep valid JSON.
func TestModelFromJSONRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for range n {
		body := genObject(rng, 0, true)
		switch rng.IntN(4) {
		case 0: // drop a byte
			i := rng.IntN(len(body))
			body = append(body[:i], body[i+1:]...)
		case 1: // change a byte to one that matters to JSON
			const bytes = `"\{}[],:0eE.-+tfnu ` + "\n\x00\xff"
			body[rng.IntN(len(body))] = bytes[rng.IntN(len(bytes))]
		case 2: // cut short
			body = body[:rng.IntN(len(body))]
		}
		checkModelFromJSON(t, body)
	}
}

// TestLastModelName checks the search for the last "model" from the end,
// eight bytes at a time, against bytes.LastIndex over every floor and end of
// generated bodies: names that straddle the bounds and the words, quotes
// packed together, and non-ASCII bytes beside them.
func TestLastModelName(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	parts := []string{`"model"`, `"model`, `model"`, `"`, `""`, "m", "x", `\`, "\xff\x80", "é", "abcdefgh"}
	for range 3000 {
		var b []byte
		for range rng.IntN(12) {
			b = append(b, parts[rng.IntN(len(parts))]...)
		}
		for floor := 0; floor <= len(b); floor++ {
			for end := floor; end <= len(b); end++ {
				want := bytes.LastIndex(b[floor:end], modelName)
				if want >= 0 {
					want += floor
				}
				if got := lastModelName(b, floor, end); got != want {
					t.Fatalf("lastModelName(%q, %d, %d) = %d, want %d", b, floor, end, got, want)
				}
			}
		}
	}
}

func genObject(rng *rand.Rand, depth int, top bool) []byte {
	b := []byte{'{'}
	for i := range rng.IntN(5) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, genSpace(rng)...)
		if rng.IntN(3) == 0 || top && rng.IntN(2) == 0 {
			b = append(b, []string{`"model"`, `"mod\u0065l"`, `"Model"`, `"model "`}[rng.IntN(4)]...)
		} else {
			b = append(b, genString(rng)...)
		}
		b = append(b, genSpace(rng)...)
		b = append(b, ':')
		b = append(b, genSpace(rng)...)
		b = append(b, genValue(rng, depth+1)...)
		b = append(b, genSpace(rng)...)
	}
	return append(b, '}')
}

func genValue(rng *rand.Rand, depth int) []byte {
	k := rng.IntN(8)
	if depth > 4 && k >= 6 {
		k = 0
	}
	switch k {
	case 0, 1, 2:
		return genString(rng)
	case 3:
		return []byte([]string{"0", "-1", "12.5", "1e9", "-0.0E-3", "true", "false", "null"}[rng.IntN(8)])
	case 4:
		return []byte(`"model"`)
	case 5, 6:
		return genObject(rng, depth, false)
	}
	b := []byte{'['}
	for i := range rng.IntN(4) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, genValue(rng, depth+1)...)
	}
	return append(b, ']')
}

func genString(rng *rand.Rand) []byte {
	parts := []string{"a", "model", `\"`, `\\`, `\n`, `\u00e9`, `\ud83d\ude80`, "é", "🚀", `\/`, ":", ",", "{", "}", `\"model\":\"x\"`, "abcdefghijklmnop"}
	b := []byte{'"'}
	for range rng.IntN(6) {
		b = append(b, parts[rng.IntN(len(parts))]...)
	}
	return append(b, '"')
}

func genSpace(rng *rand.Rand) []byte {
	return []byte([]string{"", "", "", " ", "\n\t", "\r\n  "}[rng.IntN(6)])
}

func FuzzModelFromPath(f *testing.F) {
	for _, c := range pathCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, path string) {
		m, found := ModelFromPath(path)
		if !found {
			if m != "" {
				t.Fatalf("ModelFromPath(%q) = %q with found false", path, m)
			}
			return
		}
		if m == "" || strings.ContainsAny(m, "?#") || strings.Count(m, "/") > 1 {
			t.Fatalf("ModelFromPath(%q) = %q: empty, or holds a separator", path, m)
		}
		if owner, name, two := strings.Cut(m, "/"); two {
			// {owner}/{name}, right after "models", neither empty nor cut.
			if owner == "" || name == "" || strings.Contains(m, ":") || !followsOwner(path, owner, name) &&
				!(followsSegment(path, owner, "deployments") && strings.Contains(path, m) && strings.Contains(path, "/predictions")) {
				t.Fatalf("ModelFromPath(%q) = %q, which is not {owner}/{name} after a models segment", path, m)
			}
			return
		}
		if !followsSegment(path, m, "model") && (strings.Contains(m, ":") || !followsSegment(path, m, "models", "deployments")) {
			t.Fatalf("ModelFromPath(%q) = %q, which does not follow a models or deployments segment, or a model segment whole", path, m)
		}
	})
}

// followsOwner reports whether owner is a whole segment after a "models"
// segment in path (slashes between them skipped), and name a prefix of the
// segment right after it.
func followsOwner(path, owner, name string) bool {
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	for p := path; ; {
		i := strings.Index(p, "/"+owner+"/"+name)
		if i < 0 {
			return false
		}
		if before := strings.TrimRight(p[:i], "/"); before == "models" || strings.HasSuffix(before, "/models") {
			return true
		}
		p = p[i+1:]
	}
}

// followsSegment reports whether m is found in path right after a segment
// named one of names, with any number of slashes around it: whole after
// "model", as a prefix after the others.
func followsSegment(path, m string, names ...string) bool {
	segs := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	for i := 0; i+1 < len(segs); i++ {
		if !slices.Contains(names, segs[i]) {
			continue
		}
		next := segs[i+1]
		if j := strings.IndexAny(next, "?#"); j >= 0 {
			next = next[:j]
		}
		if segs[i] == "model" && next == m || segs[i] != "model" && strings.HasPrefix(next, m) {
			return true
		}
	}
	return false
}

// FuzzOfIsUTF8: whatever a request's host, path (raw or escaped) and body,
// its key is valid UTF-8, as a metric label must be.
func FuzzOfIsUTF8(f *testing.F) {
	f.Add("api.openai.com", "/model/%FF%FE/invoke", "", []byte(`{"model":"gpt-4o"}`))
	f.Add("h", "/model/\xff/invoke", "/model/%FF/invoke", []byte(nil))
	f.Add("H\xff", "/v1/chat/completions", "", []byte("{\"model\":\"\xfe\"}"))
	f.Fuzz(func(t *testing.T, host, path, raw string, body []byte) {
		req := &http.Request{Method: "POST", URL: &url.URL{Host: host, Path: path, RawPath: raw}}
		if k := Of(req, body); !utf8.ValidString(k) {
			t.Fatalf("Of(%q, %q, %q, %q) = %q, not UTF-8", host, path, raw, body, k)
		}
	})
}
