package tasks

import (
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// A paused batch sends nothing: its items park. Resuming queues them again, and every
// one then completes with one job; the batch's jobs already sent were followed anyway.
func TestPauseParksAndResumeSends(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.addManifest("live", songsManifest("l", 3))
	b.addManifest("b", songsManifest("s", 10))
	ctx := t.Context()
	if err := b.store.Pause(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := b.store.Pause(ctx, "nope"); err == nil {
		t.Error("pausing a batch that does not exist succeeded")
	}
	b.enqueueAll("live")
	b.enqueueAll("b")
	b.start()
	b.waitDone("live", 30*time.Second) // another batch is not held back
	waitFor(t, 10*time.Second, "10 items parked", func() bool {
		n, _ := b.rdb.SCard(ctx, b.keys.BatchParked("b")).Result()
		return n == 10
	})
	rec, err := b.store.Batch(ctx, "b")
	if err != nil || !rec.Paused || rec.Counts[batch.StatePending] != 10 {
		t.Fatalf("paused batch: %+v, %v", rec, err)
	}
	if st := b.sim.Stats(); st.JobsCreated != 3 {
		t.Fatalf("%d jobs created, want only the 3 of the other batch", st.JobsCreated)
	}
	n, err := Resume(ctx, b.store, b.queue, "b")
	if err != nil || n != 10 {
		t.Fatalf("Resume = %d, %v; want 10", n, err)
	}
	if again, err := Resume(ctx, b.store, b.queue, "b"); err != nil || again != 0 {
		t.Errorf("Resume again = %d, %v; want 0", again, err)
	}
	done := b.waitDone("b", 30*time.Second)
	if done.Counts[batch.StateCompleted] != 10 || done.Paused {
		t.Errorf("after resume: %+v", done)
	}
	if st := b.sim.Stats(); st.JobsCreated != 13 || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created (want 13), paid twice %v", st.JobsCreated, st.PaidTwice)
	}
}
