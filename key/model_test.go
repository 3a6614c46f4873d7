package key

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestReplaceModel(t *testing.T) {
	long := strings.Repeat("m", maxTail)
	for _, tt := range []struct {
		body, model, want string
		ok                bool
	}{
		{`{"model":"gpt-4o","stream":true}`, "gpt-4o-mini", `{"model":"gpt-4o-mini","stream":true}`, true},
		{` { "messages":[{"model":"inner"}], "model" : "a\u0062" }`, `x"y`, ` { "messages":[{"model":"inner"}], "model" : "x\"y" }`, true},
		{`{"messages":[]}`, "m", "", false},
		{`{"model":1}`, "m", "", false},
		{`not json`, "m", "", false},
		// Found at the end: the last of two, the provider's.
		{tailPad + `"model":"a","model":"b"}`, "m", tailPad + `"model":"a","model":"m"}`, true},
		// A value long enough to move the last of two out of the first look
		// at the end: the first is then read, and replaced too.
		{tailPad + `"model":"a","model":"b"}`, long, tailPad + `"model":"` + long + `","model":"` + long + `"}`, true},
		// Malformed before the model: read from the end however long it is.
		{`{"a":[1 2],"model":"b"}`, long, `{"a":[1 2],"model":"` + long + `"}`, true},
	} {
		body := []byte(tt.body)
		got, ok := ReplaceModel(body, tt.model)
		if ok != tt.ok || string(got) != tt.want {
			t.Errorf("ReplaceModel(%s, %q) = %s, %v; want %s, %v", tt.body, tt.model, got, ok, tt.want, tt.ok)
		}
		if string(body) != tt.body {
			t.Errorf("ReplaceModel modified its input: %s", body)
		}
		if ok {
			if m, _ := ModelFromJSON(got); m != tt.model {
				t.Errorf("ModelFromJSON(%s) = %q, want %q", got, m, tt.model)
			}
		}
	}
}

func TestReplacePathModel(t *testing.T) {
	for _, tt := range []struct {
		path, model, want string
		ok                bool
	}{
		{"/v1beta/models/gemini-1.5-pro:generateContent", "gemini-1.5-flash", "/v1beta/models/gemini-1.5-flash:generateContent", true},
		{"/openai/deployments/gpt4/chat/completions", "gpt4o", "/openai/deployments/gpt4o/chat/completions", true},
		{"/v1/chat/completions", "m", "/v1/chat/completions", false},
		{"/models/chat/completions", "m", "/models/chat/completions", false}, // Azure AI inference: in the body
		{"/model/meta.llama3-70b-instruct-v1:0/converse", "amazon.nova-pro-v1:0", "/model/amazon.nova-pro-v1:0/converse", true},
		{"/v1/models/meta/meta-llama-3-70b-instruct/predictions", "mistralai/mixtral-8x7b", "/v1/models/mistralai/mixtral-8x7b/predictions", true},
	} {
		got, ok := ReplacePathModel(tt.path, tt.model)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ReplacePathModel(%q, %q) = %q, %v; want %q, %v", tt.path, tt.model, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzReplaceModel(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o","n":1}`), "other")
	f.Add([]byte(`{"a":[1,{"model":"x"}],"model":"\u00e9"}`), "é")
	for _, c := range tailCases { // found from the body's end
		f.Add([]byte(tailPad+c.in), "other")
	}
	f.Fuzz(func(t *testing.T, body []byte, model string) {
		got, ok := ReplaceModel(body, model)
		_, had := ModelFromJSON(body)
		if ok != had {
			t.Fatalf("ReplaceModel ok = %v, ModelFromJSON ok = %v", ok, had)
		}
		if !ok {
			return
		}
		if json.Valid(body) && !json.Valid(got) {
			t.Fatalf("valid %q became invalid %q", body, got)
		}
		want, _ := json.Marshal(model)
		var m string
		json.Unmarshal(want, &m)
		if m2, ok := ModelFromJSON(got); !ok || m2 != m {
			t.Fatalf("ModelFromJSON(%q) = %q, %v; want %q", got, m2, ok, m)
		}
	})
}
