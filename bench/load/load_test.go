package load

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestSchedulePoissonRate(t *testing.T) {
	const rate, span = 200.0, 1000 * time.Second // virtual time: nothing waits
	calls := Schedule(rand.New(rand.NewPCG(1, 2)), rate, 0, span, 3)
	n := float64(len(calls))
	// The count is Poisson with mean 200 000 (sd 447); allow five sd.
	if want := rate * span.Seconds(); math.Abs(n-want) > 5*math.Sqrt(want) {
		t.Errorf("%v calls over %v at %v/s, want about %v", n, span, rate, want)
	}
	var sum, sumSq float64
	perModel := make([]int, 3)
	for i, c := range calls {
		if c.ID != uint64(i+1) {
			t.Fatalf("call %d has id %d", i, c.ID)
		}
		if c.At < 0 || c.At >= span {
			t.Fatalf("call %d at %v outside [0, %v)", i, c.At, span)
		}
		gap := c.At.Seconds()
		if i > 0 {
			gap -= calls[i-1].At.Seconds()
		}
		if gap < 0 {
			t.Fatalf("call %d is before call %d", i, i-1)
		}
		sum += gap
		sumSq += gap * gap
		perModel[c.Model]++
	}
	mean := sum / n
	cv := math.Sqrt(sumSq/n-mean*mean) / mean
	if math.Abs(cv-1) > 0.02 {
		t.Errorf("inter-arrival coefficient of variation %.3f, want 1 (exponential gaps)", cv)
	}
	for m, k := range perModel {
		if math.Abs(float64(k)/n-1.0/3) > 0.01 {
			t.Errorf("model %d got %d of %v calls", m, k, n)
		}
	}
}

func TestScheduleBurstsAndSeed(t *testing.T) {
	a := Schedule(rand.New(rand.NewPCG(9, 9)), 100, -time.Second, 2*time.Second, 1, Burst{At: time.Second, N: 50})
	b := Schedule(rand.New(rand.NewPCG(9, 9)), 100, -time.Second, 2*time.Second, 1, Burst{At: time.Second, N: 50})
	if len(a) != len(b) {
		t.Fatalf("same seed, %d and %d calls", len(a), len(b))
	}
	burst := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, call %d differs: %+v %+v", i, a[i], b[i])
		}
		if a[i].At == time.Second {
			burst++
		}
	}
	if burst != 50 {
		t.Errorf("%d calls at the burst instant, want 50", burst)
	}
	if a[0].At >= 0 {
		t.Errorf("first call at %v, want warm-up calls before 0", a[0].At)
	}
}

// records returns one successful record per latency, all intended in
// [0, measure), sent on time.
func records(measure time.Duration, lat []time.Duration) []Record {
	recs := make([]Record, len(lat))
	for i, l := range lat {
		at := time.Duration(i) * measure / time.Duration(len(lat))
		recs[i] = Record{Call: Call{ID: uint64(i + 1), At: at}, Sent: at, Done: at + l}
	}
	return recs
}

