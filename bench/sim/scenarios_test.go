package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNoisy429(t *testing.T) {
	s := scenario(t, Noisy429)
	tu := newTestUpstream(t, s, 11)
	const n = 20000
	var refused, again int
	for id := uint64(1); id <= n; id++ {
		rec := tu.at(time.Duration(id)*time.Millisecond).do(0, id)
		switch rec.Code {
		case 200:
			continue
		case 429:
		default:
			t.Fatalf("status %d: noisy-429 has no other fault", rec.Code)
		}
		refused++
		if ra, ms := rec.Header().Get("Retry-After"), rec.Header().Get("retry-after-ms"); ra != "1" || ms != "" {
			t.Errorf("429 hints Retry-After=%q retry-after-ms=%q, want 1 and none", ra, ms)
		}
		if !strings.Contains(rec.Body.String(), `"code":"rate_limited"`) {
			t.Errorf("429 body %s", rec.Body.String())
		}
		// The retry draws its own fate: refused again with probability p.
		if tu.at(time.Duration(id)*time.Millisecond+time.Second).do(0, id).Code == 429 {
			again++
		}
	}
	// Binomial sd 0.0015; allow four. The same rate holds whatever the
	// clock: the ids were spread over 20 s.
	within(t, "refusal rate", float64(refused)/n, s.P, 0.006)
	within(t, "refusal rate of retries", float64(again)/float64(refused), s.P, 0.03)
}

func TestStormAnswers503Everywhere(t *testing.T) {
	s := scenario(t, Storm)
	if len(s.Models) != stormModels {
		t.Fatalf("%d models, want %d", len(s.Models), stormModels)
	}
	tu := newTestUpstream(t, s, 1)
	id := uint64(0)
	for model := range s.Models {
		for _, at := range []time.Duration{-s.Warmup, 0, s.Measure / 2, s.Measure + time.Second} {
			id++
			rec := tu.at(at).do(model, id)
			if rec.Code != 503 || rec.Header().Get("retry-after-ms") != "10" || !strings.Contains(rec.Body.String(), "model_overloaded") {
				t.Fatalf("model %d at %v: %d retry-after-ms=%q %s", model, at, rec.Code, rec.Header().Get("retry-after-ms"), rec.Body.String())
			}
		}
	}
	// A retry 5 ms later is early; one 10 ms after that is not.
	tu.at(0).do(0, 1_000_000)
	tu.at(5*time.Millisecond).do(0, 1_000_000)
	tu.at(15*time.Millisecond).do(0, 1_000_000)
	if c := tu.Call(1_000_000); c.Attempts != 3 || c.Early != 1 {
		t.Errorf("call stats %+v, want 3 attempts, 1 early", c)
	}
}

func TestBurstLoadAndBucket(t *testing.T) {
	s := scenario(t, BurstLoad)
	if s.Measure != 4*time.Second || s.Fault != (Window{}) {
		t.Errorf("measured window %v, fault %v; want 4s (a 2 s burst and a 2 s quiet phase) and none", s.Measure, s.Fault)
	}
	limit := float64(DefaultRate) / 1.5
	for _, tt := range []struct {
		at   time.Duration
		want float64
	}{{-s.Warmup, limit / 2}, {0, 1.5 * limit}, {1999 * time.Millisecond, 1.5 * limit}, {2 * time.Second, limit / 2},
		{s.Measure - 1, limit / 2}, {s.Measure, 1.5 * limit}, {s.Measure + 2*time.Second, limit / 2}} {
		if got := s.RateAt(tt.at); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("rate at %v = %v, want %v", tt.at, got, tt.want)
		}
	}
	phases := s.Phases(-s.Warmup, s.Measure+time.Second)
	want := []Phase{{-s.Warmup, 0, limit / 2}, {0, 2 * time.Second, 1.5 * limit}, {2 * time.Second, 4 * time.Second, limit / 2}, {4 * time.Second, 5 * time.Second, 1.5 * limit}}
	if fmt.Sprint(phases) != fmt.Sprint(want) {
		t.Errorf("phases %v, want %v", phases, want)
	}

	// The bucket holds a tenth of a second of the limit (13 requests) and
	// refills one every 7.5 ms; a refusal is a 429 with Retry-After.
	tu := newTestUpstream(t, s, 1)
	for id := uint64(1); id <= 13; id++ {
		if rec := tu.at(0).do(0, id); rec.Code != 200 {
			t.Fatalf("request %d within the bucket: %d", id, rec.Code)
		}
	}
	rec := tu.at(0).do(0, 14)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "1" || !strings.Contains(rec.Body.String(), "rate_limited") {
		t.Fatalf("past the bucket: %d Retry-After=%q %s", rec.Code, rec.Header().Get("Retry-After"), rec.Body.String())
	}
	if rec := tu.at(8*time.Millisecond).do(0, 15); rec.Code != 200 {
		t.Errorf("after one refill: %d", rec.Code)
	}
	if rec := tu.at(8*time.Millisecond).do(0, 16); rec.Code != 429 {
		t.Errorf("past the refill: %d", rec.Code)
	}

	// -long and -duration repeat the 4 s cycle to cover the window.
	for _, tt := range []struct {
		o    Options
		want time.Duration
	}{{Options{Long: true}, 40 * time.Second}, {Options{Measure: 10 * time.Second}, 12 * time.Second}, {Options{Measure: 4 * time.Second}, 4 * time.Second}} {
		for _, sc := range Scenarios(tt.o) {
			if sc.Name == BurstLoad && sc.Measure != tt.want {
				t.Errorf("%+v: burst window %v, want %v", tt.o, sc.Measure, tt.want)
			}
		}
	}
}

