package classify

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"
)

// quotaCase is one response's headers and the Quota they say.
type quotaCase struct {
	name string
	h    http.Header
	want Quota
}

// runQuota checks each case with the reference time now.
func runQuota(t *testing.T, now time.Time, cases []quotaCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ParseQuota(tc.h, now); got != tc.want {
				t.Errorf("ParseQuota(%v)\n got %+v\nwant %+v", tc.h, got, tc.want)
			}
		})
	}
}

// known is a Window that says what is left.
func known(limit, remaining int64, reset time.Duration) Window {
	return Window{Limit: limit, Remaining: remaining, Reset: reset, Known: true}
}

var quotaNow = time.Date(2025, 2, 24, 22, 25, 29, 0, time.UTC)

// TestParseQuotaOpenAIStyle covers x-ratelimit-{limit,remaining,reset}-*.
func TestParseQuotaOpenAIStyle(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		// OpenAI, the rate-limits guide ("Rate limits in headers"):
		//	x-ratelimit-limit-requests: 60
		//	x-ratelimit-limit-tokens: 150000
		//	x-ratelimit-remaining-requests: 59
		//	x-ratelimit-remaining-tokens: 149984
		//	x-ratelimit-reset-requests: 1s
		//	x-ratelimit-reset-tokens: 6m0s
		{"OpenAI guide", hdr(
			"x-ratelimit-limit-requests", "60", "x-ratelimit-limit-tokens", "150000",
			"x-ratelimit-remaining-requests", "59", "x-ratelimit-remaining-tokens", "149984",
			"x-ratelimit-reset-requests", "1s", "x-ratelimit-reset-tokens", "6m0s"),
			Quota{Requests: known(60, 59, time.Second), Tokens: known(150000, 149984, 6*time.Minute)}},
		// OpenAI, a chat completion (community forum, 2025), with the
		// *_usage_based variants beside, which are not read:
		//	x-ratelimit-limit-requests: 5000
		//	x-ratelimit-limit-tokens: 160000
		//	x-ratelimit-limit-tokens_usage_based: 160000
		//	x-ratelimit-remaining-requests: 4999
		//	x-ratelimit-remaining-tokens: 159976
		//	x-ratelimit-remaining-tokens_usage_based: 159976
		//	x-ratelimit-reset-requests: 12ms
		//	x-ratelimit-reset-tokens: 9ms
		//	x-ratelimit-reset-tokens_usage_based: 9ms
		{"OpenAI usage_based variants", hdr(
			"x-ratelimit-limit-requests", "5000", "x-ratelimit-limit-tokens", "160000",
			"x-ratelimit-limit-tokens_usage_based", "1", "x-ratelimit-remaining-requests", "4999",
			"x-ratelimit-remaining-tokens", "159976", "x-ratelimit-remaining-tokens_usage_based", "0",
			"x-ratelimit-reset-requests", "12ms", "x-ratelimit-reset-tokens", "9ms", "x-ratelimit-reset-tokens_usage_based", "1h"),
			Quota{Requests: known(5000, 4999, 12*time.Millisecond), Tokens: known(160000, 159976, 9*time.Millisecond)}},
		// Groq, the rate-limits page (requests per day, tokens per minute):
		//	retry-after: 2
		//	x-ratelimit-limit-requests: 14400
		//	x-ratelimit-limit-tokens: 18000
		//	x-ratelimit-remaining-requests: 14370
		//	x-ratelimit-remaining-tokens: 17997
		//	x-ratelimit-reset-requests: 2m59.56s
		//	x-ratelimit-reset-tokens: 7.66s
		{"Groq", hdr("retry-after", "2",
			"x-ratelimit-limit-requests", "14400", "x-ratelimit-limit-tokens", "18000",
			"x-ratelimit-remaining-requests", "14370", "x-ratelimit-remaining-tokens", "17997",
			"x-ratelimit-reset-requests", "2m59.56s", "x-ratelimit-reset-tokens", "7.66s"),
			Quota{Requests: known(14400, 14370, 2*time.Minute+59560*time.Millisecond), Tokens: known(18000, 17997, 7660*time.Millisecond)}},
		// Azure OpenAI, chat completions: remaining only, resets in seconds.
		{"Azure remaining only", hdr("x-ratelimit-remaining-requests", "99", "x-ratelimit-remaining-tokens", "9920"),
			Quota{Requests: known(0, 99, 0), Tokens: known(0, 9920, 0)}},
		{"Azure reset in seconds", hdr("x-ratelimit-remaining-tokens", "0", "x-ratelimit-reset-tokens", "60"),
			Quota{Tokens: known(0, 0, time.Minute)}},
		// Azure OpenAI, Responses API (Microsoft Q&A, 2025-11): -1 means not told.
		//	x-ratelimit-limit-tokens: -1
		//	x-ratelimit-remaining-tokens: -1
		//	x-ratelimit-reset-tokens: 0
		{"Azure -1", hdr("x-ratelimit-limit-tokens", "-1", "x-ratelimit-remaining-tokens", "-1", "x-ratelimit-reset-tokens", "0"),
			Quota{}},
		{"exhausted", hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "20s"),
			Quota{Requests: known(0, 0, 20*time.Second)}},
		{"decimal seconds", hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "0.5"), Quota{Requests: known(0, 1, 500*time.Millisecond)}},
		{"compound duration", hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "1m30.5s"), Quota{Requests: known(0, 1, 90500*time.Millisecond)}},
		{"Unix time", hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "1740436000"), Quota{Requests: known(0, 1, 71*time.Second)}},
		{"Unix time past", hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "1700000000"), Quota{Requests: known(0, 1, 0)}},
		{"Unix time in ms", hdr("x-ratelimit-remaining-requests", "1", "x-ratelimit-reset-requests", "1740436000000"), Quota{Requests: known(0, 1, 71*time.Second)}},
		{"the other window's remaining suffices", hdr("x-ratelimit-remaining-tokens", "5", "x-ratelimit-limit-requests", "60",
			"x-ratelimit-reset-requests", "1s"), Quota{Requests: Window{Limit: 60, Reset: time.Second}, Tokens: known(0, 5, 0)}},
		// A family that says nothing of what is left is not read.
		{"limit and reset alone", hdr("x-ratelimit-limit-tokens", "90000", "x-ratelimit-reset-tokens", "1s"), Quota{}},
		{"spaces", hdr("x-ratelimit-remaining-requests", " 7\t", "x-ratelimit-reset-requests", " 2s "), Quota{Requests: known(0, 7, 2*time.Second)}},
		{"list takes least and latest", hdr("x-ratelimit-remaining-requests", "7, 3,9", "x-ratelimit-limit-requests", "100,60",
			"x-ratelimit-reset-requests", "1s, 5s"), Quota{Requests: known(60, 3, 5*time.Second)}},
		{"repeated", hdr("x-ratelimit-remaining-requests", "7", "x-ratelimit-remaining-requests", "3"), Quota{Requests: known(0, 3, 0)}},
		{"garbage", hdr("x-ratelimit-remaining-requests", "lots", "x-ratelimit-limit-requests", "1e3",
			"x-ratelimit-reset-requests", "soon", "x-ratelimit-reset-tokens", "-1s", "x-ratelimit-remaining-tokens", "+5"), Quota{}},
		{"garbage beside a value", hdr("x-ratelimit-remaining-requests", "lots, 4"), Quota{Requests: known(0, 4, 0)}},
		{"count overflow saturates", hdr("x-ratelimit-remaining-tokens", "99999999999999999999999", "x-ratelimit-limit-tokens", "9223372036854775808"),
			Quota{Tokens: known(math.MaxInt64, math.MaxInt64, 0)}},
		{"MaxInt64", hdr("x-ratelimit-remaining-tokens", "9223372036854775807"), Quota{Tokens: known(0, math.MaxInt64, 0)}},
		{"near MaxInt64", hdr("x-ratelimit-remaining-tokens", "9223372036854775800"), Quota{Tokens: known(0, 9223372036854775800, 0)}},
		{"reset above MaxHint", hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "9000h",
			"x-ratelimit-reset-tokens", "99999999999999999999h"), Quota{Requests: known(0, 0, MaxHint), Tokens: Window{Reset: MaxHint}}},
		{"seconds above MaxHint", hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "999999999"),
			Quota{Requests: known(0, 0, MaxHint)}},
		{"huge number", hdr("x-ratelimit-remaining-requests", "0", "x-ratelimit-reset-requests", "1"+strings.Repeat("0", 400)),
			Quota{Requests: known(0, 0, MaxHint)}},
		{"other x-ratelimit headers", hdr("x-ratelimit-remaining-requests-week", "5",
			"x-ratelimit-foo-remaining-requests", "5"), Quota{}},
	})
}