func TestHistogramPlumbing(t *testing.T) {
	lat := make([]time.Duration, 1000)
	for i := range lat {
		lat[i] = time.Duration(i+1) * time.Millisecond // 1 ms … 1000 ms
	}
	recs := records(time.Second, lat)
	for i := range recs {
		if i%10 == 9 { // 10 ms, 20 ms, … fail
			recs[i].Fail = "HTTP 503"
		}
	}
	recs = append(recs, Record{Call: Call{At: -time.Millisecond}, Done: time.Hour}) // warm-up: discarded
	s := Summarize(recs, Spec{Measure: time.Second})
	if s.Calls != 1000 || s.Successes != 900 || s.Failures["HTTP 503"] != 100 {
		t.Fatalf("calls %d successes %d failures %v", s.Calls, s.Successes, s.Failures)
	}
	tests := []struct {
		q    float64
		want time.Duration
	}{{50, 500 * time.Millisecond}, {90, 900 * time.Millisecond}, {99, 990 * time.Millisecond}, {99.9, 999 * time.Millisecond}, {100, time.Second}}
	for _, tt := range tests {
		got := Quantile(s.All, tt.q)
		if d := got - tt.want; d < -tt.want/500 || d > tt.want/500 { // three significant digits
			t.Errorf("p%v of all = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := s.Success.TotalCount(); got != 900 {
		t.Errorf("success histogram holds %d values, want 900", got)
	}
	if got := Quantile(s.Success, 100); got < 999*time.Millisecond || got > 1001*time.Millisecond {
		t.Errorf("slowest success %v, want 999ms", got)
	}
	if s.SuccessRate() != 0.9 {
		t.Errorf("success rate %v", s.SuccessRate())
	}
	if len(s.Buckets) != 4 || s.Buckets[0].Calls != 250 || s.Buckets[3].Successes != 225 {
		t.Errorf("buckets %+v", s.Buckets)
	}
	if s.Invalid != "" || s.ScheduledRate != 1000 {
		t.Errorf("invalid %q, scheduled rate %v", s.Invalid, s.ScheduledRate)
	}
}

func TestGeneratorCheck(t *testing.T) {
	lat := make([]time.Duration, 100)
	tests := []struct {
		name    string
		lag     func(i int) time.Duration
		wantErr string
	}{
		{"on time", func(int) time.Duration { return time.Millisecond }, ""},
		{"lagging", func(i int) time.Duration { return time.Duration((i+1)%2) * 60 * time.Millisecond }, "p99 send lag"},
		{"saturated", func(i int) time.Duration { return time.Duration(i) * 10 * time.Millisecond }, "saturated"},
	}
	for _, tt := range tests {
		recs := records(time.Second, lat)
		for i := range recs {
			recs[i].Sent += tt.lag(i)
		}
		s := Summarize(recs, Spec{Measure: time.Second})
		if (s.Invalid == "") != (tt.wantErr == "") || !strings.Contains(s.Invalid, tt.wantErr) {
			t.Errorf("%s: Invalid = %q, want %q", tt.name, s.Invalid, tt.wantErr)
		}
	}
}

func TestRecovery(t *testing.T) {
	// 4 s at 100 calls/s, fault [1 s, 2 s); each case says which later
	// 250 ms buckets are bad.
	tests := []struct {
		name    string
		bad     func(at time.Duration) bool
		want    time.Duration
		wantRec bool
	}{
		{"at once", func(at time.Duration) bool { return at >= time.Second && at < 2*time.Second }, 0, true},
		{"one bucket late", func(at time.Duration) bool { return at >= time.Second && at < 2250*time.Millisecond }, 250 * time.Millisecond, true},
		{"one good bucket is not enough", func(at time.Duration) bool {
			return at >= time.Second && (at < 2250*time.Millisecond || at >= 2500*time.Millisecond && at < 3*time.Second)
		}, time.Second, true},
		{"never", func(at time.Duration) bool { return at >= time.Second }, 0, false},
		{"slow is bad", func(at time.Duration) bool { return false }, 0, true},
	}
	for _, tt := range tests {
		lat := make([]time.Duration, 400)
		for i := range lat {
			lat[i] = 10 * time.Millisecond
		}
		recs := records(4*time.Second, lat)
		for i := range recs {
			if tt.bad(recs[i].At) {
				recs[i].Fail = "HTTP 503"
			}
		}
		s := Summarize(recs, Spec{Measure: 4 * time.Second, FaultStart: time.Second, FaultEnd: 2 * time.Second})
		if !s.HasFault || s.Recovered != tt.wantRec || s.Recovery != tt.want {
			t.Errorf("%s: recovery %v recovered %v, want %v %v", tt.name, s.Recovery, s.Recovered, tt.want, tt.wantRec)
		}
	}
	// Successes that are far slower than before the fault are not recovery.
	lat := make([]time.Duration, 400)
	for i := range lat {
		lat[i] = 10 * time.Millisecond
		if i >= 200 && i < 300 {
			lat[i] = time.Second
		}
	}
	s := Summarize(records(4*time.Second, lat), Spec{Measure: 4 * time.Second, FaultStart: time.Second, FaultEnd: 2 * time.Second})
	if !s.Recovered || s.Recovery != time.Second {
		t.Errorf("slow successes: recovery %v recovered %v, want 1s", s.Recovery, s.Recovered)
	}
	if s := Summarize(records(time.Second, lat[:10]), Spec{Measure: time.Second}); s.HasFault {
		t.Error("HasFault without a fault window")
	}
}

func TestAmplification(t *testing.T) {
	calls := []Call{{At: -time.Millisecond}, {At: 0}, {At: 100 * time.Millisecond}, {At: 300 * time.Millisecond}}
	arrivals := []time.Duration{-time.Millisecond, 0, 10 * time.Millisecond, 20 * time.Millisecond, 260 * time.Millisecond, 300 * time.Millisecond, 600 * time.Millisecond, 900 * time.Millisecond}
	got := Amplification(arrivals, calls, 750*time.Millisecond, 250*time.Millisecond)
	want := []float64{1.5, 2, 1} // 3 requests / 2 calls; 2 / 1; 1 / no call
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("bucket %d: %v, want %v", i, got[i], want[i])
		}
	}
}

