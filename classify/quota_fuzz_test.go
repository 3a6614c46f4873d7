package classify

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// quotaKeys are every header ParseQuota reads, and the Date header.
var quotaKeys = func() []string {
	var ks []string
	for _, k := range openAIKeys {
		ks = append(ks, k.limit, k.remaining, k.reset)
	}
	for _, k := range anthropicKeys {
		ks = append(ks, k.limit, k.remaining, k.reset)
	}
	return append(ks, draftKeys.limit, draftKeys.remaining, draftKeys.reset, "Ratelimit", "Ratelimit-Policy", "Date")
}()

// checkWindow checks what every Window ParseQuota returns holds.
func checkWindow(t *testing.T, name string, w Window) {
	t.Helper()
	if w.Limit < 0 || w.Remaining < 0 || w.Reset < 0 || w.Reset > MaxHint || (!w.Known && w.Remaining != 0) {
		t.Fatalf("%s = %+v", name, w)
	}
}

// FuzzParseQuota gives the values to a selection of the quota headers.
func FuzzParseQuota(f *testing.F) {
	for _, h := range quotaHeaders() {
		var sel uint32
		vals := [4]string{}
		n := 0
		for i, k := range quotaKeys {
			if vs, ok := h[k]; ok && n < len(vals) {
				sel |= 1 << i
				vals[n] = strings.Join(vs, ", ")
				n++
			}
		}
		f.Add(vals[0], vals[1], vals[2], vals[3], sel)
	}
	f.Add("0", "6m0s", "2025-02-24T22:25:32Z", `"d";r=0;t=5`, uint32(math.MaxUint32))
	f.Fuzz(func(t *testing.T, a, b, c, d string, sel uint32) {
		vals := [...]string{a, b, c, d}
		h, n := http.Header{}, 0
		for i, k := range quotaKeys {
			if sel&(1<<i) != 0 && k != "Date" {
				h[k] = []string{vals[n%len(vals)]}
				n++
			}
		}
		q := ParseQuota(h, quotaNow)
		checkWindow(t, "Requests", q.Requests)
		checkWindow(t, "Tokens", q.Tokens)
		if q2 := ParseQuota(h, quotaNow); q2 != q {
			t.Fatalf("ParseQuota(%v) = %+v, then %+v", h, q, q2)
		}

		// The Date header is the reference when now is zero.
		h["Date"] = []string{quotaNow.Format(http.TimeFormat)}
		if q2 := ParseQuota(h, time.Time{}); q2 != q {
			t.Fatalf("ParseQuota(%v, zero now) = %+v; with now from Date, %+v", h, q2, q)
		}
		if n := testing.AllocsPerRun(1, func() { ParseQuota(h, time.Time{}) }); n != 0 {
			t.Fatalf("ParseQuota(%v) allocates %v times", h, n)
		}

		// Nothing overrules a window that says it is spent.
		h["X-Ratelimit-Remaining-Requests"] = []string{"0"}
		if q2 := ParseQuota(h, quotaNow); !q2.Requests.Known || q2.Requests.Remaining != 0 {
			t.Fatalf("ParseQuota(%v).Requests = %+v, want spent", h, q2.Requests)
		}
	})
}

func FuzzStructuredField(f *testing.F) {
	for _, s := range []string{`"default";r=50;t=30`, `"permin";q=50;w=60,"perhr";q=1000;w=3600`,
		`"peruser";q=65535;qu="content-bytes";w=10;pk=:sdfjLJUOUH==:`, `"default";r=999;pk=:dHJpYWwxMjEzMjM=:`,
		`default;r=4;t=2;acme-burst=?1;x="y";z=:AA==:;d=@1;e=%"caf%c3%a9";f=1.5;g=tok/x`, `("a" "b");r=1, "c";r=2`,
		`"a\"b";q=9`, `"d";r=1234567890123456`, `"a";r=1 "b";r=2`, `"x";r=1,`, ``} {
		f.Add(s, `"default";q=100;w=60`)
	}
	f.Fuzz(func(t *testing.T, field, policy string) {
		items, bad := sfCount([]string{field})
		if items2, bad2 := sfCount([]string{field, field}); bad2 != bad || (!bad && items2 != 2*items) {
			t.Fatalf("%q twice: %d items, malformed %v; once %d, %v", field, items2, bad2, items, bad)
		}
		if trimOWS(field) != "" && !bad {
			if _, bad2 := sfCount([]string{field + ","}); !bad2 {
				t.Fatalf("%q with a trailing comma is well formed", field)
			}
		}
		w := structured([]string{field}, []string{policy})
		checkWindow(t, "structured", w)
		if bad && w != (Window{}) {
			t.Fatalf("malformed %q says %+v", field, w)
		}
	})
}

// sfCount returns how many members the field lines hold, and whether the
// field is malformed.
func sfCount(lines []string) (n int, bad bool) {
	l := sfList{lines: lines}
	for {
		if _, ok := l.next(); !ok {
			return n, l.bad
		}
		n++
	}
}

