package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// Charts are SVG drawn on the server, in the page itself: the page's
// Content-Security-Policy forbids scripts, and a chart needs none. The template draws
// what a chart says (bars, a line, a limit), every number computed here.

// Chart geometry, in SVG user units (the SVG scales to the page's width).
const (
	chartWidth   = 600
	chartHeight  = 160
	chartLeft    = 44 // room for the y labels
	chartBottom  = 20 // room for the x labels
	chartTop     = 8
	chartMaxBars = 60
	// chartMinSpan is the least time a chart spans, ending now: a young batch's first
	// minutes are drawn against a few minutes, not stretched over the whole width.
	chartMinSpan = 5 * time.Minute
)

// chart is one chart as the template draws it.
type chart struct {
	ID, Title, Unit string
	Width, Height   int
	Left, PlotRight int
	Top, Baseline   int
	Bars            []chartBar
	Line            string // polyline points; "" when none
	// Limit is a horizontal line at LimitY labelled LimitLabel; LimitY < 0: none.
	LimitY     float64
	LimitLabel string
	YMax       string // label of the top of the scale
	From, To   string // labels of the x axis
	Empty      bool
}

// chartBar is one bar, with its tooltip.
type chartBar struct {
	X, Y, W, H float64
	Title      string
}

// chartBucket is one bar's span of the series.
type chartBucket struct {
	start    time.Time
	span     time.Duration
	finished int64
	calls    int64
}

// mergeSeries groups a series into at most chartMaxBars buckets of equal width.
func mergeSeries(ps []batch.SeriesPoint) []chartBucket {
	if len(ps) == 0 {
		return nil
	}
	per := (len(ps) + chartMaxBars - 1) / chartMaxBars
	var out []chartBucket
	for i := 0; i < len(ps); i += per {
		b := chartBucket{start: ps[i].Start, span: time.Duration(per) * batch.SeriesStep}
		for _, p := range ps[i:min(i+per, len(ps))] {
			b.finished += p.Finished
			b.calls += p.Calls
		}
		out = append(out, b)
	}
	return out
}

// newChart lays out values (one per bucket) with an optional limit (< 0: none).
func newChart(id, title, unit string, bs []chartBucket, values []float64, limit float64, bars bool) chart {
	c := chart{ID: id, Title: title, Unit: unit, Width: chartWidth, Height: chartHeight,
		Left: chartLeft, PlotRight: chartWidth - 4, Top: chartTop, Baseline: chartHeight - chartBottom, LimitY: -1}
	if len(bs) == 0 {
		c.Empty = true
		return c
	}
	top := limit
	for _, v := range values {
		top = max(top, v)
	}
	top = niceCeil(top)
	plotW := float64(c.PlotRight - c.Left)
	plotH := float64(c.Baseline - c.Top)
	y := func(v float64) float64 { return float64(c.Baseline) - v/top*plotH }
	step := plotW / float64(len(bs))
	var line []string
	for i, v := range values {
		x := float64(c.Left) + float64(i)*step
		tip := fmt.Sprintf("%s–%s: %s %s", bs[i].start.UTC().Format("15:04:05"),
			bs[i].start.Add(bs[i].span).UTC().Format("15:04:05"), formatNumber(v), unit)
		if bars {
			c.Bars = append(c.Bars, chartBar{X: round1(x + step*0.1), Y: round1(y(v)), W: round1(step * 0.8),
				H: round1(float64(c.Baseline) - y(v)), Title: tip})
			continue
		}
		line = append(line, fmt.Sprintf("%.1f,%.1f", x+step/2, y(v)))
		c.Bars = append(c.Bars, chartBar{X: round1(x), Y: float64(c.Top), W: round1(step), H: plotH, Title: tip})
	}
	c.Line = strings.Join(line, " ")
	if limit > 0 {
		c.LimitY, c.LimitLabel = round1(y(limit)), "limit "+formatNumber(limit)+" "+unit
	}
	c.YMax = formatNumber(top)
	c.From = bs[0].start.UTC().Format("15:04")
	c.To = bs[len(bs)-1].start.Add(bs[len(bs)-1].span).UTC().Format("15:04")
	return c
}

// niceCeil rounds a scale's top up to 1, 2 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func round1(v float64) float64 { return math.Round(v*10) / 10 }

// formatNumber writes a count or a rate briefly: 12, 2.5, 0.25.
func formatNumber(v float64) string {
	switch {
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// padSeries extends a series with empty buckets up to now's, and back to span
// chartMinSpan at least.
func padSeries(ps []batch.SeriesPoint, now time.Time) []batch.SeriesPoint {
	if len(ps) == 0 {
		return nil
	}
	bucket := func(b int64) batch.SeriesPoint {
		return batch.SeriesPoint{Start: time.Unix(b*int64(batch.SeriesStep/time.Second), 0)}
	}
	first, last := batch.SeriesBucket(ps[0].Start), batch.SeriesBucket(ps[len(ps)-1].Start)
	end := max(last, batch.SeriesBucket(now))
	start := min(first, end-int64(chartMinSpan/batch.SeriesStep)+1)
	out := make([]batch.SeriesPoint, 0, end-start+1)
	for b := start; b < first; b++ {
		out = append(out, bucket(b))
	}
	out = append(out, ps...)
	for b := last + 1; b <= end; b++ {
		out = append(out, bucket(b))
	}
	return out
}

// batchCharts are a batch page's charts up to now: items finished per bucket, and
// upstream requests per second against the account's limit (0: unknown).
func batchCharts(ps []batch.SeriesPoint, now time.Time, limit float64) []chart {
	bs := mergeSeries(padSeries(ps, now))
	finished := make([]float64, len(bs))
	perSecond := make([]float64, len(bs))
	for i, b := range bs {
		finished[i] = float64(b.finished)
		perSecond[i] = float64(b.calls) / b.span.Seconds()
	}
	unit := "items"
	if len(bs) > 0 {
		unit = "items per " + bs[0].span.String()
	}
	return []chart{
		newChart("chart-finished", "Items finished over time", unit, bs, finished, -1, true),
		newChart("chart-requests", "Upstream requests per second, against the account's limit", "req/s", bs, perSecond, limit, false),
	}
}
