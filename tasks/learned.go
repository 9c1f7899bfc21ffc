package tasks

import (
	"context"
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
