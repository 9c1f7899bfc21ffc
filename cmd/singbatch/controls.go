package main

import (
	"context"
	"fmt"

	"github.com/singbatch/singbatch/tasks"
)

// pauseCommand stops new submissions of a batch; resumeCommand lets them go on;
// cancelCommand ends the items not sent yet.
func pauseCommand() command {
	return command{name: "pause", summary: "stop sending a batch's items (jobs already sent are still followed)", run: runPause}
}

func resumeCommand() command {
	return command{name: "resume", summary: "send a paused batch's items again", run: runResume}
}

func cancelCommand() command {
	return command{name: "cancel", summary: "end a batch: items not sent yet become canceled (jobs already sent are followed)", run: runCancel}
}

func runPause(ctx context.Context, e env, args []string) error {
	name, a, err := batchCommand(e, "pause", args, "Every worker stops sending the batch's items within a second: an item about to be\n"+
		"sent is parked instead. Jobs already at the service are still polled and recorded.\n"+
		"Safe to repeat; `singbatch resume` undoes it.")
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	store, err := a.store()
	if err != nil {
		return err
	}
	if err := store.Pause(ctx, name); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s paused: no new job is sent; jobs already sent are followed to their end\n", name)
	return nil
}

func runResume(ctx context.Context, e env, args []string) error {
	name, a, err := batchCommand(e, "resume", args, "Lifts the pause and queues every item parked meanwhile again. Safe to repeat.")
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	c, err := a.controls()
	if err != nil {
		return err
	}
	n, err := c.Resume(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s resumed: %s queued again\n", name, plural(n, "parked item"))
	return nil
}

func runCancel(ctx context.Context, e env, args []string) error {
	name, a, err := batchCommand(e, "cancel", args, "Every item of the batch that no job was sent for becomes canceled, a final state, and\n"+
		"no worker sends anything more for it. The service cannot cancel a job: those already\n"+
		"sent are followed to their end and recorded. Safe to repeat; `singbatch retry --batch\n"+
		"NAME --state canceled` takes the canceled items back.")
	if err != nil {
		return err
	}
	defer func() { _ = a.Close() }()
	c, err := a.controls()
	if err != nil {
		return err
	}
	n, err := c.Cancel(ctx, name)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "batch %s canceled: %s canceled; jobs already sent are followed to their end\n", name, plural(n, "item"))
	return nil
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
