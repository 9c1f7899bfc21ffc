package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/progress"
)

// watch follows the batches until every one is finished or ctx ends. On a terminal it
// redraws one bar per batch in place; otherwise it prints a line (or a JSON line) when
// a batch's counts change.
func (s *statusView) watch(ctx context.Context, tty bool) error {
	meters := map[string]*progress.Meter{}
	seen := map[string]string{} // batch -> counts last printed (plain and JSON output)
	drawn := 0                  // lines of bars on the terminal
	tick := time.NewTicker(s.flags.interval)
	defer tick.Stop()
	for round := 0; ; round++ {
		bs, err := s.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if round == 0 {
			s.learn(ctx, bs) // until a rate is measured
		}
		s.readPace(ctx, bs)
		if len(bs) == 0 {
			_, err := fmt.Fprintln(s.out, "no batches")
			return err
		}
		now := s.now()
		rates := make(map[string]float64, len(bs))
		finished := true
		for _, b := range bs {
			m := meters[b.Name]
			if m == nil {
				m = &progress.Meter{Window: statusRateWindow}
				meters[b.Name] = m
			}
			r := m.Observe(now, b.Finished())
			if m.Measured() { // until then, the average since creation
				rates[b.Name] = r
			}
			finished = finished && b.Done()
		}
		switch {
		case tty && !s.flags.json:
			drawn, err = s.drawBars(bs, rates, drawn)
		default:
			err = s.printChanges(bs, rates, seen, now)
		}
		if err != nil || finished {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// drawBars redraws the bars over the drawn lines of the previous round.
func (s *statusView) drawBars(bs []batch.BatchRecord, rates map[string]float64, drawn int) (int, error) {
	var b strings.Builder
	if drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", drawn) // cursor up to the first bar
	}
	for _, rec := range bs {
		b.WriteString("\r\x1b[K") // start of line, erase it
		b.WriteString(progress.Bar(s.progressOf(rec, rateOr(rates, rec.Name)), statusBarWidth))
		b.WriteString("\n")
	}
	_, err := io.WriteString(s.out, b.String())
	return len(bs), err
}

// printChanges prints, for each batch whose progress changed since the last round, a
// timestamped line (when its done or failed count moved), or its JSON (when any count
// moved).
func (s *statusView) printChanges(bs []batch.BatchRecord, rates map[string]float64, seen map[string]string, now time.Time) error {
	var b strings.Builder
	changed := false
	for _, rec := range bs {
		p := s.progressOf(rec, rateOr(rates, rec.Name))
		key := fmt.Sprint(p.Total, p.Done, p.Failed)
		if s.flags.json {
			key = fmt.Sprint(rec.Total, rec.Counts)
		}
		if seen[rec.Name] == key {
			continue
		}
		seen[rec.Name] = key
		changed = true
		if s.flags.json {
			line, err := json.Marshal(s.statusJSON(rec, p))
			if err != nil {
				return err
			}
			b.Write(line)
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "%s %s\n", now.UTC().Format(time.RFC3339), progress.Line(p))
	}
	if !changed {
		return nil
	}
	_, err := io.WriteString(s.out, b.String())
	return err
}

// rateOr is the measured rate of a batch, or -1 (the average since creation).
func rateOr(rates map[string]float64, name string) float64 {
	if r, ok := rates[name]; ok {
		return r
	}
	return -1
}
