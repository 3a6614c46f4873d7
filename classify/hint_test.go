package classify

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestParseRetryAfter covers every hint form with a fixed reference time.
func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"none", hdr(), 0, false},
		{"seconds", hdr("Retry-After", "120"), 2 * time.Minute, true},
		{"zero seconds", hdr("Retry-After", "0"), 0, true},
		{"decimal seconds", hdr("Retry-After", "1.5"), 1500 * time.Millisecond, true},
		{"spaces", hdr("Retry-After", " 7 "), 7 * time.Second, true},
		{"HTTP-date", hdr("Retry-After", date(90*time.Second)), 90 * time.Second, true},
		{"RFC 850 date", hdr("Retry-After", now.Add(time.Hour).Format(time.RFC850)), time.Hour, true},
		{"ANSI C date", hdr("Retry-After", now.Add(time.Minute).Format(time.ANSIC)), time.Minute, true},
		{"past date means now", hdr("Retry-After", date(-time.Hour)), 0, true},
		{"date far ahead", hdr("Retry-After", "Fri, 31 Dec 9999 23:59:59 GMT"), MaxHint, true},
		{"negative", hdr("Retry-After", "-5"), 0, false},
		{"huge", hdr("Retry-After", "99999999999999999999"), MaxHint, true},
		{"beyond float64", hdr("Retry-After", "1"+strings.Repeat("0", 400)), MaxHint, true},
		{"garbage", hdr("Retry-After", "soon"), 0, false},
		{"NaN", hdr("Retry-After", "NaN"), 0, false},
		{"Inf", hdr("Retry-After", "+Inf"), 0, false},
		{"exponent", hdr("Retry-After", "1e3"), 0, false},
		{"two dots", hdr("Retry-After", "1.2.3"), 0, false},
		{"lone dot", hdr("Retry-After", "."), 0, false},
		{"retry-after-ms", hdr("Retry-After-Ms", "20"), 20 * time.Millisecond, true},
		{"retry-after-ms fraction", hdr("Retry-After-Ms", "0.5"), 500 * time.Microsecond, true},
		{"retry-after-ms rounds up", hdr("Retry-After-Ms", "0.0000001"), 1, true},
		{"retry-after-ms beats Retry-After", hdr("Retry-After-Ms", "1500", "Retry-After", "2"), 1500 * time.Millisecond, true},
		{"garbage retry-after-ms falls back", hdr("Retry-After-Ms", "NaN", "Retry-After", "2"), 2 * time.Second, true},
		{"negative retry-after-ms", hdr("Retry-After-Ms", "-1"), 0, false},
		{"huge retry-after-ms", hdr("Retry-After-Ms", "99999999999999999999"), MaxHint, true},
		{"reset requests", hdr("X-Ratelimit-Reset-Requests", "1s"), time.Second, true},
		{"reset tokens", hdr("X-Ratelimit-Reset-Tokens", "6m0s"), 6 * time.Minute, true},
		{"reset milliseconds", hdr("X-Ratelimit-Reset-Tokens", "20ms"), 20 * time.Millisecond, true},
		{"larger reset when none is exhausted", hdr("X-Ratelimit-Reset-Requests", "1m30.5s", "X-Ratelimit-Reset-Tokens", "20ms"),
			90*time.Second + 500*time.Millisecond, true},
		{"exhausted requests", hdr("X-Ratelimit-Reset-Requests", "1s", "X-Ratelimit-Remaining-Requests", "0",
			"X-Ratelimit-Reset-Tokens", "6m0s", "X-Ratelimit-Remaining-Tokens", "1000"), time.Second, true},
		{"exhausted tokens", hdr("X-Ratelimit-Reset-Requests", "6m0s", "X-Ratelimit-Remaining-Requests", "10",
			"X-Ratelimit-Reset-Tokens", "20ms", "X-Ratelimit-Remaining-Tokens", "0"), 20 * time.Millisecond, true},
		{"both exhausted", hdr("X-Ratelimit-Reset-Requests", "2s", "X-Ratelimit-Remaining-Requests", "0",
			"X-Ratelimit-Reset-Tokens", "3s", "X-Ratelimit-Remaining-Tokens", "0"), 3 * time.Second, true},
		{"exhausted one garbage", hdr("X-Ratelimit-Reset-Requests", "soon", "X-Ratelimit-Remaining-Requests", "0",
			"X-Ratelimit-Reset-Tokens", "3s"), 3 * time.Second, true},
		{"reset garbage", hdr("X-Ratelimit-Reset-Requests", "1 minute"), 0, false},
		{"reset without unit", hdr("X-Ratelimit-Reset-Requests", "30"), 0, false},
		{"reset negative", hdr("X-Ratelimit-Reset-Requests", "-1s"), 0, false},
		{"reset huge", hdr("X-Ratelimit-Reset-Requests", "99999999999999999999h"), MaxHint, true},
		{"reset above MaxHint", hdr("X-Ratelimit-Reset-Requests", "9000h"), MaxHint, true},
		{"Retry-After beats resets", hdr("Retry-After", "3", "X-Ratelimit-Reset-Requests", "1m"), 3 * time.Second, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, ok := ParseRetryAfter(tc.h, now)
			if d != tc.want || ok != tc.ok {
				t.Errorf("ParseRetryAfter(%v) = %v, %v; want %v, %v", tc.h, d, ok, tc.want, tc.ok)
			}
		})
	}
}

