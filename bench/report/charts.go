package report

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/HdrHistogram/hdrhistogram-go"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// AmplificationScenarios are the scenarios whose amplification over time
// gets a chart.
var AmplificationScenarios = []string{"overload", "synchronized", "storm"}

// Charts draws the PNG charts into dir and returns their file names:
// success.png, latency-<scenario>.png for each scenario and
// amplification-<scenario>.png for AmplificationScenarios.
func Charts(dir string, r Report) ([]string, error) {
	var names []string
	save := func(name string, w, h vg.Length, plots ...*plot.Plot) error {
		if err := savePNG(filepath.Join(dir, name), w, h, plots); err != nil {
			return fmt.Errorf("report: %s: %w", name, err)
		}
		names = append(names, name)
		return nil
	}
	if err := save("success.png", 11*vg.Inch, 4.5*vg.Inch, successChart(r)); err != nil {
		return names, err
	}
	for _, s := range r.Scenarios {
		ok, all := latencyCharts(r, s.Name)
		if err := save("latency-"+s.Name+".png", 12*vg.Inch, 4.5*vg.Inch, ok, all); err != nil {
			return names, err
		}
	}
	for _, s := range r.Scenarios {
		for _, name := range AmplificationScenarios {
			if s.Name == name {
				if err := save("amplification-"+s.Name+".png", 10*vg.Inch, 4.5*vg.Inch, amplificationChart(r, s)); err != nil {
					return names, err
				}
			}
		}
	}
	return names, nil
}

// savePNG draws plots side by side into a w×h PNG at path.
func savePNG(path string, w, h vg.Length, plots []*plot.Plot) error {
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(96))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Centimeter, PadTop: vg.Millimeter * 3,
		PadBottom: vg.Millimeter * 3, PadLeft: vg.Millimeter * 3, PadRight: vg.Millimeter * 3}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for i, p := range plots {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(14)
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Legend.Top = true
	p.Legend.Left = true
	p.Add(plotter.NewGrid())
	return p
}

// percentileTicks label the x axis of a latency-by-percentile chart, where
// x = log10(1/(1−q)).
var percentileTicks = plot.ConstantTicks{
	{Value: 0, Label: "0%"}, {Value: math.Log10(2), Label: "50%"}, {Value: 1, Label: "90%"},
	{Value: 2, Label: "99%"}, {Value: 3, Label: "99.9%"},
}

// latencyCharts returns the latency-by-percentile plots of one scenario,
// successes and all calls, one line per client.
func latencyCharts(r Report, scenario string) (ok, all *plot.Plot) {
	ok = newPlot(scenario+": latency of successful calls", "percentile", "latency (ms, log scale)")
	all = newPlot(scenario+": latency of all calls", "percentile", "latency (ms, log scale)")
	for _, p := range []*plot.Plot{ok, all} {
		p.X.Tick.Marker = percentileTicks
		p.X.Min, p.X.Max = 0, 3
		p.Y.Scale = plot.LogScale{}
		p.Y.Tick.Marker = plot.TickerFunc(logTicks125)
		p.Legend.Top, p.Legend.Left = false, false
	}
	var okLines, allLines []any
	for _, run := range r.Runs {
		if run.Scenario != scenario {
			continue
		}
		if xy := percentileCurve(run.Success); xy != nil {
			okLines = append(okLines, run.Client, xy)
		}
		if xy := percentileCurve(run.All); xy != nil {
			allLines = append(allLines, run.Client, xy)
		}
	}
	for _, c := range []struct {
		p     *plot.Plot
		lines []any
	}{{ok, okLines}, {all, allLines}} {
		if len(c.lines) == 0 { // no call to draw (none succeeded): a log axis needs a range
			c.p.Title.Text += " (none)"
			c.p.Y.Min, c.p.Y.Max = 1, 1000
			continue
		}
		_ = plotutil.AddLines(c.p, c.lines...)
	}
	return ok, all
}

