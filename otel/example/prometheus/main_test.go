package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRun runs the program: its calls through the fake API, then a scrape
// of /metrics, whose exposition must show what the calls did.
func TestRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, ln, pw)
		pw.Close()
	}()
	var lines []string
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.HasPrefix(sc.Text(), "serving ") {
			break
		}
	}
	want := []string{
		"gpt-4o: 200 OK",
		"gpt-4o-mini: 200 OK",
		"gpt-4o-mini: 200 OK",
		"o3: 503 Service Unavailable",
		`o3: Post "`, // the open circuit's error follows
	}
	for i, w := range want {
		if i >= len(lines) || !strings.HasPrefix(lines[i], w) {
			t.Fatalf("output:\n%s\nwant line %d to start %q", strings.Join(lines, "\n"), i, w)
		}
	}
	if !strings.Contains(lines[4], "circuit open") {
		t.Errorf("last call: %s; want the open circuit", lines[4])
	}

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposition := string(b)
	for _, w := range []string{
		`# TYPE rebound_attempt_duration_seconds histogram`,
		`rebound_attempt_duration_seconds_count{error_type="429",gen_ai_request_model="gpt-4o",http_response_status_code="429"`,
		`rebound_retries_total{error_type="503",gen_ai_request_model="gpt-4o-mini"`,
		`rebound_retries_total{error_type="429",gen_ai_request_model="gpt-4o",otel_scope_name="github.com/rebound-http/rebound/otel"`,
		`rebound_give_ups_total{gen_ai_request_model="o3",http_response_status_code="503",otel_scope_name="github.com/rebound-http/rebound/otel"`,
		`rebound_give_ups_total{gen_ai_request_model="o3",otel_scope_name="github.com/rebound-http/rebound/otel"`,
		`rebound_wait_duration_seconds_count{gen_ai_request_model="gpt-4o",otel_scope_name="github.com/rebound-http/rebound/otel"`,
		`rebound_breaker_transitions_total{gen_ai_request_model="o3"`,
		`rebound_breaker_state{gen_ai_request_model="o3"`,
		`rebound_retry_budget_remaining`,
		`rebound_quota_requests_remaining{gen_ai_request_model="gpt-4o"`,
		`rebound_quota_tokens_remaining{gen_ai_request_model="gpt-4o"`,
	} {
		if !strings.Contains(exposition, w) {
			t.Errorf("exposition lacks %s", w)
		}
	}
	for _, line := range strings.Split(exposition, "\n") {
		if strings.HasPrefix(line, "rebound_") {
			t.Log(line)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