// TestParseQuotaAnthropic covers anthropic-ratelimit-*.
func TestParseQuotaAnthropic(t *testing.T) {
	// A Messages response (2025-02-24, logged by a client library):
	//	anthropic-ratelimit-input-tokens-limit: 80000
	//	anthropic-ratelimit-input-tokens-remaining: 78000
	//	anthropic-ratelimit-input-tokens-reset: 2025-02-24T22:25:32Z
	//	anthropic-ratelimit-output-tokens-limit: 16000
	//	anthropic-ratelimit-output-tokens-remaining: 12000
	//	anthropic-ratelimit-output-tokens-reset: 2025-02-24T22:25:47Z
	//	anthropic-ratelimit-requests-limit: 1000
	//	anthropic-ratelimit-requests-remaining: 999
	//	anthropic-ratelimit-requests-reset: 2025-02-24T22:25:30Z
	//	anthropic-ratelimit-tokens-limit: 96000
	//	anthropic-ratelimit-tokens-remaining: 90000
	//	anthropic-ratelimit-tokens-reset: 2025-02-24T22:25:32Z
	messages := hdr(
		"anthropic-ratelimit-input-tokens-limit", "80000",
		"anthropic-ratelimit-input-tokens-remaining", "78000",
		"anthropic-ratelimit-input-tokens-reset", "2025-02-24T22:25:32Z",
		"anthropic-ratelimit-output-tokens-limit", "16000",
		"anthropic-ratelimit-output-tokens-remaining", "12000",
		"anthropic-ratelimit-output-tokens-reset", "2025-02-24T22:25:47Z",
		"anthropic-ratelimit-requests-limit", "1000",
		"anthropic-ratelimit-requests-remaining", "999",
		"anthropic-ratelimit-requests-reset", "2025-02-24T22:25:30Z",
		"anthropic-ratelimit-tokens-limit", "96000",
		"anthropic-ratelimit-tokens-remaining", "90000",
		"anthropic-ratelimit-tokens-reset", "2025-02-24T22:25:32Z")
	withDate := messages.Clone()
	withDate.Set("Date", "Mon, 24 Feb 2025 22:25:17 GMT")
	want := Quota{Requests: known(1000, 999, time.Second), Tokens: known(16000, 12000, 18*time.Second)}
	runQuota(t, quotaNow, []quotaCase{
		{"Messages", messages, want},
		{"Date is not the reference when now is given", withDate, want},
		{"tokens tightest", hdr("anthropic-ratelimit-tokens-remaining", "10", "anthropic-ratelimit-input-tokens-remaining", "20",
			"anthropic-ratelimit-output-tokens-remaining", "30"), Quota{Tokens: known(0, 10, 0)}},
		{"exhausted input tokens", hdr("anthropic-ratelimit-tokens-remaining", "16000",
			"anthropic-ratelimit-input-tokens-remaining", "0", "anthropic-ratelimit-input-tokens-reset", "2025-02-24T22:26:29Z",
			"anthropic-ratelimit-output-tokens-remaining", "16000"), Quota{Tokens: known(0, 0, time.Minute)}},
		{"equal remaining: later reset", hdr("anthropic-ratelimit-tokens-remaining", "10",
			"anthropic-ratelimit-input-tokens-remaining", "0", "anthropic-ratelimit-input-tokens-reset", "2025-02-24T22:25:30Z",
			"anthropic-ratelimit-output-tokens-remaining", "0", "anthropic-ratelimit-output-tokens-reset", "2025-02-24T22:25:39Z"),
			Quota{Tokens: known(0, 0, 10*time.Second)}},
		{"offset and fraction", hdr("anthropic-ratelimit-requests-remaining", "5", "anthropic-ratelimit-requests-reset", "2025-02-24T23:25:30.25+01:00"),
			Quota{Requests: known(0, 5, 1250*time.Millisecond)}},
		{"negative offset", hdr("anthropic-ratelimit-requests-remaining", "5", "anthropic-ratelimit-requests-reset", "2025-02-24T17:25:39-05:00"),
			Quota{Requests: known(0, 5, 10*time.Second)}},
		{"reset in the past", hdr("anthropic-ratelimit-requests-remaining", "5", "anthropic-ratelimit-requests-reset", "2025-02-24T22:00:00Z"),
			Quota{Requests: known(0, 5, 0)}},
		{"reset far ahead", hdr("anthropic-ratelimit-requests-remaining", "0", "anthropic-ratelimit-requests-reset", "9999-12-31T23:59:59Z"),
			Quota{Requests: known(0, 0, MaxHint)}},
		{"reset garbage", hdr("anthropic-ratelimit-requests-remaining", "1", "anthropic-ratelimit-requests-reset", "in a minute",
			"anthropic-ratelimit-tokens-reset", "2025-02-30T00:00:00Z", "anthropic-ratelimit-input-tokens-reset", "2025-02-24T22:26:00",
			"anthropic-ratelimit-output-tokens-reset", "2025-02-24T22:26:00+24:00"), Quota{Requests: known(0, 1, 0)}},
		// The family is read when it says what is left of requests or of
		// tokens, as Anthropic does on every response.
		{"tokens remaining suffices", hdr("anthropic-ratelimit-tokens-remaining", "7", "anthropic-ratelimit-requests-reset", "2025-02-24T22:25:39Z"),
			Quota{Requests: Window{Reset: 10 * time.Second}, Tokens: known(0, 7, 0)}},
		{"input and output alone", hdr("anthropic-ratelimit-input-tokens-remaining", "0", "anthropic-ratelimit-output-tokens-remaining", "0"), Quota{}},
		{"resets alone", hdr("anthropic-ratelimit-requests-reset", "2025-02-24T22:25:39Z"), Quota{}},
		{"unknown windows ignored", hdr("anthropic-ratelimit-unified-5h-utilization", "0.26", "anthropic-ratelimit-unified-reset", "1776455200",
			"anthropic-ratelimit-images-remaining", "0"), Quota{}},
	})
	// Without now, the Date header is the reference; without one, the
	// current time, which is long past 2025-02-24.
	if got := ParseQuota(withDate, time.Time{}); got.Requests.Reset != 13*time.Second || got.Tokens.Reset != 30*time.Second {
		t.Errorf("ParseQuota(zero now, Date) = %+v; want resets 13s and 30s after the Date", got)
	}
	if got := ParseQuota(messages, time.Time{}); got.Requests.Reset != 0 || got.Tokens != known(16000, 12000, 0) {
		t.Errorf("ParseQuota(zero now, no Date) = %+v; want resets in the past", got)
	}
}

