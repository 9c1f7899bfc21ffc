package tasks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// A CreateJob refused with 429 is sent again within the claim's budget, but not after a
// pause recorded meanwhile: the item parks, and the one refused call is all that left.
func TestResendHeedsAPauseRecordedMeanwhile(t *testing.T) {
	t.Parallel()
	var b *bundle
	var mu sync.Mutex
	calls := 0
	fake := &fakeAPI{create: func(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
		mu.Lock()
		calls++
		mu.Unlock()
		if err := b.store.Pause(ctx, "b"); err != nil {
			return nil, err
		}
		return nil, &upstream.APIError{Action: upstream.ActionCreateJob, StatusCode: 429,
			Class: upstream.ErrRateLimited, RetryAfter: 50 * time.Millisecond}
	}}
	b = newBundle(t, func(c *bundleConfig) { c.fake = fake })
	b.addManifest("b", oneSong)
	if err := b.h.Mux().ProcessTask(t.Context(), b.submitTask("b", "s1")); err != nil {
		t.Fatalf("ProcessTask = %v, want nil (held by the pause)", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 {
		t.Errorf("%d CreateJob calls, want 1: the resend must heed the pause", calls)
	}
	rec, err := b.store.Batch(t.Context(), "b")
	if err != nil || rec.Parked != 1 {
		t.Errorf("batch %+v, %v; want the item parked", rec, err)
	}
	if r := b.item("b", "s1"); r.Held != "paused" {
		t.Errorf("item held %q, want paused", r.Held)
	}
}

// heldCreate is the bundle's simulator, except that CreateJobs with url inputs (the
// trainings) wait until release is closed.
type heldCreate struct {
	JobAPI
	started chan struct{}
	release chan struct{}
}

func (h *heldCreate) CreateJob(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
	if len(req.Inputs) > 0 && req.Inputs[0].URL != "" {
		close(h.started)
		<-h.release
	}
	return h.JobAPI.CreateJob(ctx, req)
}

// A CreateJob refused for good gives its job back to the batch's cap, and an item
// parked over the cap meanwhile goes on: the cap of 2 buys 2 jobs, not 1.
func TestRefusedCreateJobHandsItsCapSlotOn(t *testing.T) {
	t.Parallel()
	api := &heldCreate{started: make(chan struct{}), release: make(chan struct{})}
	b := newBundle(t, func(c *bundleConfig) { c.fake = api })
	api.JobAPI = b.api
	// The service already has dup_v1: training it again is refused (400).
	if err := b.sim.AddModel("dup_v1", time.Time{}); err != nil {
		t.Fatal(err)
	}
	b.addManifest("b", `{"id":"dup","kind":"train","model":"dup_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s1","kind":"song","text":"la","contentId":"repo1"}
{"id":"s2","kind":"song","text":"la","contentId":"repo1"}
`)
	ctx := t.Context()
	if _, err := (Controls{Store: b.store, Queue: b.queue}).SetMaxJobs(ctx, "b", 2); err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 1)
	go func() { refused <- b.h.Mux().ProcessTask(ctx, b.submitTask("b", "dup")) }()
	<-api.started // dup holds one of the two jobs
	for _, id := range []string{"s1", "s2"} {
		if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", id)); err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
	}
	if r := b.item("b", "s2"); r.Held != "batch cap" {
		t.Fatalf("s2 held %q, want batch cap", r.Held)
	}
	close(api.release)
	if err := <-refused; err != nil {
		t.Fatalf("submit dup: %v", err)
	}
	b.start() // runs the submit task the refund queued for s2
	done := b.waitDone("b", 30*time.Second)
	if done.Counts[batch.StateCompleted] != 2 || done.Counts[batch.StateFailed] != 1 || done.Jobs != 2 {
		t.Errorf("counts %v, jobs %d; want 2 completed, 1 failed (refused), 2 jobs", done.Counts, done.Jobs)
	}
	if st := b.sim.Stats(); st.JobsCreated != 2 {
		t.Errorf("%d jobs created, want 2", st.JobsCreated)
	}
}