// rateHeaders returns the six x-ratelimit headers of rec, in the order
// limit, remaining, reset for requests then tokens.
func rateHeaders(t *testing.T, h interface{ Get(string) string }) [6]string {
	t.Helper()
	var out [6]string
	for i, k := range []string{"limit-requests", "remaining-requests", "reset-requests", "limit-tokens", "remaining-tokens", "reset-tokens"} {
		if out[i] = h.Get("x-ratelimit-" + k); out[i] == "" {
			t.Fatalf("no x-ratelimit-%s", k)
		}
	}
	return out
}

func TestQuotaToldOnEveryResponse(t *testing.T) {
	s := scenario(t, Quota) // 166 requests per 1 s window
	tu := newTestUpstream(t, s, 1)
	const q = 166
	at := 250 * time.Millisecond
	var prevTokens int
	for i := range q {
		rec := tu.at(at).do(0, uint64(i+1))
		h := rateHeaders(t, rec.Header())
		if rec.Code != 200 || h[0] != "166" || h[1] != strconv.Itoa(q-1-i) || h[2] != "750ms" || h[5] != "750ms" {
			t.Fatalf("request %d: %d %v", i+1, rec.Code, h)
		}
		tokens, _ := strconv.Atoi(h[4])
		if i > 0 && prevTokens-tokens != defaultMaxTokens { // {"model":"m"}: no prompt, default max_tokens
			t.Errorf("request %d charged %d tokens, want %d", i+1, prevTokens-tokens, defaultMaxTokens)
		}
		prevTokens = tokens
	}
	rec := tu.at(at).do(0, 1000)
	h := rateHeaders(t, rec.Header())
	if rec.Code != 429 || h[1] != "0" || h[2] != "750ms" || rec.Header().Get("Retry-After") != "1" || rec.Header().Get("retry-after-ms") != "750" ||
		!strings.Contains(rec.Body.String(), "requests per minute") {
		t.Fatalf("past the quota: %d %v Retry-After=%q retry-after-ms=%q %s", rec.Code, h, rec.Header().Get("Retry-After"), rec.Header().Get("retry-after-ms"), rec.Body.String())
	}
	if tokens, _ := strconv.Atoi(h[4]); tokens != prevTokens {
		t.Errorf("a refused request was charged: %d tokens left, want %d", tokens, prevTokens)
	}
	// A retry at the reset is in time (not early) and finds a fresh window.
	rec = tu.at(time.Second).do(0, 1000)
	if h := rateHeaders(t, rec.Header()); rec.Code != 200 || h[1] != "165" || h[2] != "1s" {
		t.Errorf("at the reset: %d %v", rec.Code, h)
	}
	if c := tu.Call(1000); c.Attempts != 2 || c.Early != 0 {
		t.Errorf("call stats %+v", c)
	}
	// Warm-up requests fall in the window before the measured one.
	if h := rateHeaders(t, tu.at(-100*time.Millisecond).do(0, 2000).Header()); h[2] != "100ms" || h[1] != "165" {
		t.Errorf("warm-up: %v", h)
	}
}