// logTicks125 returns log-scale ticks labelled at 1, 2 and 5 times each
// power of ten, with minor ticks at the other integers.
func logTicks125(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for p := math.Floor(math.Log10(lo)); p <= math.Ceil(math.Log10(hi)); p++ {
		for i := 1; i < 10; i++ {
			v := float64(i) * math.Pow(10, p)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			t := plot.Tick{Value: v}
			if i == 1 || i == 2 || i == 5 {
				t.Label = strconv.FormatFloat(v, 'g', -1, 64)
			}
			ticks = append(ticks, t)
		}
	}
	return ticks
}

// percentileCurve samples h at x = log10(1/(1−q)) from q = 0 to 99.9%.
func percentileCurve(h *hdrhistogram.Histogram) plotter.XYs {
	if h == nil || h.TotalCount() == 0 {
		return nil
	}
	const steps = 120
	xy := make(plotter.XYs, steps+1)
	for i := range xy {
		x := 3 * float64(i) / steps
		q := 100 * (1 - math.Pow(10, -x))
		xy[i].X = x
		xy[i].Y = math.Max(float64(h.ValueAtQuantile(q))/1000, 0.01)
	}
	return xy
}

// amplificationChart plots upstream requests per call over time for one
// scenario, the fault window shaded.
func amplificationChart(r Report, s Scenario) *plot.Plot {
	p := newPlot(s.Name+": upstream requests per call over time", "time in the measured window (s)", "upstream requests per call (250 ms buckets)")
	top := 1.0
	var lines []any
	for _, run := range r.Runs {
		if run.Scenario != s.Name || len(run.AmpSeries) == 0 {
			continue
		}
		xy := make(plotter.XYs, len(run.AmpSeries))
		for i, v := range run.AmpSeries {
			xy[i].X = (float64(i) + 0.5) * run.Bucket.Seconds()
			xy[i].Y = v
			top = math.Max(top, v)
		}
		lines = append(lines, run.Client, xy)
	}
	if s.FaultEnd > s.FaultStart {
		a, b := s.FaultStart.Seconds(), s.FaultEnd.Seconds()
		if shade, err := plotter.NewPolygon(plotter.XYs{{X: a, Y: 0}, {X: b, Y: 0}, {X: b, Y: top * 1.05}, {X: a, Y: top * 1.05}}); err == nil {
			shade.Color = color.Gray{Y: 225}
			shade.LineStyle.Width = 0
			p.Add(shade)
			p.Legend.Add("fault window", shade)
		}
	}
	_ = plotutil.AddLinePoints(p, lines...)
	p.Y.Min = 0
	p.X.Min, p.X.Max = 0, s.Measure.Seconds()
	return p
}

// successChart is a grouped bar chart of the success rate of every client
// in every scenario.
func successChart(r Report) *plot.Plot {
	p := newPlot("success rate by scenario", "", "successful calls (%)")
	p.Legend.Top, p.Legend.Left = true, false // above the 100% line
	p.Y.Min, p.Y.Max = 0, 140
	p.Y.Tick.Marker = plot.ConstantTicks{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"},
		{Value: 75, Label: "75"}, {Value: 100, Label: "100"}}
	names := make([]string, len(r.Scenarios))
	for i, s := range r.Scenarios {
		names[i] = s.Name
	}
	p.NominalX(names...)
	width := vg.Points(60 / float64(max(len(r.Clients), 1)))
	for ci, c := range r.Clients {
		vals := make(plotter.Values, len(r.Scenarios))
		for si, s := range r.Scenarios {
			for _, run := range r.Runs {
				if run.Scenario == s.Name && run.Client == c.Name {
					vals[si] = 100 * run.SuccessRate
				}
			}
		}
		bars, err := plotter.NewBarChart(vals, width)
		if err != nil {
			continue
		}
		bars.Color = plotutil.Color(ci)
		bars.LineStyle.Width = 0
		bars.Offset = vg.Length(ci-len(r.Clients)/2) * width
		if len(r.Clients)%2 == 0 {
			bars.Offset += width / 2
		}
		p.Add(bars)
		p.Legend.Add(c.Name, bars)
	}
	return p
}