func TestFirstEventIsError(t *testing.T) {
	tests := []struct {
		body string
		want bool
	}{
		{"event: error\ndata: {\"error\":{\"code\":\"stream_error\"}}\n\n", true},
		{"data: {\"error\":{\"type\":\"overloaded_error\"}}\n\n", true},
		{"event:error\r\ndata: {}\r\n\r\n", true},
		{"data: {\"choices\":[]}\n\ndata: [DONE]\n\n", false},
		{"data: {\"choices\":[]}\n\nevent: error\ndata: {\"error\":{}}\n\n", false},
		{"data: [DONE]\n\n", false},
		{"", false},
		{": comment\ndata: {\"error\":\"boom\"}\n\n", true},
	}
	for _, tt := range tests {
		if got := FirstEventIsError([]byte(tt.body)); got != tt.want {
			t.Errorf("FirstEventIsError(%q) = %v, want %v", tt.body, got, tt.want)
		}
	}
}

func TestRunnerIsOpenLoop(t *testing.T) {
	release := make(chan struct{})
	secondSent := make(chan struct{})
	r := &Runner{Start: time.Now(), Timeout: time.Minute, Do: func(ctx context.Context, c Call) string {
		switch c.ID {
		case 1: // a slow call must not hold back the next one
			select {
			case <-release:
			case <-ctx.Done():
				return "deadline"
			}
		case 2:
			close(secondSent)
		}
		return ""
	}}
	calls := []Call{{ID: 1, At: 0}, {ID: 2, At: time.Millisecond}, {ID: 3, At: 2 * time.Millisecond}}
	done := make(chan []Record)
	go func() { done <- r.Run(context.Background(), calls) }()
	select {
	case <-secondSent:
	case <-time.After(10 * time.Second):
		t.Fatal("call 2 was not sent while call 1 was in flight")
	}
	select {
	case <-r.Dispatched():
	case <-time.After(10 * time.Second):
		t.Fatal("Dispatched not closed while call 1 was in flight")
	}
	close(release)
	recs := <-done
	for i, rec := range recs {
		if rec.ID != calls[i].ID || rec.Fail != "" || rec.Sent < rec.At || rec.Done < rec.Sent {
			t.Errorf("record %d: %+v", i, rec)
		}
	}
	if recs[0].Latency() < recs[1].Done-recs[0].At {
		t.Errorf("call 1 (released last) has latency %v, below call 2's completion %v", recs[0].Latency(), recs[1].Done)
	}
	if sent, n := r.Progress(); sent != 3 || n != 3 {
		t.Errorf("progress %d sent, %d done", sent, n)
	}
}