// TestParseQuotaIETF covers the RateLimit fields of
// draft-ietf-httpapi-ratelimit-headers-11 and of its earlier versions.
func TestParseQuotaIETF(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		// Section 4.2: RateLimit: "default";r=50;t=30
		{"RateLimit", hdr("RateLimit", `"default";r=50;t=30`), Quota{Requests: known(0, 50, 30*time.Second)}},
		// Appendix B.2.1:
		//	RateLimit: "fixedwindow";r=99;t=50
		//	RateLimit-Policy: "fixedwindow";q=100;w=60
		{"with policy", hdr("RateLimit", `"fixedwindow";r=99;t=50`, "RateLimit-Policy", `"fixedwindow";q=100;w=60`),
			Quota{Requests: known(100, 99, 50*time.Second)}},
		// Section 3.2: RateLimit-Policy: "permin";q=50;w=60,"perhr";q=1000;w=3600
		{"two policies", hdr("RateLimit-Policy", `"permin";q=50;w=60,"perhr";q=1000;w=3600`,
			"RateLimit", `"permin";r=10;t=20, "perhr";r=5;t=2000`), Quota{Requests: known(1000, 5, 2000*time.Second)}},
		{"split over field lines", hdr("RateLimit-Policy", `"permin";q=50;w=60`, "RateLimit-Policy", `"perhr";q=1000;w=3600`,
			"RateLimit", `"perhr";r=500;t=2000`, "RateLimit", `"permin";r=9;t=20`), Quota{Requests: known(50, 9, 20*time.Second)}},
		// Appendix B.1.4, a throttled response (Retry-After is a hint, not quota).
		{"exhausted", hdr("Retry-After", "Mon, 05 Aug 2019 09:27:05 GMT", "RateLimit", `"default";r=0;t=5`),
			Quota{Requests: known(0, 0, 5*time.Second)}},
		// Section 4.2: RateLimit: "default";r=999;pk=:dHJpYWwxMjEzMjM=:
		{"partition key, no window", hdr("RateLimit", `"default";r=999;pk=:dHJpYWwxMjEzMjM=:`), Quota{Requests: known(0, 999, 0)}},
		// Section 3.2:
		//	RateLimit-Policy: "peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:
		{"content-bytes ignored", hdr("RateLimit-Policy", `"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:`,
			"RateLimit", `"peruser";r=0;t=10`), Quota{}},
		{"concurrent-requests ignored", hdr("RateLimit-Policy", `"conc";q=10;qu="concurrent-requests", "rpm";q=60;qu="requests";w=60`,
			"RateLimit", `"conc";r=0;t=1, "rpm";r=30;t=40`), Quota{Requests: known(60, 30, 40*time.Second)}},
		{"token names are requests", hdr("RateLimit", `"tokens-per-minute";r=7;t=9`), Quota{Requests: known(0, 7, 9*time.Second)}},
		{"item without policy", hdr("RateLimit-Policy", `"a";q=100`, "RateLimit", `"b";r=3`), Quota{Requests: known(0, 3, 0)}},
		{"policy without item", hdr("RateLimit-Policy", `"a";q=100;w=60`), Quota{}},
		{"token item and other parameters", hdr("RateLimit", `default;r=4;t=2;acme-burst=?1;x="y";z=:AA==:;d=@1;e=%"caf%c3%a9";f=1.5;g=tok/x`),
			Quota{Requests: known(0, 4, 2*time.Second)}},
		{"inner list", hdr("RateLimit", `("a" "b");r=1, "c";r=2`), Quota{Requests: known(0, 2, 0)}},
		{"escaped name", hdr("RateLimit-Policy", `"a\"b";q=9`, "RateLimit", `"a\"b";r=1`), Quota{Requests: known(9, 1, 0)}},
		{"parameter given twice", hdr("RateLimit", `"d";r=100;r=1`), Quota{Requests: known(0, 1, 0)}},
		{"r not an integer", hdr("RateLimit", `"d";r=1.5;t=3, "e";r="1", "f";r=-1, "g";t=3`), Quota{}},
		{"t not an integer", hdr("RateLimit", `"d";r=1;t=1.5`), Quota{Requests: known(0, 1, 0)}},
		{"t above MaxHint", hdr("RateLimit", `"d";r=1;t=999999999999999`), Quota{Requests: known(0, 1, MaxHint)}},
		{"spaces", hdr("RateLimit", `  "d";  r=1 ,	"e";r=2  `), Quota{Requests: known(0, 1, 0)}},
		{"empty field line", hdr("RateLimit", "", "RateLimit", `"d";r=1`), Quota{Requests: known(0, 1, 0)}},
		// Malformed fields are ignored, whole (section 7).
		{"trailing comma", hdr("RateLimit", `"default";r=50;t=30,`), Quota{}},
		{"missing comma", hdr("RateLimit", `"a";r=1 "b";r=2`), Quota{}},
		{"malformed line spoils the field", hdr("RateLimit", `"a";r=1`, "RateLimit", `"b";r=0;;`), Quota{}},
		{"unterminated string", hdr("RateLimit", `"default;r=1`), Quota{}},
		{"bad escape", hdr("RateLimit", `"a\b";r=1`), Quota{}},
		{"upper-case key", hdr("RateLimit", `"d";R=1`), Quota{}},
		{"integer too long", hdr("RateLimit", `"d";r=1234567890123456`), Quota{}},
		{"decimal too precise", hdr("RateLimit", `"d";r=1;x=1.2345`), Quota{}},
		{"malformed policy ignored", hdr("RateLimit-Policy", `"d";q=100;w=60,,`, "RateLimit", `"d";r=1`), Quota{Requests: known(0, 1, 0)}},

		// Earlier drafts. Botpress's API reference:
		//	RateLimit-Limit: 100
		//	RateLimit-Remaining: 9
		//	RateLimit-Reset: 6
		{"RateLimit-Limit/-Remaining/-Reset", hdr("RateLimit-Limit", "100", "RateLimit-Remaining", "9", "RateLimit-Reset", "6"),
			Quota{Requests: known(100, 9, 6*time.Second)}},
		// draft-ietf-httpapi-ratelimit-headers-01: limits with quota policies.
		{"RateLimit-Limit with policies", hdr("RateLimit-Limit", "10, 10;w=1, 50;w=60", "RateLimit-Remaining", "4"),
			Quota{Requests: known(10, 4, 0)}},
		// GitLab sends a Unix time: RateLimit-Reset: 1609844400 (2021-01-05T11:00:00Z).
		{"RateLimit-Reset as Unix time", hdr("RateLimit-Remaining", "0", "RateLimit-Reset", "1740436009"),
			Quota{Requests: known(0, 0, 80*time.Second)}},
		{"both forms: the tighter", hdr("RateLimit-Remaining", "3", "RateLimit", `"d";r=5;t=1`), Quota{Requests: known(0, 3, 0)}},
	})
	gitlab := hdr("RateLimit-Remaining", "0", "RateLimit-Reset", "1609844400")
	if got := ParseQuota(gitlab, time.Date(2021, 1, 5, 10, 59, 0, 0, time.UTC)); got.Requests != known(0, 0, time.Minute) {
		t.Errorf("ParseQuota(GitLab) = %+v; want a reset in 1m", got)
	}
}

