package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// statusPaceWindow is how far back status measures a batch's pace from its series.
const statusPaceWindow = 5 * time.Minute

// pace is a batch's recent activity.
type pace struct {
	itemsPerMinute    float64
	requestsPerSecond float64
}

// readPace reads each batch's series for its pace over the last statusPaceWindow.
// Best effort: a batch whose series cannot be read shows none.
func (s *statusView) readPace(ctx context.Context, bs []batch.BatchRecord) {
	s.pace = make(map[string]pace, len(bs))
	now := s.now()
	for _, b := range bs {
		series, err := s.store.Series(ctx, b.Name)
		if err != nil {
			continue
		}
		finished, calls := batch.Recent(series, now, statusPaceWindow)
		s.pace[b.Name] = pace{
			itemsPerMinute:    float64(finished) / statusPaceWindow.Minutes(),
			requestsPerSecond: float64(calls) / statusPaceWindow.Seconds(),
		}
	}
}

// writePace writes a batch's pace against the account's limit, when it had any.
func (s *statusView) writePace(b *strings.Builder, name string) {
	p, ok := s.pace[name]
	if !ok || (p.itemsPerMinute == 0 && p.requestsPerSecond == 0) {
		return
	}
	fmt.Fprintf(b, "  last %s: %.1f items/min, %.2f req/s of the account's %g (UPSTREAM_RATE)\n",
		"5 minutes", p.itemsPerMinute, p.requestsPerSecond, s.rate)
}
