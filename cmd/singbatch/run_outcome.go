package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/localstack"
)

// runFailedError is the outcome of a run in which some items failed: the summary has
// listed them, and the exit status is 1 so that scripts can tell.
type runFailedError struct {
	batch         string
	failed, total int64
}

func (e *runFailedError) Error() string {
	return fmt.Sprintf("run: batch %s: %d of %d items failed (listed above)", e.batch, e.failed, e.total)
}

// errRunInterrupted is returned when Ctrl-C or SIGTERM ended the run before every item
// was final.
var errRunInterrupted = errors.New("run: interrupted before every item was final")

// followRun shows the progress until every item is final or ctx ends (then, with
// --keep, until ctx ends), stops the worker, prints the summary, and tells the outcome:
// nil when every item completed.
func followRun(ctx context.Context, st *localstack.Stack, f runFlags) error {
	rec, done, err := st.Watch(ctx)
	if err != nil {
		return err
	}
	if done && f.keep {
		if err := st.Summarize(rec, true); err != nil {
			return err
		}
		st.PrintKeep()
		<-ctx.Done()
		return st.StopWorker()
	}
	if err := st.StopWorker(); err != nil {
		return err
	}
	if !done {
		// Counts may have moved while the worker stopped.
		if rec, err = st.ReadBatch(); err != nil {
			return err
		}
	}
	if err := st.Summarize(rec, done); err != nil {
		return err
	}
	switch {
	case !done:
		if f.sim {
			return errRunInterrupted
		}
		return fmt.Errorf("%w: run the same command again (same --dir and --batch) to resume", errRunInterrupted)
	case rec.Counts[batch.StateFailed] > 0:
		return &runFailedError{batch: f.batch, failed: rec.Counts[batch.StateFailed], total: rec.Total}
	}
	return nil
}
