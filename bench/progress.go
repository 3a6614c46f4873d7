package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/rebound-http/rebound/bench/load"
	"github.com/rebound-http/rebound/bench/report"
	"github.com/rebound-http/rebound/bench/sim"
)

// progress shows what runs on w: a line per finished run and, on a
// terminal, a live line for the latest run, rewritten four times a second.
// Its methods are safe for concurrent use.
type progress struct {
	w     io.Writer
	tty   bool
	total int
	began time.Time

	mu   sync.Mutex
	n    int
	live *runLine
	stop chan struct{}
	done chan struct{}
}

// runLine is the progress of one run.
type runLine struct {
	label  string
	window time.Duration
	runner *load.Runner
}

func newProgress(w io.Writer, total int) *progress {
	p := &progress{w: w, total: total, began: time.Now()}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if p.tty {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go p.loop()
	}
	return p
}

// start announces the run of c on s.
func (p *progress) start(s sim.Scenario, c client) *runLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n++
	p.live = &runLine{label: fmt.Sprintf("[%2d/%d] %-12s × %-13s", p.n, p.total, s.Name, c.name), window: s.Measure}
	return p.live
}

// attach gives l the runner whose counters the live line shows.
func (p *progress) attach(l *runLine, r *load.Runner) {
	p.mu.Lock()
	l.runner = r
	p.mu.Unlock()
}

// finish reports the end of l's run.
func (p *progress) finish(l *runLine, r report.Run, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	status := "ok"
	switch {
	case err != nil:
		status = "error: " + err.Error()
	case r.Invalid != "":
		status = "INVALID: " + r.Invalid
	}
	line := fmt.Sprintf("%s success %5.1f%%  req/call %.2f  tail %d calls  %s  (%v elapsed)", l.label, 100*r.SuccessRate, r.AmpMean, r.TailSent, status,
		time.Since(p.began).Round(time.Second))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s\n", line)
	} else {
		fmt.Fprintln(p.w, line)
	}
}

func (p *progress) loop() {
	defer close(p.done)
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		if l := p.live; l != nil && l.runner != nil {
			sent, done := l.runner.Progress()
			// t counts from the start of the measured window: negative in
			// the warm-up, past the window while the last calls finish.
			t := time.Since(l.runner.Start)
			fmt.Fprintf(p.w, "\r\033[K%s t=%5.1fs of %v  sent %d  done %d  in flight %d", l.label, t.Seconds(), l.window, sent, done, sent-done)
		}
		p.mu.Unlock()
	}
}

// close stops the live line.
func (p *progress) close() {
	if p.tty {
		close(p.stop)
		<-p.done
		fmt.Fprint(p.w, "\r\033[K")
	}
}
