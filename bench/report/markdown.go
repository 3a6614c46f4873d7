package report

import (
	"bufio"
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Percentiles are the latency percentiles the table shows.
var Percentiles = []float64{50, 90, 99, 99.9}

// Table writes the results table, the flaky theory and the failure kinds as
// markdown; it is what the bench prints on stdout.
func Table(w io.Writer, r Report) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "| scenario | client | success | successes p50 / p90 / p99 / p99.9 ms | all calls p50 / p90 / p99 / p99.9 ms | req/call | peak req/call | 429s | early retries | fatal retried | recovery | generator |")
	fmt.Fprintln(bw, "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	optima := map[string]*Optimum{}
	for _, s := range r.Scenarios {
		optima[s.Name] = s.Optimum
	}
	var optimumNotes []string
	for i, run := range r.Runs {
		if o := optima[run.Scenario]; o != nil && (i == 0 || r.Runs[i-1].Scenario != run.Scenario) {
			p50 := "–"
			if o.P50 > 0 {
				p50 = ms(o.P50) + " / – / – / –"
			}
			fmt.Fprintf(bw, "| %s | *optimum* | %.1f%% | %s | – | %.2f | – | – | 0 | 0 | – | – |\n", run.Scenario, 100*o.Success, p50, o.PerCall)
			optimumNotes = append(optimumNotes, fmt.Sprintf("- **%s**: %s.", run.Scenario, o.How))
		}
		fmt.Fprintf(bw, "| %s | %s | %.1f%% | %s | %s | %.2f | %.2f | %.1f%% | %d | %d | %s | %s |\n",
			run.Scenario, run.Client, 100*run.SuccessRate, percentiles(run.Success), percentiles(run.All),
			run.AmpMean, run.AmpPeak, 100*run.Throttled, run.Early, run.FatalRetried, recovery(run), generator(run))
	}
	if len(optimumNotes) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "The *optimum* rows are what a client that knew the fault in advance could reach (success, requests per call, median latency of successes where given), derived from the scenario's parameters:")
		fmt.Fprintln(bw)
		for _, n := range optimumNotes {
			fmt.Fprintln(bw, n)
		}
	}
	if len(r.Theory) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Flaky scenario against its closed form (p retryable, f fatal per attempt, N attempts within the deadline): a client that retries only retryable errors succeeds with (1−p−f)/(1−p)·(1−p^N) and sends (1−p^N)/(1−p) requests per call; one that retries every error, 1−(p+f)^N and (1−(p+f)^N)/(1−p−f). With f = 0 these are 1−p^N and (1−p^N)/(1−p).")
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| client | N | success theory | success measured | req/call theory | req/call measured |")
		fmt.Fprintln(bw, "|---|---:|---:|---:|---:|---:|")
		for _, t := range r.Theory {
			fmt.Fprintf(bw, "| %s | %d | %.1f%% | %.1f%% | %.2f | %.2f |\n", t.Client, t.Attempts,
				100*t.Success, 100*t.MeasuredSuccess, t.PerCall, t.MeasuredPerCall)
		}
	}
	var quotaRuns []Run
	for _, run := range r.Runs {
		if run.RequestLimit > 0 || run.TokenLimit > 0 {
			quotaRuns = append(quotaRuns, run)
		}
	}
	if len(quotaRuns) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "Against the provider's quota (upstream requests per second, and tokens per second accepted, in the measured window, beside the quota):")
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "| scenario | client | replicas | upstream req/s | quota req/s | tokens/s | quota tokens/s | 429s |")
		fmt.Fprintln(bw, "|---|---|---:|---:|---:|---:|---:|---:|")
		for _, run := range quotaRuns {
			fmt.Fprintf(bw, "| %s | %s | %d | %.1f | %s | %.0f | %s | %.1f%% |\n", run.Scenario, run.Client, max(run.Replicas, 1),
				run.UpstreamRate, quotaCell(run.UpstreamRate, run.RequestLimit, "%.1f"), run.TokenRate, quotaCell(run.TokenRate, run.TokenLimit, "%.0f"), 100*run.Throttled)
		}
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "Failed calls by kind:")
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "| scenario | client | failures |")
	fmt.Fprintln(bw, "|---|---|---|")
	for _, run := range r.Runs {
		fmt.Fprintf(bw, "| %s | %s | %s |\n", run.Scenario, run.Client, failures(run.Failures))
	}
	return bw.Flush()
}

