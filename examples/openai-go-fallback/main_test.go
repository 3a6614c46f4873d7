package main

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/rebound-http/rebound"
	"github.com/rebound-http/rebound/examples/internal/fakeupstream"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFallbackUnderOpenAIGo(t *testing.T) {
	up := fakeupstream.Start()
	defer up.Close()
	const path = "/v1/chat/completions"
	up.Script(path, fakeupstream.OpenAIUnavailable(), fakeupstream.OpenAIChat(fallback, "Hello!"))

	var events []rebound.FallbackEvent
	client := newClient(up.URL+"/v1", newTransport(rebound.Observer{OnFallback: func(e rebound.FallbackEvent) { events = append(events, e) }}))
	m, text, err := ask(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	if m != fallback || text != "Hello!" {
		t.Fatalf("answer %q from %q, want \"Hello!\" from %s", text, m, fallback)
	}
	reqs := up.Requests(path)
	if len(reqs) != 2 {
		t.Fatalf("upstream saw %d requests, want 2: the overloaded model once, then its fallback", len(reqs))
	}
	for i, want := range []string{model, fallback} {
		var body struct {
			Model    string            `json:"model"`
			Messages []json.RawMessage `json:"messages"`
		}
		if err := json.Unmarshal(reqs[i].Body, &body); err != nil || body.Model != want || len(body.Messages) != 1 {
			t.Fatalf("request %d: %s (%v), want model %s and the SDK's message", i+1, reqs[i].Body, err, want)
		}
		if got := reqs[i].Header.Get("Authorization"); got != "Bearer sk-test" {
			t.Fatalf("request %d: Authorization %q", i+1, got)
		}
	}
	if len(events) != 1 || events[0].Decision.Status != 503 || events[0].Alternative != 1 {
		t.Fatalf("fallback events %+v", events)
	}
}

func TestRun(t *testing.T) {
	if err := run(); err != nil {
		t.Fatal(err)
	}
}