func TestRunnerDeadlineFromIntendedTime(t *testing.T) {
	r := &Runner{Start: time.Now(), Timeout: 30 * time.Millisecond, Do: func(ctx context.Context, c Call) string {
		<-ctx.Done()
		return "deadline"
	}}
	recs := r.Run(context.Background(), []Call{{ID: 1, At: 0}})
	if recs[0].Fail != "deadline" || recs[0].Latency() < 30*time.Millisecond {
		t.Errorf("%+v, want a deadline failure after at least 30ms", recs[0])
	}
}

func TestScheduleSegments(t *testing.T) {
	// 1000 s at 50/s then 1000 s at 150/s, virtual time.
	segs := []Segment{{From: 0, To: 1000 * time.Second, Rate: 50}, {From: 1000 * time.Second, To: 2000 * time.Second, Rate: 150}}
	calls := ScheduleSegments(rand.New(rand.NewPCG(3, 4)), segs, 1)
	var first, second float64
	for i, c := range calls {
		if c.ID != uint64(i+1) || i > 0 && c.At < calls[i-1].At {
			t.Fatalf("call %d: %+v out of order", i, c)
		}
		if c.At < 1000*time.Second {
			first++
		} else {
			second++
		}
	}
	// Poisson counts with means 50 000 and 150 000; allow five sd.
	if math.Abs(first-50000) > 5*math.Sqrt(50000) || math.Abs(second-150000) > 5*math.Sqrt(150000) {
		t.Errorf("%v and %v calls in the two segments, want about 50000 and 150000", first, second)
	}
	a := Schedule(rand.New(rand.NewPCG(5, 6)), 100, -time.Second, time.Second, 2, Burst{At: 0, N: 3})
	b := ScheduleSegments(rand.New(rand.NewPCG(5, 6)), []Segment{{From: -time.Second, To: time.Second, Rate: 100}}, 2, Burst{At: 0, N: 3})
	if len(a) != len(b) || len(a) == 0 {
		t.Fatalf("%d and %d calls", len(a), len(b))
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("call %d: Schedule %+v, one segment %+v", i, a[i], b[i])
		}
	}
	MarkTail(a, 500*time.Millisecond)
	for _, c := range a {
		if c.Tail != (c.At >= 500*time.Millisecond) {
			t.Fatalf("call at %v: tail %v", c.At, c.Tail)
		}
	}
}

func TestRunnerTailGoesOnUntilMeasuredCallsEnd(t *testing.T) {
	release := make(chan struct{})
	tailStarted := make(chan struct{})
	tailErr := make(chan error, 1)
	r := &Runner{Start: time.Now(), Timeout: time.Minute, Do: func(ctx context.Context, c Call) string {
		switch c.ID {
		case 1: // measured, held until the test has seen the tail under way
			<-release
		case 2: // tail: sent while call 1 is in flight, cancelled once it ends
			close(tailStarted)
			<-ctx.Done()
			tailErr <- ctx.Err()
			return "cancelled"
		case 3:
			t.Error("tail call 3 sent after every measured call had ended")
		}
		return ""
	}}
	calls := []Call{{ID: 1, At: 0}, {ID: 2, At: 2 * time.Millisecond, Tail: true}, {ID: 3, At: time.Hour, Tail: true}}
	done := make(chan []Record)
	go func() { done <- r.Run(context.Background(), calls) }()
	select {
	case <-tailStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("the tail call was not sent while the measured call was in flight")
	}
	select {
	case <-r.Dispatched():
		t.Fatal("Dispatched closed while a measured call was in flight")
	default:
	}
	close(release)
	var recs []Record
	select {
	case recs = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run waited for the tail after the measured call ended")
	}
	if err := <-tailErr; !errors.Is(err, context.Canceled) {
		t.Errorf("tail call context: %v, want context.Canceled", err)
	}
	if recs[0].Fail != "" || recs[1].Fail != "cancelled" || recs[2].Fail != NotSent {
		t.Errorf("records %+v", recs)
	}
	if sent, _ := r.Progress(); sent != 2 {
		t.Errorf("%d calls sent, want 2", sent)
	}
}

