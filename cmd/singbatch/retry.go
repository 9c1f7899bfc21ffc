package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
)

// retryCommand starts a new attempt of chosen items.
func retryCommand() command {
	return command{name: "retry", summary: "start a new attempt of failed items and enqueue them", run: runRetry}
}

// idsFlag collects repeated --id values.
type idsFlag []string

func (f *idsFlag) String() string { return strings.Join(*f, ",") }

func (f *idsFlag) Set(v string) error {
	for id := range strings.SplitSeq(v, ",") {
		if id = strings.TrimSpace(id); id != "" {
			*f = append(*f, id)
		}
	}
	return nil
}

func runRetry(ctx context.Context, e env, args []string) error {
	var (
		batchName string
		state     string
		ids       idsFlag
	)
	fs := newFlagSet(e, "retry", "--batch NAME [--state failed] [--id ID ...]\n\n"+
		"Each chosen failed (or canceled, or completed) item goes back to pending in a new attempt (attempt+1, so\n"+
		"a new customId: the service sees a new job) and its submit task is enqueued; a running\n"+
		"worker picks it up. With a non-final --state (waiting, submitting, submitted, pending) the\n"+
		"items keep their attempt and only their submit task is enqueued again: for items whose task\n"+
		"was lost; nothing is sent twice.")
	fs.StringVar(&batchName, "batch", "", "the batch `NAME` (required)")
	fs.StringVar(&state, "state", string(batch.StateFailed), "the items in `STATE`: failed, canceled or completed (new attempt), or a non-final state (resume)")
	fs.Var(&ids, "id", "retry only item `ID` (repeatable, or comma-separated); default: every item in --state")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("retry: unexpected argument %q", fs.Arg(0))}
	}
	if batchName == "" {
		return usageError{"retry: --batch is required"}
	}
	from := batch.State(state)
	if !from.Valid() {
		return usageError{fmt.Sprintf("retry: --state must be one of %v, not %q", batch.States(), state)}
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	store, err := a.store()
	if err != nil {
		return err
	}
	queue, err := a.queue()
	if err != nil {
		return err
	}
	retry, what := tasks.RetryItems, "retried (new attempt enqueued)"
	if !from.Final() {
		retry, what = tasks.ResumeItems, "resumed (current attempt enqueued again)"
	}
	res, err := retry(ctx, store, queue, batchName, from, ids)
	for _, s := range res.Skipped {
		fmt.Fprintf(e.stderr, "singbatch: retry: item %s: skipped: %s\n", s.ID, s.Reason)
	}
	fmt.Fprintf(e.stdout, "batch %s: %s %s", batchName, plural(res.Retried, "item"), what)
	if len(res.Skipped) > 0 {
		fmt.Fprintf(e.stdout, ", %d skipped", len(res.Skipped))
	}
	fmt.Fprintln(e.stdout)
	return err
}