// TestParseQuotaFamilies checks responses that carry several families, or none.
func TestParseQuotaFamilies(t *testing.T) {
	runQuota(t, quotaNow, []quotaCase{
		{"none", hdr("Content-Type", "application/json", "Date", "Mon, 24 Feb 2025 22:25:17 GMT", "X-Request-Id", "req_1"), Quota{}},
		{"nil", nil, Quota{}},
		{"gateway before OpenAI", hdr("RateLimit", `"gw";r=2;t=10`, "x-ratelimit-remaining-requests", "50", "x-ratelimit-remaining-tokens", "1000"),
			Quota{Requests: known(0, 2, 10*time.Second), Tokens: known(0, 1000, 0)}},
		{"OpenAI before gateway", hdr("RateLimit", `"gw";r=200;t=10`, "x-ratelimit-remaining-requests", "50"),
			Quota{Requests: known(0, 50, 0)}},
		{"remaining beats limit only", hdr("RateLimit-Limit", "10", "x-ratelimit-remaining-requests", "50"),
			Quota{Requests: known(0, 50, 0)}},
		{"Anthropic and OpenAI", hdr("anthropic-ratelimit-requests-remaining", "5", "x-ratelimit-remaining-requests", "6"),
			Quota{Requests: known(0, 5, 0)}},
	})
	// Keys not in canonical form are not found, as with http.Header.Get;
	// nor is an empty key a problem.
	h := http.Header{"x-ratelimit-remaining-requests": {"1"}, "": {"1"}, "X": nil}
	if got := ParseQuota(h, quotaNow); got != (Quota{}) {
		t.Errorf("ParseQuota(non-canonical keys) = %+v, want zero", got)
	}
}