// TestHintReference checks that an HTTP-date is measured from the
// response's Date header, so the server's clock decides, and that
// ParseRetryAfter with a zero now does the same.
func TestHintReference(t *testing.T) {
	server := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) // far from the test's clock
	h := hdr("Date", server.Format(http.TimeFormat), "Retry-After", server.Add(42*time.Second).Format(http.TimeFormat))
	if d, ok := ParseRetryAfter(h, time.Time{}); d != 42*time.Second || !ok {
		t.Errorf("ParseRetryAfter(zero now) = %v, %v; want 42s from the Date header", d, ok)
	}
	resp, _ := response(503, h, "")
	if d := Default().Classify(resp, nil); d.RetryAfter != 42*time.Second || d.Verdict != Retryable {
		t.Errorf("Classify = %+v, want retryable after 42s", d)
	}

	// Without a Date header the current time is the reference: a date in
	// 2001 is long past.
	resp, _ = response(503, hdr("Retry-After", server.Format(http.TimeFormat)), "")
	if d := Default().Classify(resp, nil); d.RetryAfter != 0 {
		t.Errorf("Classify with a past date = %v, want 0", d.RetryAfter)
	}
}

// TestHintsInClassify checks which responses get a hint.
func TestHintsInClassify(t *testing.T) {
	resets := hdr("X-Ratelimit-Remaining-Requests", "0", "X-Ratelimit-Reset-Requests", "12s")
	for _, tc := range []struct {
		status int
		h      http.Header
		want   time.Duration
	}{
		{429, resets, 12 * time.Second},
		{500, resets, 0}, // services send the reset headers on every response
		{503, hdr("Retry-After", "5"), 5 * time.Second},
		{400, hdr("Retry-After-Ms", "250"), 250 * time.Millisecond},
		{200, hdr("Retry-After", "5"), 0},
		{429, hdr("Retry-After", "garbage"), 0},
	} {
		resp, _ := response(tc.status, tc.h, "")
		if d := Default().Classify(resp, nil); d.RetryAfter != tc.want {
			t.Errorf("Classify(%d, %v).RetryAfter = %v, want %v", tc.status, tc.h, d.RetryAfter, tc.want)
		}
	}
}

func TestIsDurationSyntax(t *testing.T) {
	valid := []string{"1s", "6m0s", "1m30.5s", "20ms", "1.5h", "3µs", "3us", ".5s", "99999999999999999999h"}
	invalid := []string{"", "1", "s", "1x", "-1s", "1s2", ".s", "1..5s"}
	for _, s := range valid {
		if !isDurationSyntax(s) {
			t.Errorf("isDurationSyntax(%q) = false, want true", s)
		}
	}
	for _, s := range invalid {
		if isDurationSyntax(s) {
			t.Errorf("isDurationSyntax(%q) = true, want false", s)
		}
	}
}
