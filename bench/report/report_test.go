package report

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// histogram returns a histogram of the given latencies in milliseconds.
func histogram(ms ...int64) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 300_000_000, 3)
	for _, v := range ms {
		_ = h.RecordValue(v * 1000)
	}
	return h
}

func sample() Report {
	lat := make([]int64, 1000)
	for i := range lat {
		lat[i] = int64(i + 1) // 1 … 1000 ms
	}
	return Report{
		Command: "go -C bench run .", Environment: "test", Seed: 1, Rate: 200, Warmup: 500 * time.Millisecond, Timeout: 5 * time.Second,
		Scenarios: []Scenario{{Name: "overload", Title: "cut", Measure: 2 * time.Second, FaultStart: 500 * time.Millisecond, FaultEnd: time.Second,
			Optimum: &Optimum{Success: 0.975, PerCall: 1, P50: 40 * time.Millisecond, How: "a pacer at the capacity"}}},
		Clients: []Client{{Name: "bare", Config: "no retry"}, {Name: "rebound", Config: "defaults"}},
		Runs: []Run{
			{Scenario: "overload", Client: "bare", Calls: 1000, SuccessRate: 0.5, Success: histogram(lat[:500]...), All: histogram(lat...),
				AmpMean: 1, AmpPeak: 1, AmpSeries: []float64{1, 1, 1, 1, 1, 1, 1, 1}, Bucket: 250 * time.Millisecond,
				HasFault: true, Recovered: true, Recovery: 250 * time.Millisecond, AchievedRate: 199.6,
				Failures: map[string]int{"HTTP 503": 300, "deadline": 200}},
			{Scenario: "overload", Client: "rebound", Calls: 1000, SuccessRate: 1, Success: histogram(lat...), All: histogram(lat...),
				AmpMean: 1.25, AmpPeak: 2.5, AmpSeries: []float64{1, 1, 2.5, 2, 1, 1, 1, 1}, Bucket: 250 * time.Millisecond,
				Throttled: 0.012, Early: 3, FatalRetried: 2, HasFault: true, Invalid: "generator lagging"},
		},
		Theory: []Theory{{Client: "bare", Attempts: 1, Success: 0.78, PerCall: 1, MeasuredSuccess: 0.771, MeasuredPerCall: 1}},
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := Table(&b, sample()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"| overload | *optimum* | 97.5% | 40 / – / – / – | – | 1.00 | – | – | 0 | 0 | – | – |\n| overload | bare | 50.0% | 250 / 450 / 495 / 500 | 500 / 900 / 990 / 999 | 1.00 | 1.00 | 0.0% | 0 | 0 | 0.25 s | ok, 200/s |",
		"- **overload**: a pacer at the capacity.",
		"| overload | rebound | 100.0% | 500 / 900 / 990 / 999 | 500 / 900 / 990 / 999 | 1.25 | 2.50 | 1.2% | 3 | 2 | not recovered | **INVALID**: generator lagging |",
		"| bare | 1 | 78.0% | 77.1% | 1.00 | 1.00 |",
		"| overload | bare | HTTP 503 ×300, deadline ×200 |",
		"| overload | rebound | – |",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestTableOptimumOncePerScenario(t *testing.T) {
	r := sample()
	r.Scenarios = append(r.Scenarios, Scenario{Name: "storm", Optimum: &Optimum{PerCall: 1, How: "nothing succeeds"}}, Scenario{Name: "slow-tail"})
	r.Runs = append(r.Runs, Run{Scenario: "storm", Client: "bare", Calls: 10, Success: histogram(), All: histogram(1)},
		Run{Scenario: "slow-tail", Client: "bare", Calls: 10, SuccessRate: 1, Success: histogram(1), All: histogram(1)})
	var b bytes.Buffer
	if err := Table(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if n := strings.Count(out, "| *optimum* |"); n != 2 {
		t.Errorf("%d optimum rows, want one for each scenario that has one (2):\n%s", n, out)
	}
	if !strings.Contains(out, "| storm | *optimum* | 0.0% | – | – | 1.00 |") || !strings.Contains(out, "- **storm**: nothing succeeds.") {
		t.Errorf("storm's optimum row or note missing:\n%s", out)
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{{1500 * time.Microsecond, "1.5"}, {9940 * time.Microsecond, "9.9"}, {10 * time.Millisecond, "10"}, {2500 * time.Millisecond, "2500"}}
	for _, tt := range tests {
		if got := ms(tt.d); got != tt.want {
			t.Errorf("ms(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := percentiles(histogram()); got != "–" {
		t.Errorf("empty histogram: %q", got)
	}
	if got := recovery(Run{}); got != "–" {
		t.Errorf("no fault: %q", got)
	}
}

func TestMarkdownAndCharts(t *testing.T) {
	dir := t.TempDir()
	r := sample()
	charts, err := Charts(dir, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"success.png", "latency-overload.png", "amplification-overload.png"}
	if strings.Join(charts, ",") != strings.Join(want, ",") {
		t.Fatalf("charts %v, want %v", charts, want)
	}
	for _, name := range charts {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() < 900 || b.Dy() < 400 {
			t.Errorf("%s is %v, too small to read", name, b)
		}
	}
	var b bytes.Buffer
	if err := Markdown(&b, r, charts); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{"# rebound bench results", "`go -C bench run .` — seed 1, 200 calls/s", "| overload | bare | 50.0% |",
		"- **overload** — cut. Fault window 500ms–1s of the 2s measured window.", "- **rebound** — defaults.",
		"![amplification-overload](amplification-overload.png)"} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q", want)
		}
	}
}

func TestChartsWithoutSuccesses(t *testing.T) {
	r := sample()
	r.Scenarios = []Scenario{{Name: "storm", Measure: 2 * time.Second}}
	r.Runs = []Run{{Scenario: "storm", Client: "bare", Calls: 10, Success: histogram(), All: histogram(1, 2, 3),
		AmpSeries: []float64{1, 1, 1, 1, 1, 1, 1, 1}, Bucket: 250 * time.Millisecond}}
	charts, err := Charts(t.TempDir(), r)
	if err != nil {
		t.Fatal(err)
	}
	if want := "success.png,latency-storm.png,amplification-storm.png"; strings.Join(charts, ",") != want {
		t.Errorf("charts %v, want %s", charts, want)
	}
}