func TestTighter(t *testing.T) {
	ws := []Window{{}, {Limit: 5}, {Limit: 9}, {Reset: time.Second}, {Limit: 5, Reset: time.Second}, known(0, 0, 0), known(1, 0, 0),
		known(0, 0, time.Second), known(9, 3, 0), known(5, 3, time.Second), known(0, 4, time.Hour)}
	for _, a := range ws {
		for _, b := range ws {
			ab, ba := tighter(a, b), tighter(b, a)
			if ab != ba || (ab != a && ab != b) {
				t.Errorf("tighter(%+v, %+v) = %+v, swapped %+v", a, b, ab, ba)
			}
		}
	}
	if got := tighter(known(100, 50, 0), known(10, 5, 0)); got.Remaining != 5 {
		t.Errorf("tighter picks %+v, want the one with 5 left", got)
	}
}

func TestParseRFC3339(t *testing.T) {
	for _, s := range []string{"2025-02-24T22:25:32Z", "2025-02-24T22:25:32.123456789Z", "2025-02-24T22:25:32.1234567891Z",
		"2025-02-24T22:25:32+05:30", "2025-02-24T22:25:32.5-08:00", "2024-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "9999-12-31T23:59:59Z"} {
		want, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", s, err)
		}
		if got, ok := parseRFC3339(s); !ok || !got.Equal(want) {
			t.Errorf("parseRFC3339(%q) = %v, %v; want %v", s, got, ok, want)
		}
	}
	if got, ok := parseRFC3339("2025-02-24t22:25:32z"); !ok || !got.Equal(time.Date(2025, 2, 24, 22, 25, 32, 0, time.UTC)) {
		t.Errorf("parseRFC3339(lower case) = %v, %v", got, ok)
	}
	for _, s := range []string{"", "2025-02-24", "2025-02-24T22:25:32", "2025-02-24T22:25Z", "2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z",
		"2025-00-01T00:00:00Z", "2025-01-00T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z", "2025-01-01T00:00:60Z",
		"2025-01-01T00:00:00.Z", "2025-01-01T00:00:00+2400", "2025-01-01T00:00:00+24:00", "2025-01-01T00:00:00+01:60",
		"2025-01-01T00:00:00UTC", "2025-01-01T00:00:00Z ", "+025-01-01T00:00:00Z", "2025/01/01T00:00:00Z", "2025-01-01X00:00:00Z"} {
		if got, ok := parseRFC3339(s); ok {
			t.Errorf("parseRFC3339(%q) = %v, want refused", s, got)
		}
	}
}

