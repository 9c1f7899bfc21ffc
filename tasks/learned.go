package tasks

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// ClassDuration is what the worker has learned of one class of jobs (ClassOf) from
// the service: for plans and status.
type ClassDuration struct {
	Class  string
	Jobs   int           // recent finished jobs it rests on (at most batch.TimingWindow)
	Median time.Duration // createdAt → completedAt
	P90    time.Duration
}

// LearnedDurations reads what is known of every class, by class name.
func LearnedDurations(ctx context.Context, store *batch.Store) ([]ClassDuration, error) {
	classes, err := store.TimingClasses(ctx)
	if err != nil {
		return nil, err
	}
	slices.Sort(classes)
	out := make([]ClassDuration, 0, len(classes))
	for _, c := range classes {
		ts, err := store.JobTimings(ctx, c)
		if err != nil {
			return nil, err
		}
		e := NewEstimate(ts)
		if e.N() == 0 {
			continue
		}
		out = append(out, ClassDuration{Class: c, Jobs: e.N(), Median: e.Median(), P90: quantile(e.total, 0.9)})
	}
	return out, nil
}

// remainingClassSample bounds how many unfinished items LearnedRemaining reads to find
// which classes of work a batch still has: enough for a mixed batch, cheap for a
// million items.
const remainingClassSample = 2000

var errSampled = errors.New("sampled enough")

// LearnedRemaining is how long the rest of a batch should take by the durations the
// workers learned (LearnedDurations): its remaining calls at rate (req/s) plus the
// longest 90th percentile of the classes it still has. ok is false when one of those
// classes is not learned yet, or nothing is left.
func LearnedRemaining(ctx context.Context, store *batch.Store, b batch.BatchRecord, rate float64, learned []ClassDuration) (time.Duration, bool, error) {
	left := b.Total - b.Finished()
	if left <= 0 || rate <= 0 || len(learned) == 0 {
		return 0, false, nil
	}
	p90 := map[string]time.Duration{}
	for _, l := range learned {
		p90[l.Class] = l.P90
	}
	longest, known, n := time.Duration(0), true, 0
	var unfinished []batch.State
	for _, st := range batch.States() {
		if !st.Final() {
			unfinished = append(unfinished, st)
		}
	}
	err := store.Items(ctx, b.Name, unfinished, func(rec batch.ItemRecord) error {
		d, ok := p90[ClassOf(rec.Kind, rec.Spec)]
		longest, known = max(longest, d), known && ok
		if n++; n >= remainingClassSample {
			return errSampled
		}
		return nil
	})
	if err != nil && !errors.Is(err, errSampled) {
		return 0, false, fmt.Errorf("batch %s: remaining time: %w", b.Name, err)
	}
	if !known || n == 0 {
		return 0, false, nil
	}
	calls := float64(left) * (1 + PollsPerItem)
	return time.Duration(calls/rate*float64(time.Second)) + longest, true, nil
}
