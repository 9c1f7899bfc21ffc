package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
)

// learn reads what the workers learned of job durations, and for each unfinished batch
// that has nothing finished yet (so no rate) the time its rest should take by them
// (tasks.LearnedRemaining). Best effort: an estimate is no reason to fail status.
func (s *statusView) learn(ctx context.Context, bs []batch.BatchRecord) {
	ls, err := tasks.LearnedDurations(ctx, s.store)
	if err != nil || len(ls) == 0 {
		return
	}
	s.learned = ls
	s.learnedETA = map[string]time.Duration{}
	for _, b := range bs {
		if b.Done() || b.Finished() > 0 {
			continue
		}
		if eta, ok, err := tasks.LearnedRemaining(ctx, s.store, b, s.rate, ls); ok && err == nil {
			s.learnedETA[b.Name] = eta
		}
	}
}

// writeLearned prints the learned durations under the batches.
func (s *statusView) writeLearned(b *strings.Builder) {
	if len(s.learned) == 0 {
		return
	}
	b.WriteString("job durations learned from the service:\n")
	for _, l := range s.learned {
		fmt.Fprintf(b, "  %s: ≈ %s (median of %d recent jobs; 90%% within %s)\n", l.Class,
			l.Median.Round(time.Second), l.Jobs, l.P90.Round(time.Second))
	}
}
