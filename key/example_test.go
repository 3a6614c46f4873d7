package key_test

import (
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/rebound-http/rebound/key"
)

func ExampleOf() {
	body := `{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}`
	req := httptest.NewRequest("POST", "https://api.openai.com/v1/chat/completions", strings.NewReader(body))
	fmt.Println(key.Of(req, []byte(body)))

	req = httptest.NewRequest("POST", "https://generativelanguage.googleapis.com/v1beta/models/gemini-1.5-pro:generateContent", nil)
	fmt.Println(key.Of(req, nil))

	req = httptest.NewRequest("GET", "https://api.openai.com/v1/files", nil)
	fmt.Println(key.Of(req, nil))
	// Output:
	// api.openai.com/gpt-4o
	// generativelanguage.googleapis.com/gemini-1.5-pro
	// api.openai.com
}

func ExampleReplaceModel() {
	body := []byte(`{"model":"gpt-4o","messages":[{"role":"user","content":"Hi"}]}`)
	out, ok := key.ReplaceModel(body, "gpt-4o-mini")
	fmt.Println(string(out), ok)
	// Output:
	// {"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hi"}]} true
}