func FuzzRFC3339(f *testing.F) {
	for _, s := range []string{"2025-02-24T22:25:32Z", "2025-02-24T22:25:32.123456789Z", "2025-02-24T22:25:32+05:30",
		"2025-02-24t22:25:32z", "2025-02-29T00:00:00Z", "2025-01-01T00:00:00+24:00", "0000-01-01T00:00:00.5-23:59"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseRFC3339(s)
		if !ok {
			return
		}
		// time.Parse accepts upper case only.
		norm := []byte(s)
		norm[10] = 'T'
		if norm[len(norm)-1] == 'z' {
			norm[len(norm)-1] = 'Z'
		}
		want, err := time.Parse(time.RFC3339Nano, string(norm))
		if err != nil || !got.Equal(want) {
			t.Fatalf("parseRFC3339(%q) = %v; time.Parse says %v, %v", s, got, want, err)
		}
	})
}

func FuzzIMFFixdate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Thu, 29 Feb 2024 23:59:59 GMT", "Sun, 30 Feb 2025 08:49:37 GMT",
		"unM, 06 Nov 1994 08:49:37 GMT", "Mon, 01 Jan 0001 00:00:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, ok := parseIMFFixdate(s)
		if !ok {
			return
		}
		want, err := http.ParseTime(s)
		if err != nil || !got.Equal(want) {
			t.Fatalf("parseIMFFixdate(%q) = %v; http.ParseTime says %v, %v", s, got, want, err)
		}
	})
}

func FuzzQuotaCount(f *testing.F) {
	for _, s := range []string{"0", "4999", " 7\t", "-1", "+5", "1e3", "9223372036854775807", "9223372036854775808",
		"99999999999999999999999", "7, 3,9", "10, 10;w=1", "lots, 4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := leastCount([]string{s})
		if n < 0 || (!ok && n != 0) {
			t.Fatalf("leastCount(%q) = %d, %v", s, n, ok)
		}
		if v := trimOWS(s); !strings.ContainsAny(v, "+-,;") {
			want, err := strconv.ParseInt(v, 10, 64)
			if ne, isNum := err.(*strconv.NumError); isNum && ne.Err == strconv.ErrRange && strings.Trim(v, "0123456789") == "" {
				want, err = math.MaxInt64, nil
			}
			if (err == nil) != ok || (ok && n != want) {
				t.Fatalf("leastCount(%q) = %d, %v; strconv.ParseInt says %d, %v", s, n, ok, want, err)
			}
		}
		// Every element of a list counts: the least wins.
		if n2, ok2 := leastCount([]string{s + ",5"}); !ok2 || (ok && n2 != min(n, 5)) || (!ok && n2 != 5) {
			t.Fatalf("leastCount(%q) = %d, %v; leastCount(%q) = %d, %v", s, n, ok, s+",5", n2, ok2)
		}
	})
}

func FuzzQuotaReset(f *testing.F) {
	for _, s := range []string{"1s", "6m0s", "2m59.56s", "7.66s", "0.5", "60", "0", "1740436000", "1e3", "-1s",
		"99999999999999999999h", strings.Repeat("9", 400), "soon"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := clock{t: quotaNow}
		d, ok := parseQuotaReset(s, &c)
		checkHint(t, s, d, ok)
		if _, plain := parseUnsigned(s); plain {
			return
		}
		if td, err := time.ParseDuration(s); err == nil && td >= 0 && td <= MaxHint && (d != td || !ok) {
			t.Fatalf("parseQuotaReset(%q) = %v, %v; time.ParseDuration says %v", s, d, ok, td)
		}
	})
}

// FuzzHints checks that the explicit hints together ask for the largest
// wait any of them asks for: never earlier than one of them says.
func FuzzHints(f *testing.F) {
	f.Add("1500", "100", "2", "6m0s")
	f.Add("20, 1500", "00:00:00.033", "Sat, 01 Mar 2025 12:01:00 GMT, 5", "1s")
	f.Add("", "", "soon", "1m")
	f.Fuzz(func(t *testing.T, ms, xms, ra, reset string) {
		now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
		var want time.Duration
		var wantOK bool
		for _, kv := range [][2]string{{"Retry-After-Ms", ms}, {"X-Ms-Retry-After-Ms", xms}, {"Retry-After", ra}} {
			d, ok := ParseRetryAfter(hdr(kv[0], kv[1]), now)
			checkHint(t, kv[1], d, ok)
			want, wantOK = larger(want, wantOK, d, ok)
		}
		h := hdr("Retry-After-Ms", ms, "X-Ms-Retry-After-Ms", xms, "Retry-After", ra)
		if d, ok := ParseRetryAfter(h, now); d != want || ok != wantOK {
			t.Fatalf("ParseRetryAfter(%v) = %v, %v; the largest alone is %v, %v", h, d, ok, want, wantOK)
		}
		// The reset headers count only when no explicit hint does.
		h.Set("X-Ratelimit-Reset-Requests", reset)
		d, ok := ParseRetryAfter(h, now)
		checkHint(t, reset, d, ok)
		if wantOK && (d != want || !ok) {
			t.Fatalf("ParseRetryAfter(%v) = %v, %v; want the explicit %v", h, d, ok, want)
		}
	})
}
