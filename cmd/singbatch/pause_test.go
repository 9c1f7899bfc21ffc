package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/keyspace"
)

// `singbatch pause` holds a batch's items back on a running worker; `resume` sends them.
func TestPauseAndResumeCommands(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	b := newCLI(t, vars...)
	b.addSongs("w", "s1", "s2", "s3")
	if out := b.mustRun("", "pause", "--batch", "w"); !strings.Contains(out, "batch w paused") {
		t.Errorf("pause printed %q", out)
	}
	var stderr syncBuffer
	stop := b.startWorkerCommand(&stderr)
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for n := int64(0); n < 3; {
		if n, _ = b.rdb.SCard(t.Context(), keyspace.Keys{Prefix: b.prefix}.BatchParked("w")).Result(); time.Now().After(deadline) {
			t.Fatalf("%d items parked, want 3\n%s", n, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := srv.Stats(); st.JobsCreated != 0 {
		t.Fatalf("%d jobs created while paused", st.JobsCreated)
	}
	if out := b.mustRun("", "status", "--batch", "w"); !strings.Contains(out, "paused (singbatch resume)") {
		t.Errorf("status of a paused batch: %q", out)
	}
	if out := b.mustRun("", "resume", "--batch", "w"); !strings.Contains(out, "3 parked items queued again") {
		t.Errorf("resume printed %q", out)
	}
	b.waitCompleted("w", 3, &stderr)
	if _, _, err := b.run(t.Context(), "", "pause"); !errors.As(err, new(usageError)) {
		t.Errorf("pause without --batch: %v, want a usage error", err)
	}
	if _, _, err := b.run(t.Context(), "", "pause", "--batch", "nope"); err == nil {
		t.Error("pausing an unknown batch succeeded")
	}
}
