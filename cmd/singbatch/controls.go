package main

import (
	"context"
	"fmt"

	"github.com/singbatch/singbatch/tasks"
)

// The operator's controls of a batch: each takes --batch NAME, acts through
// tasks.Controls, and says what it did.
func pauseCommand() command {
	return controlCommand("pause", "stop sending a batch's items (jobs already sent are still followed)",
		"Every worker stops sending the batch's items within a second: an item about to be\n"+
			"sent is parked instead. Jobs already at the service are still polled and recorded.\n"+
			"Safe to repeat; `singbatch resume` undoes it.",
		tasks.Controls.Pause, func(name string, _ int) string {
			return fmt.Sprintf("batch %s paused: no new job is sent; jobs already sent are followed to their end", name)
		})
}

func resumeCommand() command {
	return controlCommand("resume", "send a paused batch's items again",
		"Lifts the pause and queues every item parked meanwhile again. Safe to repeat.",
		tasks.Controls.Resume, func(name string, n int) string {
			return fmt.Sprintf("batch %s resumed: %s queued again", name, plural(n, "parked item"))
		})
}

func cancelCommand() command {
	return controlCommand("cancel", "end a batch: items not sent yet become canceled (jobs already sent are followed)",
		"Every item of the batch that no job was sent for becomes canceled, a final state, and\n"+
			"no worker sends anything more for it. The service cannot cancel a job: those already\n"+
			"sent are followed to their end and recorded. Safe to repeat; `singbatch retry --batch\n"+
			"NAME --state canceled` takes the canceled items back.",
		tasks.Controls.Cancel, func(name string, n int) string {
			return fmt.Sprintf("batch %s canceled: %s canceled; jobs already sent are followed to their end", name, plural(n, "item"))
		})
}

// controlCommand is a command that runs one control on the batch of --batch and prints
// done(name, the count the control returned).
func controlCommand(name, summary, help string, act func(tasks.Controls, context.Context, string) (int, error),
	done func(batch string, n int) string) command {
	return command{name: name, summary: summary, run: func(ctx context.Context, e env, args []string) error {
		batchName, a, err := batchCommand(e, name, args, help)
		if err != nil {
			return err
		}
		defer func() { _ = a.Close() }()
		c, err := a.controls()
		if err != nil {
			return err
		}
		n, err := act(c, ctx, batchName)
		if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, done(batchName, n))
		return nil
	}}
}

// batchCommand parses the flags of a command that takes only --batch, then opens the app.
func batchCommand(e env, name string, args []string, help string) (string, *app, error) {
	var batchName string
	fs := newFlagSet(e, name, "--batch NAME\n\n"+help)
	fs.StringVar(&batchName, "batch", "", "the batch `NAME` (required)")
	if err := parseFlags(fs, args); err != nil {
		return "", nil, err
	}
	if fs.NArg() > 0 {
		return "", nil, usageError{fmt.Sprintf("%s: unexpected argument %q", name, fs.Arg(0))}
	}
	if batchName == "" {
		return "", nil, usageError{name + ": --batch is required"}
	}
	return batchName, newApp(e), nil
}

// controls are the operator's controls on the app's Redis.
func (a *app) controls() (tasks.Controls, error) {
	store, err := a.store()
	if err != nil {
		return tasks.Controls{}, err
	}
	queue, err := a.queue()
	if err != nil {
		return tasks.Controls{}, err
	}
	log, err := a.logger()
	if err != nil {
		return tasks.Controls{}, err
	}
	return tasks.Controls{Store: store, Queue: queue, Log: log}, nil
}