// quotaHeaders are the header sets of the tests above, for the allocation
// test and the fuzz seeds.
func quotaHeaders() []http.Header {
	var hs []http.Header
	for _, bc := range quotaBenchCases {
		hs = append(hs, bc.h)
	}
	return append(hs,
		hdr("x-ratelimit-remaining-requests", "lots, 4", "x-ratelimit-reset-requests", "soon", "x-ratelimit-reset-tokens", "1740436000"),
		hdr("anthropic-ratelimit-requests-reset", "2025-02-24T23:25:30.25+01:00", "anthropic-ratelimit-tokens-reset", "garbage"),
		hdr("RateLimit", `default;r=4;t=2;acme-burst=?1;x="y";z=:AA==:;d=@1;e=%"caf%c3%a9";f=1.5;g=tok/x, ("a" "b");r=1`),
		hdr("RateLimit", `"default;r=1`, "RateLimit-Policy", `"a";q=1,,`),
		hdr("RateLimit-Limit", "10, 10;w=1", "RateLimit-Remaining", "x", "RateLimit-Reset", "1609844400"),
		hdr("Date", "Sunday, 06-Nov-94 08:49:37 GMT", "anthropic-ratelimit-requests-reset", "2025-02-24T22:25:30Z"),
		hdr("Date", "garbage", "anthropic-ratelimit-requests-reset", "2025-02-24T22:25:30Z"),
	)
}

