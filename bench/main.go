// Command bench runs rebound and its peers side by side against a simulated
// AI-inference upstream and reports success, latency, amplification, early
// and fatal retries and recovery, as a markdown table and PNG charts.
//
// Run it from the repository root with
//
//	go -C bench run .
//
// With no flags it runs the twelve scenarios, time-compressed, for the five
// clients (60 runs, about five minutes on 2 cores) and writes results.md and
// the charts into bench/results; each scenario's rows start with its
// optimum, what a client that knew the fault in advance could reach. Flags
// choose the scenarios, clients, measured window, rate, seed, call deadline
// and output folder; -long runs the literature-faithful timings (a 40 s
// window, the overload cut for 10 s), about 45 minutes.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/rebound-http/rebound/bench/report"
	"github.com/rebound-http/rebound/bench/sim"
)

// config is the command line.
type config struct {
	scenarios []string
	clients   []string
	measure   time.Duration
	rate      float64
	seed      uint64
	timeout   time.Duration
	out       string
	long      bool
	replicas  int
	redis     string
	// statedBurst: see fleetOptions.
	statedBurst time.Duration
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c config
	scenarios := fs.String("scenarios", strings.Join(sim.Names(), ","), "comma-separated scenarios to run")
	clientList := fs.String("clients", strings.Join(defaultClients(), ","), "comma-separated clients to run (also: "+clientReboundFailFast+")")
	fs.DurationVar(&c.measure, "duration", 0, "measured window of each scenario (default 2.5s, 40s with -long; overload stretches it to fit its capacity cut and recovery)")
	fs.Float64Var(&c.rate, "rate", sim.DefaultRate, "offered load in calls per second (Poisson)")
	fs.Uint64Var(&c.seed, "seed", 1, "seed of every random choice (schedule and upstream faults)")
	fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "deadline of each call, from its intended send time")
	fs.StringVar(&c.out, "out", "results", "output folder for results.md and the charts")
	fs.IntVar(&c.replicas, "replicas", 1, "run each client as this many independent replicas, the calls dealt among them (the fleet of a provider key)")
	fs.StringVar(&c.redis, "redis", "", "address of a Redis server for the "+clientReboundFleet+" and "+clientReboundStatedFleet+" clients (their replicas share their gates there)")
	fs.DurationVar(&c.statedBurst, "stated-burst", 0, "the burst the "+clientReboundStated+" clients state beside the provider's limit, as a span of it (0: the library's default, a second's worth)")
	fs.BoolVar(&c.long, "long", false, "literature-faithful timings: 40s windows, the overload capacity cut lasts 10s")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: go -C bench run . [flags]\n\nScenarios: %s\nClients: %s\n\nFlags:\n",
			strings.Join(sim.Names(), ", "), strings.Join(clientNames(), ", "))
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	var errs []error
	var err error
	if c.scenarios, err = pick(*scenarios, sim.Names(), "scenario"); err != nil {
		errs = append(errs, err)
	}
	if c.clients, err = pick(*clientList, clientNames(), "client"); err != nil {
		errs = append(errs, err)
	}
	if c.rate <= 0 {
		errs = append(errs, fmt.Errorf("-rate %g must be positive", c.rate))
	}
	if c.replicas < 1 {
		errs = append(errs, fmt.Errorf("-replicas %d must be at least 1", c.replicas))
	}
	for _, cl := range clients() {
		if cl.newWithStore == nil || !slices.Contains(c.clients, cl.name) {
			continue
		}
		if c.redis == "" {
			errs = append(errs, fmt.Errorf("client %s needs -redis host:port", cl.name))
		} else if err := checkRedis(c.redis); err != nil {
			errs = append(errs, err)
			break
		}
	}
	if c.statedBurst < 0 {
		errs = append(errs, fmt.Errorf("-stated-burst %v must not be negative", c.statedBurst))
	}
	if c.timeout <= 0 {
		errs = append(errs, fmt.Errorf("-timeout %v must be positive", c.timeout))
	}
	if err := c.simOptions().Validate(); err != nil {
		errs = append(errs, err)
	}
	return c, errors.Join(errs...)
}

func (c config) simOptions() sim.Options {
	return sim.Options{Rate: c.rate, Measure: c.measure, Long: c.long}
}

