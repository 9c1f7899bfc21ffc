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
	n, err := Controls{Store: b.store, Queue: b.queue}.Resume(ctx, "b")
	if err != nil || n != 10 {
		t.Fatalf("Resume = %d, %v; want 10", n, err)
	}
	if _, err := (Controls{Store: b.store, Queue: b.queue}).Resume(ctx, "b"); err != nil {
		t.Errorf("Resume again: %v", err) // harmless: the claims decide
	}
	done := b.waitDone("b", 30*time.Second)
	if done.Parked != 0 {
		t.Errorf("%d items still parked after every item completed", done.Parked)
	}
	if done.Counts[batch.StateCompleted] != 10 || done.Paused {
		t.Errorf("after resume: %+v", done)
	}
	if st := b.sim.Stats(); st.JobsCreated != 13 || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created (want 13), paid twice %v", st.JobsCreated, st.PaidTwice)
	}
}

// Cancel, with three workers sending under a slow rate limit: the items not sent
// become canceled, every job already sent is followed to its end, nothing is left in
// a non-final state, and nothing more is sent. Retrying the canceled items sends them.
func TestCancelLeavesNothingUnsentOrStuck(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) { c.rate = 20 })
	b.addManifest("b", songsManifest("s", 60))
	ctx := t.Context()
	b.enqueueAll("b")
	for range 3 {
		b.start()
	}
	waitFor(t, 20*time.Second, "5 jobs created", func() bool { return b.sim.Stats().JobsCreated >= 5 })
	c := Controls{Store: b.store, Queue: b.queue, Log: b.log}
	n, err := c.Cancel(ctx, "b")
	if err != nil || n == 0 {
		t.Fatalf("Cancel = %d, %v", n, err)
	}
	done := b.waitDone("b", 30*time.Second)
	created := b.sim.Stats().JobsCreated
	if got := done.Counts[batch.StateCanceled] + done.Counts[batch.StateCompleted]; got != 60 || !done.Canceled {
		t.Fatalf("after cancel: %v (canceled flag %v)", done.Counts, done.Canceled)
	}
	if int64(created) != done.Counts[batch.StateCompleted] || done.Jobs != int64(created) {
		t.Errorf("%d jobs created, %d items completed, %d jobs counted: every job sent must be recorded",
			created, done.Counts[batch.StateCompleted], done.Jobs)
	}
	if again, err := c.Cancel(ctx, "b"); err != nil || again != 0 {
		t.Errorf("Cancel again = %d, %v; want 0", again, err)
	}
	time.Sleep(200 * time.Millisecond) // any straggling task would send within this
	if after := b.sim.Stats().JobsCreated; after != created {
		t.Errorf("%d jobs created after the batch was final, want none", after-created)
	}
	res, err := RetryItems(ctx, b.store, b.queue, "b", batch.StateCanceled, nil)
	if err != nil || int64(res.Retried) != done.Counts[batch.StateCanceled] {
		t.Fatalf("retry canceled = %+v, %v", res, err)
	}
	final := b.waitDone("b", 30*time.Second)
	if final.Counts[batch.StateCompleted] != 60 || final.Canceled {
		t.Errorf("after retrying the canceled: %v (canceled flag %v)", final.Counts, final.Canceled)
	}
	if st := b.sim.Stats(); st.JobsCreated != 60 || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created (want 60), paid twice %v", st.JobsCreated, st.PaidTwice)
	}
}

// A batch's cap is exact with three workers claiming at once: exactly N jobs, the rest
// parked pending with the reason; raising the cap sends exactly as many more. The
// account's daily cap holds across batches the same way.
func TestJobCapsAreExact(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.settings.AccountMaxJobsPerDay = 30
		c.worker.Concurrency = 16
	})
	b.addManifest("b", songsManifest("s", 40))
	b.addManifest("other", songsManifest("o", 40))
	ctx := t.Context()
	c := Controls{Store: b.store, Queue: b.queue, Log: b.log}
	if _, err := c.SetMaxJobs(ctx, "b", 10); err != nil {
		t.Fatal(err)
	}
	b.enqueueAll("b")
	for range 3 {
		b.start()
	}
	held := func(name string, n int64) func() bool {
		return func() bool {
			rec, _ := b.store.Batch(ctx, name)
			return rec.Parked == n && rec.Counts[batch.StateCompleted] == rec.Total-n
		}
	}
	waitFor(t, 20*time.Second, "10 completed, 30 parked", held("b", 30))
	rec, _ := b.store.Batch(ctx, "b")
	if rec.Jobs != 10 || rec.HeldBy != "batch" || b.sim.Stats().JobsCreated != 10 {
		t.Fatalf("cap 10: jobs %d, held by %q, %d created", rec.Jobs, rec.HeldBy, b.sim.Stats().JobsCreated)
	}
	if _, err := c.SetMaxJobs(ctx, "b", 25); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "25 completed, 15 parked", held("b", 15))
	// The account's cap (30 a day) leaves 5 for the other batch.
	b.enqueueAll("other")
	waitFor(t, 20*time.Second, "5 of the other batch completed, 35 parked", held("other", 35))
	if rec, _ := b.store.Batch(ctx, "other"); rec.HeldBy != "account" {
		t.Errorf("other batch held by %q, want account", rec.HeldBy)
	}
	// Still at the cap: nothing is handed back. Workers with a higher cap hand them back
	// (these, still at 30, park them again).
	batches, err := b.store.Batches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.h.unparkAccountHeld(ctx, batches); n != 0 || err != nil {
		t.Errorf("unpark at the cap = %d, %v; want 0", n, err)
	}
	raised := b.cfg.settings
	raised.AccountMaxJobsPerDay = 100
	h2, err := NewHandlers(b.deps(), raised)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := h2.unparkAccountHeld(ctx, batches); n != 35 || err != nil {
		t.Errorf("unpark under a raised cap = %d, %v; want 35", n, err)
	}
	waitFor(t, 20*time.Second, "the other batch's 35 parked again", held("other", 35))
	time.Sleep(200 * time.Millisecond)
	if st := b.sim.Stats(); st.JobsCreated != 30 || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created, want exactly 30 (paid twice %v)", st.JobsCreated, st.PaidTwice)
	}
}
