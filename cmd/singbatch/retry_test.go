package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
)

func TestRetryCommand(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	b.addSongs("r", "s1", "s2", "s3")
	ctx := b.t.Context()
	// The submit tasks ran long ago; s1 and s2 failed, s3 completed.
	for _, q := range []string{tasks.QueueSongs} {
		if _, err := b.inspector.DeleteAllPendingTasks(q); err != nil {
			t.Fatal(err)
		}
	}
	for id, st := range map[string]batch.State{"s1": batch.StateFailed, "s2": batch.StateFailed, "s3": batch.StateCompleted} {
		if ok, _, err := b.store.Transition(ctx, "r", id, 1, nil, st, batch.Update{Error: "boom"}); err != nil || !ok {
			t.Fatal(err)
		}
	}

	out := b.mustRun("", "retry", "--batch", "r", "--id", "s1")
	assertText(t, "retry --id s1", out, "batch r: 1 item retried (new attempt enqueued)\n")
	out, errOut, err := b.run(ctx, "", "retry", "--batch", "r", "--id", "s1,s3", "--id", "nope")
	if err != nil {
		t.Fatal(err)
	}
	assertText(t, "retry of items not failed", out, "batch r: 0 items retried (new attempt enqueued), 3 skipped\n")
	for _, want := range []string{"item s1: skipped: is pending, not failed", "item s3: skipped: is completed, not failed", "item nope: skipped: no such item"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	out = b.mustRun("", "retry", "--batch", "r")
	assertText(t, "retry --batch r", out, "batch r: 1 item retried (new attempt enqueued)\n")
	assertList(t, "items", b.items("r"), []string{"s1 pending 2 m.jsonl:s1", "s2 pending 2 m.jsonl:s2", "s3 completed 1 m.jsonl:s3"})
	assertList(t, "songs queue", b.queued(tasks.QueueSongs), []string{submitEntry("r", "s1", 2), submitEntry("r", "s2", 2)})

	// Resuming keeps the attempt and enqueues the task again, under a fresh id.
	out = b.mustRun("", "retry", "--batch", "r", "--state", "pending", "--id", "s2")
	assertText(t, "resume s2", out, "batch r: 1 item resumed (current attempt enqueued again)\n")
	assertList(t, "items after resume", b.items("r"), []string{"s1 pending 2 m.jsonl:s1", "s2 pending 2 m.jsonl:s2", "s3 completed 1 m.jsonl:s3"})
	if got := b.queued(tasks.QueueSongs); len(got) != 3 || !strings.HasPrefix(got[2], submitEntry("r", "s2", 2)+":resume:") {
		t.Errorf("songs queue after resume: %v", got)
	}

	for _, args := range [][]string{{"retry"}, {"retry", "--batch", "r", "--state", "done"}, {"retry", "--batch", "r", "x"}} {
		if _, _, err := b.run(ctx, "", args...); !errors.As(err, new(usageError)) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, _, err := b.run(ctx, "", "retry", "--batch", "nobatch"); err == nil || !strings.Contains(err.Error(), "nobatch") {
		t.Errorf("unknown batch: %v", err)
	}
}