// pick splits a comma-separated list and checks every name is known,
// keeping the order of known.
func pick(list string, known []string, what string) ([]string, error) {
	want := map[string]bool{}
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n == "" {
			continue
		}
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("unknown %s %q (known: %s)", what, n, strings.Join(known, ", "))
		}
		want[n] = true
	}
	if len(want) == 0 {
		return nil, fmt.Errorf("no %s selected", what)
	}
	var out []string
	for _, n := range known {
		if want[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// defaultClients names the clients a run without -clients compares.
func defaultClients() []string {
	var names []string
	for _, c := range clients() {
		if !c.optional {
			names = append(names, c.name)
		}
	}
	return names
}

func clientNames() []string {
	var names []string
	for _, c := range clients() {
		names = append(names, c.name)
	}
	return names
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	// net/http logs through the standard logger (the upstream's servers on
	// broken connections, http.Client when a RoundTripper returns a response
	// and an error together); keep that off the progress line and the table.
	log.SetOutput(io.Discard)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, cfg, selectScenarios(cfg), os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// selectScenarios returns the scenarios cfg selects.
func selectScenarios(cfg config) []sim.Scenario {
	var out []sim.Scenario
	for _, s := range sim.Scenarios(cfg.simOptions()) {
		if slices.Contains(cfg.scenarios, s.Name) {
			out = append(out, s)
		}
	}
	return out
}

// run runs every (scenario, client) pair in turn, for the clients cfg
// selects, and writes the report: the table on stdout, results.md and the
// charts in cfg.out.
func run(ctx context.Context, cfg config, scenarios []sim.Scenario, stdout, stderr io.Writer) error {
	began := time.Now()
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	var cls []client
	for _, c := range clients() {
		if slices.Contains(cfg.clients, c.name) {
			cls = append(cls, c)
		}
	}

	rep := report.Report{
		Command:     commandLine(),
		Environment: fmt.Sprintf("%s %s/%s, %d CPUs", runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.NumCPU()),
		Seed:        cfg.seed, Rate: cfg.rate, Timeout: cfg.timeout, Long: cfg.long,
	}
	for _, c := range cls {
		rep.Clients = append(rep.Clients, report.Client{Name: c.name, Config: c.config})
	}
	for _, s := range scenarios {
		rep.Warmup = s.Warmup
		o := s.Optimum(cfg.timeout)
		rep.Scenarios = append(rep.Scenarios, report.Scenario{Name: s.Name, Title: s.Title, Measure: s.Measure, FaultStart: s.Fault.Start, FaultEnd: s.Fault.End,
			Optimum: &report.Optimum{Success: o.Success, PerCall: o.PerCall, P50: o.P50, How: o.How}})
	}
	runs, err := runAll(ctx, scenarios, cls, cfg, newProgress(stderr, len(scenarios)*len(cls)))
	if err != nil {
		return err
	}
	rep.Runs = runs
	for i, r := range runs {
		s, c := scenarios[i/len(cls)], cls[i%len(cls)]
		if s.Name == sim.Flaky {
			n := c.attemptsWithin(cfg.timeout)
			success, perCall := s.Theory(n, c.retriesFatal)
			rep.Theory = append(rep.Theory, report.Theory{Client: c.name, Attempts: n, Success: success, PerCall: perCall,
				MeasuredSuccess: r.SuccessRate, MeasuredPerCall: r.AmpMean})
		}
	}

	charts, err := report.Charts(cfg.out, rep)
	if err != nil {
		return err
	}
	rep.Wall = time.Since(began)
	var md bytes.Buffer
	if err := report.Markdown(&md, rep, charts); err != nil {
		return err
	}
	path := filepath.Join(cfg.out, "results.md")
	if err := os.WriteFile(path, md.Bytes(), 0o644); err != nil {
		return err
	}
	if err := report.Table(stdout, rep); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "wrote %s and %d charts in %v\n", path, len(charts), rep.Wall.Round(time.Second))
	return nil
}

// commandLine returns the command as a user would type it from the
// repository root.
func commandLine() string {
	return strings.TrimSpace("go -C bench run . " + strings.Join(os.Args[1:], " "))
}