// TestParseQuotaNoAlloc holds the promise that reading quota headers costs
// no allocation, whatever they say, with a reference time or without.
func TestParseQuotaNoAlloc(t *testing.T) {
	for _, h := range quotaHeaders() {
		for _, now := range []time.Time{quotaNow, {}} {
			if n := testing.AllocsPerRun(100, func() { ParseQuota(h, now) }); n != 0 {
				t.Errorf("ParseQuota(%v, %v) allocates %v times per call, want 0", h, now, n)
			}
		}
	}
}

// quotaBenchCases are responses as services send them, with the headers
// that come beside the quota headers.
var quotaBenchCases = []struct {
	name string
	h    http.Header
}{
	{"case:none", hdr("Date", "Mon, 24 Feb 2025 22:25:17 GMT", "Content-Type", "application/json", "Content-Length", "512",
		"Connection", "keep-alive", "X-Request-Id", "req_1", "Openai-Processing-Ms", "312", "Cf-Ray", "9172df34dae675c4-SEA", "Server", "cloudflare")},
	{"case:openai-6", hdr("Date", "Mon, 24 Feb 2025 22:25:17 GMT", "Content-Type", "application/json", "X-Request-Id", "req_1",
		"Openai-Processing-Ms", "312", "Cf-Ray", "9172df34dae675c4-SEA", "Server", "cloudflare",
		"x-ratelimit-limit-requests", "5000", "x-ratelimit-limit-tokens", "160000",
		"x-ratelimit-remaining-requests", "4999", "x-ratelimit-remaining-tokens", "159976",
		"x-ratelimit-reset-requests", "12ms", "x-ratelimit-reset-tokens", "6m0s")},
	{"case:anthropic", hdr("Date", "Mon, 24 Feb 2025 22:25:17 GMT", "Content-Type", "application/json", "Request-Id", "req_1",
		"Server", "cloudflare",
		"anthropic-ratelimit-input-tokens-limit", "80000", "anthropic-ratelimit-input-tokens-remaining", "78000",
		"anthropic-ratelimit-input-tokens-reset", "2025-02-24T22:25:32Z",
		"anthropic-ratelimit-output-tokens-limit", "16000", "anthropic-ratelimit-output-tokens-remaining", "12000",
		"anthropic-ratelimit-output-tokens-reset", "2025-02-24T22:25:47Z",
		"anthropic-ratelimit-requests-limit", "1000", "anthropic-ratelimit-requests-remaining", "999",
		"anthropic-ratelimit-requests-reset", "2025-02-24T22:25:30Z",
		"anthropic-ratelimit-tokens-limit", "96000", "anthropic-ratelimit-tokens-remaining", "90000",
		"anthropic-ratelimit-tokens-reset", "2025-02-24T22:25:32Z")},
	{"case:ietf", hdr("Date", "Mon, 24 Feb 2025 22:25:17 GMT", "Content-Type", "application/json", "X-Request-Id", "req_1",
		"Server", "envoy",
		"RateLimit-Policy", `"permin";q=50;w=60, "perhr";q=1000;w=3600`, "RateLimit", `"permin";r=10;t=20, "perhr";r=5;t=2000`)},
}