// quotaCell shows a quota and how far rate is from it; "–" for none.
func quotaCell(rate, limit float64, format string) string {
	if limit <= 0 {
		return "–"
	}
	return fmt.Sprintf(format+" (%+.1f%%)", limit, 100*(rate/limit-1))
}

// Markdown writes the full results document: settings, the table, the
// scenarios, the clients and links to the charts.
func Markdown(w io.Writer, r Report, charts []string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "# rebound bench results")
	fmt.Fprintln(bw)
	fmt.Fprintf(bw, "`%s` — seed %d, %.0f calls/s (Poisson, open loop), %v warm-up discarded, call deadline %v, %s; %s; wall time %v.\n",
		r.Command, r.Seed, r.Rate, r.Warmup, r.Timeout, map[bool]string{false: "time-compressed scenarios", true: "long scenarios (-long)"}[r.Long],
		r.Environment, r.Wall.Round(time.Second))
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "Latency is measured from each call's intended send time, so a client that delays is charged for it (no coordinated omission). "+
		"req/call is upstream requests per measured call (the warm-up's and the unmeasured tail's calls left out); its peak is over 250 ms buckets. 429s is the share of those requests the upstream answered 429. Early retries are retries that reached the upstream before the "+
		"Retry-After / retry-after-ms hint of the previous answer expired; fatal retried are retries of a 400/401/402. Recovery is the time from the "+
		"end of the fault until two consecutive 250 ms buckets are back to 90% of the pre-fault success ratio and at most twice the pre-fault median latency.")
	fmt.Fprintln(bw)
	if err := Table(bw, r); err != nil {
		return err
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "## Scenarios")
	fmt.Fprintln(bw)
	for _, s := range r.Scenarios {
		fault := ""
		if s.FaultEnd > s.FaultStart {
			fault = fmt.Sprintf(" Fault window %v–%v of the %v measured window.", s.FaultStart, s.FaultEnd, s.Measure)
		}
		fmt.Fprintf(bw, "- **%s** — %s.%s\n", s.Name, s.Title, fault)
	}
	fmt.Fprintln(bw)
	fmt.Fprintln(bw, "## Clients")
	fmt.Fprintln(bw)
	for _, c := range r.Clients {
		fmt.Fprintf(bw, "- **%s** — %s.\n", c.Name, c.Config)
	}
	if len(charts) > 0 {
		fmt.Fprintln(bw)
		fmt.Fprintln(bw, "## Charts")
		fmt.Fprintln(bw)
		for _, c := range charts {
			fmt.Fprintf(bw, "![%s](%s)\n\n", strings.TrimSuffix(c, ".png"), c)
		}
	}
	return bw.Flush()
}

// percentiles formats the table's percentiles of h in milliseconds.
func percentiles(h *hdrhistogram.Histogram) string {
	if h == nil || h.TotalCount() == 0 {
		return "–"
	}
	parts := make([]string, len(Percentiles))
	for i, q := range Percentiles {
		parts[i] = ms(time.Duration(h.ValueAtQuantile(q)) * time.Microsecond)
	}
	return strings.Join(parts, " / ")
}

// ms formats d in milliseconds: one decimal below 10 ms, none above.
func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	if v < 10 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.0f", v)
}

func recovery(r Run) string {
	switch {
	case !r.HasFault:
		return "–"
	case !r.Recovered:
		return "not recovered"
	}
	return fmt.Sprintf("%.2f s", r.Recovery.Seconds())
}

func generator(r Run) string {
	if r.Invalid != "" {
		return "**INVALID**: " + r.Invalid
	}
	return fmt.Sprintf("ok, %.0f/s", r.AchievedRate)
}

// failures lists failure kinds, most frequent first.
func failures(m map[string]int) string {
	if len(m) == 0 {
		return "–"
	}
	kinds := make([]string, 0, len(m))
	for k := range m {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b string) int { return cmp.Or(m[b]-m[a], strings.Compare(a, b)) })
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s ×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}
