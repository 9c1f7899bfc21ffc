package main

import (
	"fmt"
	"image/color"
	"path/filepath"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plot files, in the plots folder.
const (
	plotRate   = "requests-per-second.svg"
	plotFinals = "items-final.svg"
	plotCalls  = "calls-per-job.svg"
)

// plot renders the modes section's plots (there are none without it).
func (r *report) plot(dir string) error {
	if r.modes == nil {
		return nil
	}
	all := append(append([]runResult{}, r.modes.runs...), r.modes.naive)
	for name, f := range map[string]func() (*plot.Plot, error){
		plotRate:   func() (*plot.Plot, error) { return r.ratePlot() },
		plotFinals: func() (*plot.Plot, error) { return finalsPlot(all) },
		plotCalls:  func() (*plot.Plot, error) { return callsPlot(all) },
	} {
		p, err := f()
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		if err := p.Save(16*vg.Centimeter, 9*vg.Centimeter, filepath.Join(dir, name)); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// ratePlot is requests/s over time, singbatch's default mode against the naive way,
// under the account's limit.
func (r *report) ratePlot() (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Requests per second at the service (%d processes)", r.p.modeProcs)
	p.X.Label.Text = "seconds since the workers started"
	p.Y.Label.Text = "requests in that second"
	grouped := r.modes.runs[1]
	series := func(perSec []int) plotter.XYs {
		xy := make(plotter.XYs, len(perSec))
		for i, n := range perSec {
			xy[i].X, xy[i].Y = float64(i), float64(n)
		}
		return xy
	}
	end := float64(max(len(grouped.perSecond), len(r.modes.naive.perSecond)))
	limit := plotter.XYs{{X: 0, Y: float64(r.p.rate)}, {X: end, Y: float64(r.p.rate)}}
	if err := plotutil.AddLines(p, "singbatch, "+grouped.label, series(grouped.perSecond),
		"the naive way", series(r.modes.naive.perSecond), "UPSTREAM_RATE", limit); err != nil {
		return nil, err
	}
	p.Legend.Top = true
	return p, nil
}

// finalsPlot is items final over time, per mode.
func finalsPlot(runs []runResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Items final over time"
	p.X.Label.Text = "seconds since the workers started"
	p.Y.Label.Text = "items final"
	var args []any
	for _, r := range runs {
		xy := make(plotter.XYs, len(r.finals))
		for i, f := range r.finals {
			xy[i].X, xy[i].Y = f.at.Seconds(), float64(f.n)
		}
		args = append(args, r.label, xy)
	}
	if err := plotutil.AddLines(p, args...); err != nil {
		return nil, err
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// callsPlot is upstream calls per finished job, per mode.
func callsPlot(runs []runResult) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = "Upstream calls per finished job"
	p.Y.Label.Text = "calls per job"
	vals := make(plotter.Values, len(runs))
	names := make([]string, len(runs))
	for i, r := range runs {
		vals[i], names[i] = r.callsPerJob(), r.label
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bars.Color = color.RGBA{R: 70, G: 110, B: 170, A: 255}
	p.Add(bars)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.35
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = -0.9, -0.6
	return p, nil
}
