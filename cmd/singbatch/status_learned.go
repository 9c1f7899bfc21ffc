package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
)

// statusClassSample bounds how many unfinished items status reads to find which classes
// of work a batch still has: enough for a mixed batch, cheap for a million items.
const statusClassSample = 2000

var errSampled = errors.New("sampled enough")

// learn reads what the workers learned of job durations, and for each unfinished batch
// that has nothing finished yet (so no rate) the time its rest should take by them: its
// remaining calls at UPSTREAM_RATE plus the longest 90th percentile of its classes. A
// batch with a class not learned yet gets none. Best effort: an estimate is no reason
// to fail status.
func (s *statusView) learn(ctx context.Context, bs []batch.BatchRecord) {
	ls, err := tasks.LearnedDurations(ctx, s.store)
	if err != nil || len(ls) == 0 {
		return
	}
	s.learned = ls
	p90 := map[string]time.Duration{}
	for _, l := range ls {
		p90[l.Class] = l.P90
	}
	s.learnedETA = map[string]time.Duration{}
	for _, b := range bs {
		done := b.Counts[batch.StateCompleted] + b.Counts[batch.StateFailed]
		if b.Done() || done > 0 || s.rate <= 0 {
			continue
		}
		longest, known := time.Duration(0), true
		n := 0
		err := s.store.Items(ctx, b.Name, unfinishedStates(), func(rec batch.ItemRecord) error {
			d, ok := p90[tasks.ClassOf(rec.Kind, rec.Spec)]
			longest, known = max(longest, d), known && ok
			if n++; n >= statusClassSample {
				return errSampled
			}
			return nil
		})
		if (err != nil && !errors.Is(err, errSampled)) || !known || n == 0 {
			continue
		}
		calls := float64(b.Total-done) * (1 + tasks.PollsPerItem)
		s.learnedETA[b.Name] = time.Duration(calls/s.rate*float64(time.Second)) + longest
	}
}

// unfinishedStates are the states of items still on their way.
func unfinishedStates() []batch.State {
	var out []batch.State
	for _, st := range batch.States() {
		if !st.Final() {
			out = append(out, st)
		}
	}
	return out
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
