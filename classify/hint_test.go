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
		// Several explicit hints: the largest, never earlier than any says.
		{"Retry-After above retry-after-ms", hdr("Retry-After-Ms", "1500", "Retry-After", "2"), 2 * time.Second, true},
		{"retry-after-ms above Retry-After", hdr("Retry-After-Ms", "2500", "Retry-After", "2"), 2500 * time.Millisecond, true},
		{"x-ms-retry-after-ms", hdr("X-Ms-Retry-After-Ms", "100"), 100 * time.Millisecond, true},
		{"x-ms-retry-after-ms above retry-after-ms", hdr("X-Ms-Retry-After-Ms", "3000", "Retry-After-Ms", "20"), 3 * time.Second, true},
		{"x-ms-retry-after-ms below Retry-After", hdr("X-Ms-Retry-After-Ms", "500", "Retry-After", "1"), time.Second, true},
		{"all three", hdr("Retry-After-Ms", "1200", "X-Ms-Retry-After-Ms", "1300", "Retry-After", "1"), 1300 * time.Millisecond, true},
		{"garbage x-ms-retry-after-ms ignored", hdr("X-Ms-Retry-After-Ms", "00:00:00.033", "Retry-After", "1"), time.Second, true},
		{"Retry-After list", hdr("Retry-After", "1, 5"), 5 * time.Second, true},
		{"Retry-After list unsorted", hdr("Retry-After", "7,2 , 3"), 7 * time.Second, true},
		{"Retry-After repeated", hdr("Retry-After", "1", "Retry-After", "5", "Retry-After", "3"), 5 * time.Second, true},
		{"Retry-After list with garbage", hdr("Retry-After", "soon, 4, -9"), 4 * time.Second, true},
		{"Retry-After list of garbage", hdr("Retry-After", "soon, later"), 0, false},
		{"Retry-After empty list", hdr("Retry-After", " , ,"), 0, false},
		{"Retry-After seconds and date", hdr("Retry-After", "5, "+date(time.Minute)), time.Minute, true},
		{"Retry-After date and seconds", hdr("Retry-After", date(time.Minute)+", 90"), 90 * time.Second, true},
		{"Retry-After two dates", hdr("Retry-After", date(time.Minute)+", "+date(2*time.Minute)), 2 * time.Minute, true},
		{"Retry-After repeated date", hdr("Retry-After", date(time.Hour), "Retry-After", "2"), time.Hour, true},
		{"retry-after-ms list", hdr("Retry-After-Ms", "1500, 20"), 1500 * time.Millisecond, true},
		{"retry-after-ms repeated", hdr("Retry-After-Ms", "20", "Retry-After-Ms", "1500"), 1500 * time.Millisecond, true},
		{"x-ms-retry-after-ms list", hdr("X-Ms-Retry-After-Ms", "20,30"), 30 * time.Millisecond, true},
		{"explicit hints beat resets", hdr("X-Ms-Retry-After-Ms", "10", "X-Ratelimit-Reset-Requests", "1m"), 10 * time.Millisecond, true},
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

// TestParseGoDuration checks the reset parser against time.ParseDuration,
// and its saturation where ParseDuration overflows.
func TestParseGoDuration(t *testing.T) {
	for _, s := range []string{"1s", "6m0s", "1m30.5s", "20ms", "1.5h", "3µs", "3μs", "3us", "7ns", ".5s", "5.s", "0",
		"+0", "-0", "-0s", "+1s", "2m59.56s", "7.66s", "1h2m3.5s", "0.333333333333333333333333s", "1.00000000000000000001h"} {
		want, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("time.ParseDuration(%q): %v", s, err)
		}
		if d, ok := parseGoDuration(s); d != want || !ok {
			t.Errorf("parseGoDuration(%q) = %v, %v; want %v, true", s, d, ok, want)
		}
	}
	for _, s := range []string{"99999999999999999999h", "9000h", "8761h", "2562047h", "2562048h", strings.Repeat("9", 40) + "ns"} {
		if d, ok := parseGoDuration(s); d != MaxHint || !ok {
			t.Errorf("parseGoDuration(%q) = %v, %v; want MaxHint", s, d, ok)
		}
	}
	for _, s := range []string{"", "1", "s", "1x", "-1s", "-99999999999999999999h", "1s2", ".s", "1..5s", "+", "-", "1 s", "1S", "1sec"} {
		if d, ok := parseGoDuration(s); d != 0 || ok {
			t.Errorf("parseGoDuration(%q) = %v, %v; want refused", s, d, ok)
		}
	}
}

// TestParseIMFFixdate checks the fast HTTP-date parser against
// http.ParseTime, and that it leaves other forms to it.
func TestParseIMFFixdate(t *testing.T) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sat, 01 Mar 2025 12:00:00 GMT", "Thu, 29 Feb 2024 23:59:59 GMT",
		"Fri, 31 Dec 9999 23:59:59 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"} {
		want, err := http.ParseTime(s)
		if err != nil {
			t.Fatalf("http.ParseTime(%q): %v", s, err)
		}
		if got, ok := parseIMFFixdate(s); !ok || !got.Equal(want) {
			t.Errorf("parseIMFFixdate(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	for _, s := range []string{"", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 UTC",
		"Xyz, 06 Nov 1994 08:49:37 GMT", "unM, 06 Nov 1994 08:49:37 GMT", "Sun, 06 ovN 1994 08:49:37 GMT", "Sun, 30 Feb 2025 08:49:37 GMT",
		"Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 06 Nov 1994 08:49:60 GMT", "Sun, 00 Nov 1994 08:49:37 GMT",
		"Sun, 6  Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:3x GMT"} {
		if got, ok := parseIMFFixdate(s); ok {
			t.Errorf("parseIMFFixdate(%q) = %v, want refused", s, got)
		}
	}
}

// TestCivil checks the calendar arithmetic against time.Date, day by day
// over leap years, centuries and the years before 1970.
func TestCivil(t *testing.T) {
	for _, year := range []int{0, 1, 4, 100, 400, 1600, 1900, 1969, 1970, 1972, 2000, 2024, 2025, 2100, 9999} {
		for month := time.January; month <= time.December; month++ {
			for day := 1; day <= 31; day++ {
				want := time.Date(year, month, day, 13, 14, 15, 16, time.UTC)
				got, ok := civil(year, month, day, 13, 14, 15, 16)
				if valid := want.Day() == day; ok != valid || (ok && !got.Equal(want)) {
					t.Fatalf("civil(%d, %v, %d) = %v, %v; time.Date says %v", year, month, day, got, ok, want)
				}
			}
		}
	}
}
