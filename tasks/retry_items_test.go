package tasks

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// singbatch retry's core: failed items get a new attempt (new customId) and their
// tasks; a retried training takes its model back before its songs run, so they wait
// for it and everything completes.
func TestRetryItems(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t","kind":"train","model":"m_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s1","kind":"song","model":"m_v1","text":"la","contentId":"repo1"}
{"id":"s2","kind":"song","text":"la","contentId":"repo1"}
{"id":"s3","kind":"song","text":"la","contentId":"repo1"}
`)
	fail := func(id, reason string) {
		if ok, _, err := b.store.Transition(ctx, "b", id, 1, nil, batch.StateFailed, batch.Update{Error: reason}); err != nil || !ok {
			t.Fatalf("fail %s: %v %v", id, ok, err)
		}
	}
	fail("t", "input 0: fetch failed: HTTP 503") // the model fails with it
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "s1")); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "s1"); r.State != batch.StateFailed || r.Error != "model m_v1: training failed: input 0: fetch failed: HTTP 503" {
		t.Fatalf("s1: %s %q", r.State, r.Error)
	}
	fail("s2", "timed out")
	s3 := b.markSubmitted("b", "s3", "job-x", time.Now())
	if ok, _, err := b.store.Transition(ctx, "b", "s3", s3.Attempt, nil, batch.StateCompleted, batch.Update{}); err != nil || !ok {
		t.Fatal(err)
	}
	before := map[string]string{}
	for _, id := range []string{"t", "s1", "s2"} {
		before[id] = CustomID("b", id, 1, b.item("b", id).EnqueuedAt)
	}

	res, err := RetryItems(ctx, b.store, b.queue, "b", batch.StateFailed, []string{"s3", "nope"})
	if err != nil || res.Retried != 0 || len(res.Skipped) != 2 ||
		!strings.Contains(res.Skipped[0].Reason, "is completed, not failed") || !strings.Contains(res.Skipped[1].Reason, "no such item") {
		t.Errorf("RetryItems(s3, nope) = %+v, %v", res, err)
	}
	if _, err := RetryItems(ctx, b.store, b.queue, "b", batch.StatePending, nil); err == nil {
		t.Error("retrying pending items accepted")
	}
	if _, err := RetryItems(ctx, b.store, b.queue, "nobatch", batch.StateFailed, nil); err == nil {
		t.Error("retrying an unknown batch accepted")
	}

	res, err = RetryItems(ctx, b.store, b.queue, "b", batch.StateFailed, nil)
	if err != nil || res.Retried != 3 || len(res.Skipped) != 0 {
		t.Fatalf("RetryItems = %+v, %v; want 3 retried", res, err)
	}
	for _, id := range []string{"t", "s1", "s2"} {
		r := b.item("b", id)
		if r.State != batch.StatePending || r.Attempt != 2 || r.Error != "" {
			t.Errorf("%s: %s attempt %d error %q; want pending attempt 2", id, r.State, r.Attempt, r.Error)
		}
	}
	if m, _ := b.store.ModelState(ctx, "m_v1"); m.State != batch.ModelTraining {
		t.Errorf("model m_v1 is %s, want training again", m.State)
	}
	queued := append(b.tasksIn(QueueTrain), b.tasksIn(QueueSongs)...)
	sort.Strings(queued)
	want := []string{"submit:b:s1:2", "submit:b:s2:2", "submit:b:t:2"}
	if strings.Join(queued, " ") != strings.Join(want, " ") {
		t.Errorf("queued %v, want %v", queued, want)
	}

	b.start()
	rec := b.waitDone("b", 20*time.Second)
	if rec.Counts[batch.StateCompleted] != 4 {
		b.dumpItems("b")
		t.Fatalf("counts %v, want 4 completed", rec.Counts)
	}
	for id, old := range before {
		if r := b.item("b", id); r.CustomID == old || !strings.HasSuffix(r.CustomID, "-a2") {
			t.Errorf("%s: customId %s, want a new one for attempt 2 (was %s)", id, r.CustomID, old)
		}
	}
}

// A song whose release task was lost stays waiting; resuming it enqueues its task again
// and the worker submits it, in the same attempt.
func TestResumeItems(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t","kind":"train","model":"lost_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"w","kind":"song","model":"lost_v1","text":"la","contentId":"repo1"}
`)
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "w")); err != nil {
		t.Fatal(err)
	}
	tr := b.markSubmitted("b", "t", "job-t", time.Now())
	if ok, _, err := b.store.Transition(ctx, "b", "t", tr.Attempt, nil, batch.StateCompleted, batch.Update{}); err != nil || !ok {
		t.Fatal(err)
	}
	// Released and acknowledged, but its task lost (archived, or a worker of an older
	// version that dropped waiters before enqueueing them).
	m, ws, err := b.store.PendingWaiters(ctx, "lost_v1", 10)
	if err != nil || len(ws) != 1 {
		t.Fatalf("pending waiters: %v %v", ws, err)
	}
	if err := b.store.AckWaiters(ctx, m, ws); err != nil {
		t.Fatal(err)
	}
	if err := b.sim.AddModel("lost_v1", time.Time{}); err != nil { // as the training made it
		t.Fatal(err)
	}
	if _, err := ResumeItems(ctx, b.store, b.queue, "b", batch.StateFailed, nil); err == nil {
		t.Error("resuming failed items accepted")
	}
	res, err := ResumeItems(ctx, b.store, b.queue, "b", batch.StateWaiting, []string{"w", "t", "nope"})
	if err != nil || res.Retried != 1 || len(res.Skipped) != 2 {
		t.Fatalf("ResumeItems = %+v, %v", res, err)
	}
	b.start()
	b.waitDone("b", 15*time.Second)
	if r := b.item("b", "w"); r.State != batch.StateCompleted || r.Attempt != 1 {
		t.Errorf("w: %s attempt %d (%q), want completed in attempt 1", r.State, r.Attempt, r.Error)
	}
}
