package main

import (
	"context"
	"fmt"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/localstack"
	"github.com/singbatch/singbatch/tasks"
)

// enqueueRun reads the run's manifests into its batch, all or nothing (--strict): a run
// is meant to be started again after fixing a manifest, not to carry on half of it.
func enqueueRun(ctx context.Context, e env, a *app, st *localstack.Stack, name string) error {
	q, err := a.queue()
	if err != nil {
		return err
	}
	res, err := tasks.Enqueue(ctx, st.Store(), q, tasks.EnqueueOptions{
		Batch:     name,
		Manifests: st.Manifests(),
		Strict:    true,
		TempDir:   st.Root(),
		OnLineError: func(le *batch.LineError) {
			shown := *le
			shown.File = st.ShownAs(le.File)
			fmt.Fprintln(e.stderr, shown.Error())
		},
		OnRefused: func(rf batch.Refused) { fmt.Fprintln(e.stderr, rf.String()) },
	})
	fmt.Fprintf(e.stdout, "%s\n", enqueueSummary(name, res))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := rejectedError(name, res.Rejected, res.Refused); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if res.Added+res.Existing == 0 {
		return fmt.Errorf("run: batch %s: the manifests hold no items", name)
	}
	return nil
}
