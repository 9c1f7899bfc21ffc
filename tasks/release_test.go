package tasks

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// A releaser killed after reading the waiters, having enqueued only some of them and
// acknowledged none, loses nobody: the training's redelivered poll releases them all
// again, the songs already submitted are not submitted twice, and every song completes
// with exactly one job per customId.
func TestReleaseSurvivesCrash(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	manifest := `{"id":"t","kind":"train","model":"crash_v1","urls":["AUDIO/voice.wav"],"epochs":1}` + "\n"
	songs := []string{"w1", "w2", "w3", "w4"}
	for _, id := range songs {
		manifest += fmt.Sprintf(`{"id":%q,"kind":"song","model":"crash_v1","text":"la","contentId":"repo1"}`+"\n", id)
	}
	b.addManifest("b", manifest)
	for _, id := range songs {
		if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", id)); err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
		if r := b.item("b", id); r.State != batch.StateWaiting {
			t.Fatalf("%s is %s, want waiting", id, r.State)
		}
	}

	// The training's poll records it ...
	tr := b.markSubmitted("b", "t", "job-t", time.Now())
	if ok, _, err := b.store.Transition(ctx, "b", "t", tr.Attempt, nil, batch.StateCompleted,
		batch.Update{TrainedModel: "crash_v1"}); err != nil || !ok {
		t.Fatalf("complete t: %v %v", ok, err)
	}
	if err := b.sim.AddModel("crash_v1", time.Time{}); err != nil { // as the training made it
		t.Fatal(err)
	}
	// ... reads the waiters, enqueues two of them and dies before acknowledging any.
	m, ws, err := b.store.PendingWaiters(ctx, "crash_v1", releasePage)
	if err != nil || len(ws) != len(songs) {
		t.Fatalf("PendingWaiters = %v %v", ws, err)
	}
	for _, w := range ws[:2] {
		if err := (releaser{store: b.store, queue: b.queue, log: b.log}).releaseOne(ctx, m, w); err != nil {
			t.Fatal(err)
		}
	}

	// The worker submits those two; the other two stay waiting without a task.
	b.start()
	b.waitItems("b", ws[0].ID, ws[1].ID)
	for _, w := range ws[2:] {
		if r := b.item("b", w.ID); r.State != batch.StateWaiting {
			t.Fatalf("%s is %s, want waiting (no task)", w.ID, r.State)
		}
	}

	// The redelivered poll releases every waiter still registered: all four, two of
	// them a second time.
	if err := b.h.Mux().ProcessTask(ctx, pollTask(t, b.item("b", "t"), 2)); err != nil {
		t.Fatalf("redelivered poll: %v", err)
	}
	if _, left, err := b.store.PendingWaiters(ctx, "crash_v1", releasePage); err != nil || len(left) != 0 {
		t.Errorf("waiters left after the redelivered poll: %v %v", left, err)
	}
	if logs := b.logs.FilterMessage("released the songs waiting for a model").All(); len(logs) != 1 ||
		logs[0].ContextMap()["waiters"] != int64(len(songs)) {
		t.Errorf("release logs: %v, want one release of %d waiters", logs, len(songs))
	}
	rec := b.waitDone("b", 20*time.Second)
	if rec.Counts[batch.StateCompleted] != int64(len(songs)+1) {
		b.dumpItems("b")
		t.Fatalf("counts %v, want all %d completed", rec.Counts, len(songs)+1)
	}
	for _, id := range songs {
		r := b.item("b", id)
		if r.Attempt != 1 {
			t.Errorf("%s: attempt %d, want 1", id, r.Attempt)
		}
		if jobs := b.sim.JobsByCustomID(r.CustomID); len(jobs) != 1 || jobs[0].ID != r.JobID {
			t.Errorf("%s: %d jobs at the service under customId %s, want exactly its job %s", id, len(jobs), r.CustomID, r.JobID)
		}
	}
	if n := len(b.sim.Jobs()); n != len(songs) {
		t.Errorf("%d jobs at the service, want %d (one per song)", n, len(songs))
	}
}

// Two releasers of the same waiters enqueue one task per waiter (same task id).
func TestReleaseTwiceEnqueuesOnce(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t","kind":"train","model":"twice_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"w1","kind":"song","model":"twice_v1","text":"la","contentId":"repo1"}
{"id":"w2","kind":"song","model":"twice_v1","text":"la","contentId":"repo1"}
`)
	for _, id := range []string{"w1", "w2"} {
		if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", id)); err != nil {
			t.Fatal(err)
		}
	}
	tr := b.markSubmitted("b", "t", "job-t", time.Now())
	if ok, _, err := b.store.Transition(ctx, "b", "t", tr.Attempt, nil, batch.StateCompleted, batch.Update{}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	// The first releaser enqueues both and dies before acknowledging; the second
	// enqueues the same tasks and acknowledges.
	m, ws, err := b.store.PendingWaiters(ctx, "twice_v1", releasePage)
	if err != nil || len(ws) != 2 {
		t.Fatalf("PendingWaiters = %v %v", ws, err)
	}
	for _, w := range ws {
		if err := (releaser{store: b.store, queue: b.queue, log: b.log}).releaseOne(ctx, m, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.h.release(ctx, "twice_v1"); err != nil {
		t.Fatal(err)
	}
	got := b.tasksIn(QueueSongs)
	if len(got) != 2 {
		t.Fatalf("songs queue: %v, want one task per waiter", got)
	}
	for _, id := range got {
		if !strings.Contains(id, ":release:twice_v1:") {
			t.Errorf("task %s is not a release", id)
		}
	}
	if _, left, _ := b.store.PendingWaiters(ctx, "twice_v1", releasePage); len(left) != 0 {
		t.Errorf("waiters left: %v", left)
	}
}

// A training failed at submission, whose submit task died before releasing the songs
// waiting for its model, releases them when redelivered; they fail with its reason.
func TestSubmitRedeliveredReleasesWaiters(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t","kind":"train","model":"dead_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"w","kind":"song","model":"dead_v1","text":"la","contentId":"repo1"}
`)
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "w")); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := b.store.Transition(ctx, "b", "t", 1, nil, batch.StateFailed,
		batch.Update{Error: "refused: bad audio"}); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "t")); err != nil {
		t.Fatalf("redelivered submit: %v", err)
	}
	if got := b.tasksIn(QueueSongs); len(got) != 1 || !strings.Contains(got[0], ":w:") {
		t.Fatalf("songs queue: %v, want w's release", got)
	}
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "w")); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "w"); r.State != batch.StateFailed || !strings.Contains(r.Error, "refused: bad audio") {
		t.Errorf("w is %s (%q), want failed with the training's reason", r.State, r.Error)
	}
}

// waitItems waits until the items are final.
func (b *bundle) waitItems(batchName string, ids ...string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, id := range ids {
		for !b.item(batchName, id).State.Final() {
			if time.Now().After(deadline) {
				b.dumpItems(batchName)
				b.t.Fatalf("%s not final in time", id)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