func BenchmarkParseQuota(b *testing.B) {
	for _, bc := range quotaBenchCases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var q Quota
			for range b.N {
				q = ParseQuota(bc.h, quotaNow)
			}
			if bc.name != "case:none" && q == (Quota{}) {
				b.Fatalf("ParseQuota(%v) = zero", bc.h)
			}
		})
	}
}

func ExampleParseQuota() {
	// A success from an OpenAI-style API: read on every response, it tells
	// the caller how fast it may go before it is refused.
	h := http.Header{}
	h.Set("X-Ratelimit-Limit-Requests", "60")
	h.Set("X-Ratelimit-Remaining-Requests", "0")
	h.Set("X-Ratelimit-Reset-Requests", "1.5s")
	h.Set("X-Ratelimit-Limit-Tokens", "150000")
	h.Set("X-Ratelimit-Remaining-Tokens", "149984")
	h.Set("X-Ratelimit-Reset-Tokens", "6m0s")
	q := ParseQuota(h, time.Now())
	if w := q.Requests; w.Known && w.Remaining == 0 {
		fmt.Printf("requests spent; %d more in %v\n", w.Limit, w.Reset)
	}
	fmt.Printf("tokens: %d of %d left\n", q.Tokens.Remaining, q.Tokens.Limit)
	// Output:
	// requests spent; 60 more in 1.5s
	// tokens: 149984 of 150000 left
}