func TestRunnerTailEndsAtLastMeasuredDeadline(t *testing.T) {
	// The measured call ignores its context and runs past its deadline; the
	// tail stops at that deadline all the same.
	release := make(chan struct{})
	tailErr := make(chan error, 1)
	r := &Runner{Start: time.Now(), Timeout: 30 * time.Millisecond, Do: func(ctx context.Context, c Call) string {
		if c.Tail {
			<-ctx.Done()
			tailErr <- ctx.Err()
			return "cancelled"
		}
		<-release
		return ""
	}}
	calls := []Call{{ID: 1, At: 0}, {ID: 2, At: time.Millisecond, Tail: true}, {ID: 3, At: time.Hour, Tail: true}}
	done := make(chan []Record)
	go func() { done <- r.Run(context.Background(), calls) }()
	select {
	case <-r.Dispatched():
	case <-time.After(10 * time.Second):
		t.Fatal("the tail went on past the measured call's deadline")
	}
	// Call 2's own deadline (31 ms) is later than the stop (30 ms), yet it may
	// expire first on a busy machine: either error ends it.
	if err := <-tailErr; err == nil {
		t.Error("tail call still running after the tail stopped")
	}
	close(release)
	recs := <-done
	if recs[0].Fail != "" || recs[2].Fail != NotSent {
		t.Errorf("records %+v", recs)
	}
}

func TestSummarizeLeavesTailOut(t *testing.T) {
	recs := records(time.Second, make([]time.Duration, 100))
	// Ten tail calls sent 80 ms late, five not sent.
	for i := range 15 {
		at := time.Second + time.Duration(i)*time.Millisecond
		rec := Record{Call: Call{ID: uint64(101 + i), At: at, Tail: true}, Sent: at + 80*time.Millisecond, Done: at + time.Second, Fail: "HTTP 429"}
		if i >= 10 {
			rec.Sent, rec.Done, rec.Fail = at, at, NotSent
		}
		recs = append(recs, rec)
	}
	s := Summarize(recs, Spec{Measure: time.Second})
	if s.Calls != 100 || s.Successes != 100 || len(s.Failures) != 0 || s.TailSent != 10 {
		t.Errorf("calls %d successes %d failures %v tail sent %d", s.Calls, s.Successes, s.Failures, s.TailSent)
	}
	// 10 of 110 sent calls lag 80 ms: the p99 lag is a tail call's.
	if s.LagP99 != 80*time.Millisecond || !strings.Contains(s.Invalid, "p99 send lag") {
		t.Errorf("p99 lag %v, invalid %q: the tail's lag must count", s.LagP99, s.Invalid)
	}
	if s.ScheduledRate != 100 || s.AchievedRate != 100 {
		t.Errorf("rates %v %v, want the measured calls' 100/s", s.ScheduledRate, s.AchievedRate)
	}
}

func TestHTTPTargetBodies(t *testing.T) {
	if p := Prompt(0); p != DefaultPrompt {
		t.Errorf("Prompt(0) = %q", p)
	}
	for _, n := range []int{1, 15, 16, 300, 5000} {
		if p := Prompt(n); len(p) != 4*n {
			t.Errorf("Prompt(%d) has %d characters, want %d", n, len(p), 4*n)
		}
	}
	var got []chatRequest
	rt := roundTripFunc(func(req *http.Request) (*http.Response, error) {
		var body chatRequest
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			t.Error(err)
		}
		got = append(got, body)
		return &http.Response{StatusCode: 200, Body: io.NopCloser(strings.NewReader("{}")), Header: http.Header{}}, nil
	})
	tg := &HTTPTarget{Client: &http.Client{Transport: rt}, URLs: []string{"http://upstream.test"}, Models: []string{"m"}}
	for _, c := range []Call{{ID: 1}, {ID: 2, PromptTokens: 10, MaxTokens: 512}} {
		if fail := tg.Do(context.Background(), c); fail != "" {
			t.Fatal(fail)
		}
	}
	if len(got) != 2 || got[0].MaxTokens != 0 || got[0].Messages[0].Content != DefaultPrompt ||
		got[1].MaxTokens != 512 || len(got[1].Messages[0].Content) != 40 {
		t.Errorf("bodies %+v", got)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