func TestTokensQuotaChargesEachBody(t *testing.T) {
	s := scenario(t, Tokens)
	tu := newTestUpstream(t, s, 1)
	budget := int(math.Round(quotaShare*DefaultRate*meanCharge()/1000) * 1000)
	if !strings.Contains(s.Title, strconv.Itoa(budget)+" tokens per 1s") {
		t.Errorf("title %q lacks the budget %d", s.Title, budget)
	}
	body := func(promptTokens, maxTokens int) string {
		return fmt.Sprintf(`{"model":"m-tokens","messages":[{"role":"user","content":%q}],"max_tokens":%d}`, strings.Repeat("abcd", promptTokens), maxTokens)
	}
	// Requests of 1000 + 1000 tokens until the budget is spent.
	n := budget / 2000
	for i := range n {
		rec := tu.doBody(0, uint64(i+1), body(1000, 1000))
		h := rateHeaders(t, rec.Header())
		if rec.Code != 200 || h[3] != strconv.Itoa(budget) || h[4] != strconv.Itoa(budget-2000*(i+1)) || h[2] != "1s" {
			t.Fatalf("request %d: %d %v", i+1, rec.Code, h)
		}
		if h[1] != strconv.Itoa(generous(DefaultRate)-1-i) {
			t.Fatalf("request %d: remaining requests %s", i+1, h[1])
		}
	}
	left := budget - 2000*n
	rec := tu.doBody(0, 500, body(left, 1)) // one token too many
	if rec.Code != 429 || !strings.Contains(rec.Body.String(), "tokens per minute") || rec.Header().Get("retry-after-ms") != "1000" {
		t.Fatalf("over the token budget: %d %s", rec.Code, rec.Body.String())
	}
	if rec := tu.doBody(0, 501, body(left-64, 64)); rec.Code != 200 || rec.Header().Get("x-ratelimit-remaining-tokens") != "0" {
		t.Errorf("exactly the budget left: %d remaining %q", rec.Code, rec.Header().Get("x-ratelimit-remaining-tokens"))
	}
}

func TestCharge(t *testing.T) {
	tests := []struct {
		body string
		want int
	}{
		{`{"messages":[{"role":"user","content":"Say hi."}]}`, 2 + defaultMaxTokens},
		{`{"messages":[{"content":"hello"},{"content":"12345678"}],"max_tokens":64}`, 2 + 2 + 64},
		{`{"messages":[],"max_tokens":1024}`, 1024},
		{`not json`, defaultMaxTokens},
	}
	for _, tt := range tests {
		if got := Charge([]byte(tt.body)); got != tt.want {
			t.Errorf("Charge(%s) = %d, want %d", tt.body, got, tt.want)
		}
	}
	// The sizes the load draws average meanCharge, and a body of a prompt
	// of 4p characters is charged p + max_tokens.
	s := scenario(t, Tokens)
	r := rand.New(rand.NewPCG(1, 2))
	var sum float64
	const n = 50000
	for i := range n {
		p, m := s.Sizes(r)
		if p < 1 || m < 64 || m > 1024 {
			t.Fatalf("sizes %d %d", p, m)
		}
		if i < 100 {
			if got := Charge([]byte(fmt.Sprintf(`{"messages":[{"content":%q}],"max_tokens":%d}`, strings.Repeat("word", p), m))); got != p+m {
				t.Fatalf("prompt %d, max_tokens %d: charged %d", p, m, got)
			}
		}
		sum += float64(p + m)
	}
	// The charge's sd is about 520 tokens, its mean's 2.3 (0.3%).
	within(t, "mean charge", sum/n/meanCharge(), 1, 0.015)
}

func TestSlowLimitedAnswersTakeASecond(t *testing.T) {
	s := scenario(t, SlowLimited) // 120 tokens/s, 20 saved
	b := s.newBehavior()
	r := rand.New(rand.NewPCG(1, 2))
	var answers []time.Duration
	for i := range 1000 { // at the bucket's rate: every one accepted
		o := b.Decide(Request{T: time.Duration(i) * time.Second / 120, Rand: r})
		if o.Fault != nil {
			t.Fatalf("request %d at the bucket's rate refused", i)
		}
		answers = append(answers, o.Latency)
	}
	slices.Sort(answers)
	if med, p84 := answers[500], answers[841]; med < 900*time.Millisecond || med > 1100*time.Millisecond ||
		p84 < 1500*time.Millisecond || p84 > 1800*time.Millisecond {
		t.Errorf("answers' median %v and p84 %v, want about 1 s and 1.65 s (a lognormal second, sigma 0.5)", med, p84)
	}
	// Past the bucket, at once: 429s, which come fast.
	refused := 0
	for range 100 {
		if o := b.Decide(Request{T: 10 * time.Second, Rand: r}); o.Fault != nil {
			refused++
			if o.Latency > 20*time.Millisecond || o.Fault.Status != 429 {
				t.Fatalf("a refusal: status %d after %v, want a 429 at once", o.Fault.Status, o.Latency)
			}
		}
	}
	if refused < 70 {
		t.Errorf("%d of 100 requests at one instant refused, want all past the bucket's 20", refused)
	}
}
