// Package progress renders a batch's progress as `status --watch` and `run` show it: a
// line or a bar with the rate and ETA, and the rate measured over a sliding window.
package progress

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Progress is a batch's progress at one moment.
type Progress struct {
	Name     string
	Done     int64   // items in a final state
	Total    int64   // items in the batch
	Failed   int64   // of Done, how many failed
	Canceled int64   // of Done, how many were canceled
	Rate     float64 // items finished per second; 0 when unknown
	// Learned is the time left by the durations learned from the service, for a batch
	// with no rate yet (status learns it); 0 when unknown.
	Learned time.Duration
}

// Finished reports whether every item is final.
func (p Progress) Finished() bool { return p.Done >= p.Total }

// ETA is the time left at the current rate; ok is false when it cannot be told.
func (p Progress) ETA() (time.Duration, bool) {
	if p.Finished() {
		return 0, true
	}
	if !(p.Rate > 0) || math.IsInf(p.Rate, 0) {
		return p.Learned, p.Learned > 0
	}
	secs := float64(p.Total-p.Done) / p.Rate
	if secs > float64(math.MaxInt64/int64(time.Second)) {
		return 0, false
	}
	return time.Duration(secs * float64(time.Second)), true
}

// ETAFrom names what ETA rests on: "rate" or "learned".
func (p Progress) ETAFrom() string {
	if !(p.Rate > 0) && p.Learned > 0 && !p.Finished() {
		return "learned"
	}
	return "rate"
}

// Percent is Done/Total in per cent; an empty batch is complete.
func (p Progress) Percent() float64 {
	if p.Total <= 0 {
		return 100
	}
	return 100 * float64(p.Done) / float64(p.Total)
}

// Line renders p as one plain line, for logs and pipes:
//
//	spring-2025  11/16 done (68.8%)  1 failed  0.52/s  ETA 10s
func Line(p Progress) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s  %d/%d done (%.1f%%)", p.Name, p.Done, p.Total, p.Percent())
	p.tail(&b)
	return b.String()
}

// Bar renders p with a bar of width cells (at least 1), for a terminal line
// redrawn in place:
//
//	spring-2025 [#############-------]  11/16  68.8%  1 failed  0.52/s  ETA 10s
func Bar(p Progress, width int) string {
	width = max(width, 1)
	filled := int(math.Floor(p.Percent() / 100 * float64(width)))
	filled = min(max(filled, 0), width)
	var b strings.Builder
	fmt.Fprintf(&b, "%s [%s%s]  %d/%d  %5.1f%%", p.Name,
		strings.Repeat("#", filled), strings.Repeat("-", width-filled), p.Done, p.Total, p.Percent())
	p.tail(&b)
	return b.String()
}

// tail writes the failed count, rate and ETA shared by both renderings.
func (p Progress) tail(b *strings.Builder) {
	if p.Failed > 0 {
		fmt.Fprintf(b, "  %d failed", p.Failed)
	}
	if p.Canceled > 0 {
		fmt.Fprintf(b, "  %d canceled", p.Canceled)
	}
	if p.Finished() {
		b.WriteString("  finished")
		return
	}
	fmt.Fprintf(b, "  %s/s", FormatRate(p.Rate))
	if eta, ok := p.ETA(); ok {
		fmt.Fprintf(b, "  ETA %s", FormatETA(eta))
	} else {
		b.WriteString("  ETA unknown")
	}
}

// FormatRate prints a rate with 2 significant decimals below 10/s and none above.
func FormatRate(r float64) string {
	switch {
	case !(r > 0):
		return "0"
	case r < 10:
		return fmt.Sprintf("%.2f", r)
	default:
		return fmt.Sprintf("%.0f", r)
	}
}

// FormatETA rounds a duration to what matters: seconds under an hour, minutes above.
func FormatETA(d time.Duration) string {
	if d < time.Hour {
		return d.Round(time.Second).String()
	}
	return strings.TrimSuffix(d.Round(time.Minute).String(), "0s")
}

// Meter measures a finishing rate over a sliding window of observations.
type Meter struct {
	Window  time.Duration
	samples []sample
}

type sample struct {
	at   time.Time
	done int64
}

// Observe records done at a time and returns the rate over the window (items/s), or 0
// until two observations span some time.
func (m *Meter) Observe(at time.Time, done int64) float64 {
	m.samples = append(m.samples, sample{at, done})
	// Keep the newest sample at or before the window's start, so the window is full.
	drop := 0
	for drop+1 < len(m.samples) && at.Sub(m.samples[drop+1].at) >= m.Window {
		drop++
	}
	m.samples = m.samples[drop:]
	first := m.samples[0]
	span := at.Sub(first.at).Seconds()
	if span <= 0 {
		return 0
	}
	return max(float64(done-first.done), 0) / span
}

// Measured reports whether the meter has seen two observations, so that Observe's rate
// is a measure and not a placeholder.
func (m *Meter) Measured() bool { return len(m.samples) > 1 }
