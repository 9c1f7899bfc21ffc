package tasks

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// markSubmitted moves an item to submitted with a job id and submission time, as the
// submit handler would have.
func (b *bundle) markSubmitted(batchName, id, jobID string, at time.Time) batch.ItemRecord {
	b.t.Helper()
	rec := b.claimSubmitting(batchName, id)
	ok, cur, err := b.store.Transition(context.Background(), batchName, id, rec.Attempt,
		[]batch.State{batch.StateSubmitting}, batch.StateSubmitted, batch.Update{JobID: jobID, SubmittedAt: at})
	if err != nil || !ok {
		b.t.Fatalf("mark submitted: %v %v", ok, err)
	}
	return cur
}

func pollTask(t *testing.T, rec batch.ItemRecord, n int) *asynq.Task {
	t.Helper()
	task, err := NewPollTask(PollPayload{ItemRef: refOf(rec), JobID: rec.JobID, Poll: n}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// tasksIn lists the ids of the tasks waiting in a queue (pending or scheduled).
func (b *bundle) tasksIn(queue string) []string {
	b.t.Helper()
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	var ids []string
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){in.ListPendingTasks, in.ListScheduledTasks} {
		infos, err := list(queue)
		if err != nil && !strings.Contains(err.Error(), "not found") {
			b.t.Fatalf("inspect %s: %v", queue, err)
		}
		for _, i := range infos {
			ids = append(ids, readableTaskID(b.t, i))
		}
	}
	return ids
}

// readableTaskID is a task's id, but "submit:BATCH:ITEM:ATTEMPT" and what the id adds
// to SubmitTaskID for a submit task, whose id is a hash.
func readableTaskID(t testing.TB, i *asynq.TaskInfo) string {
	if i.Type != TypeSubmit {
		return i.ID
	}
	ref, err := SubmitRef(i.Payload)
	id := SubmitTaskID(ref)
	if err != nil || !strings.HasPrefix(i.ID, id) {
		t.Errorf("submit task %s: payload %q (%v), whose id is %s", i.ID, i.Payload, err, id)
	}
	return fmt.Sprintf("submit:%s:%s:%d%s", ref.Batch, ref.Item, ref.Attempt, strings.TrimPrefix(i.ID, id))
}

// Polls racing for the same final job record it once: one transition, exact counters,
// one duration sample, and one release task per waiter of a training.
func TestPollRace(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t1","kind":"train","model":"race_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s1","kind":"song","text":"la la la","contentId":"repo1"}
{"id":"w1","kind":"song","model":"race_v1","text":"la","contentId":"repo1"}
`)
	for _, id := range []string{"t1", "s1", "w1"} {
		if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", id)); err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
	}
	if r := b.item("b", "w1"); r.State != batch.StateWaiting {
		t.Fatalf("w1 is %s, want waiting", r.State)
	}
	for _, id := range []string{"t1", "s1"} {
		rec := b.item("b", id)
		b.waitSimJobFinal(rec.JobID, 10*time.Second)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Go(func() { errs[i] = b.h.Mux().ProcessTask(ctx, pollTask(t, rec, 1+i%2)) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s poll %d: %v", id, i, err)
			}
		}
		if r := b.item("b", id); r.State != batch.StateCompleted {
			t.Errorf("%s is %s (%q), want completed", id, r.State, r.Error)
		}
	}
	rec, err := b.store.Batch(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	want := map[batch.State]int64{batch.StateCompleted: 2, batch.StateWaiting: 1}
	for _, st := range batch.States() {
		if rec.Counts[st] != want[st] {
			t.Errorf("count of %s = %d, want %d (all %v)", st, rec.Counts[st], want[st], rec.Counts)
		}
	}
	for _, class := range []string{"song", "train-e1"} {
		if ts, err := b.store.JobTimings(ctx, class); err != nil || len(ts) != 1 {
			t.Errorf("%s timings = %v (%v), want 1", class, ts, err)
		}
	}
	released := 0
	for _, id := range b.tasksIn(QueueSongs) {
		if strings.HasPrefix(id, "submit:b:w1:1:release:") { // readableTaskID
			released++
		}
	}
	if released != 1 {
		t.Errorf("w1 released %d times, want 1 (queue: %v)", released, b.tasksIn(QueueSongs))
	}
}

// A training's poll redelivered after its item is final still releases the songs that
// wait for the model (a crash between recording the training and releasing them).
func TestPollRedeliveredReleasesWaiters(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	ctx := context.Background()
	b.addManifest("b", `{"id":"t1","kind":"train","model":"late_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"w1","kind":"song","model":"late_v1","text":"la","contentId":"repo1"}
`)
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "w1")); err != nil {
		t.Fatal(err)
	}
	tr := b.markSubmitted("b", "t1", "job-t1", time.Now())
	// Recorded, then the process died before releasing anyone.
	if ok, _, err := b.store.Transition(ctx, "b", "t1", tr.Attempt, nil, batch.StateCompleted,
		batch.Update{TrainedModel: "late_v1"}); err != nil || !ok {
		t.Fatalf("complete t1: %v %v", ok, err)
	}
	if got := b.tasksIn(QueueSongs); len(got) != 0 {
		t.Fatalf("songs queue before the redelivery: %v", got)
	}
	if err := b.h.Mux().ProcessTask(ctx, pollTask(t, b.item("b", "t1"), 3)); err != nil {
		t.Fatalf("redelivered poll: %v", err)
	}
	if got := b.tasksIn(QueueSongs); len(got) != 1 || !strings.Contains(got[0], ":w1:") {
		t.Errorf("songs queue after the redelivery: %v, want w1's submit", got)
	}
	// The released task submits it.
	if err := b.h.Mux().ProcessTask(ctx, b.submitTask("b", "w1")); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "w1"); r.State != batch.StateSubmitted {
		t.Errorf("w1 is %s (%q), want submitted", r.State, r.Error)
	}
}

// A job that never ends fails its item as timed out past timeout + grace; not found
// right after creation is polled again, and fails only past NotFoundGrace.
func TestPollTimeoutAndNotFound(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	getErr := error(nil)
	fake := &fakeAPI{get: func(_ context.Context, id string) (*upstream.Job, error) {
		mu.Lock()
		defer mu.Unlock()
		if getErr != nil {
			return nil, getErr
		}
		return &upstream.Job{ID: id, State: upstream.StateProcessing}, nil
	}}
	b := newBundle(t, func(c *bundleConfig) { c.fake = fake })
	ctx := context.Background()
	b.addManifest("b", `{"id":"s1","kind":"song","text":"la","contentId":"repo1","timeout":60}
{"id":"s2","kind":"song","text":"la","contentId":"repo1"}
`)
	set := b.h.Settings()

	// Still running, within the deadline: the next poll is scheduled.
	s1 := b.markSubmitted("b", "s1", "job-1", time.Now())
	if err := b.h.Mux().ProcessTask(ctx, pollTask(t, s1, 1)); err != nil {
		t.Fatal(err)
	}
	want := PollTaskID(PollPayload{ItemRef: refOf(s1), JobID: "job-1", Poll: 2})
	if ids := b.tasksIn(QueuePoll); len(ids) != 1 || ids[0] != want {
		t.Errorf("poll queue %v, want %s", ids, want)
	}

	// Past 60 s + grace.
	h, err := NewHandlers(HandlerDeps{Store: b.store, API: fake, Enqueuer: b.queue, Logger: b.log,
		Now: func() time.Time { return time.Now().Add(time.Minute + set.TimeoutGrace + time.Second) }}, set)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(ctx, pollTask(t, s1, 2)); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "s1"); r.State != batch.StateFailed || !strings.HasPrefix(r.Error, "timed out: job job-1 still PROCESSING") {
		t.Errorf("s1 is %s (%q), want failed as timed out", r.State, r.Error)
	}

	// Not found: polled again within the grace, failed past it.
	mu.Lock()
	getErr = &upstream.APIError{Action: upstream.ActionGetJob, StatusCode: 404, Class: upstream.ErrNotFound}
	mu.Unlock()
	s2 := b.markSubmitted("b", "s2", "job-2", time.Now())
	if err := b.h.Mux().ProcessTask(ctx, pollTask(t, s2, 1)); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "s2"); r.State != batch.StateSubmitted {
		t.Errorf("s2 is %s right after creation, want still submitted", r.State)
	}
	late, err := NewHandlers(HandlerDeps{Store: b.store, API: fake, Enqueuer: b.queue, Logger: b.log,
		Now: func() time.Time { return time.Now().Add(set.NotFoundGrace + time.Second) }}, set)
	if err != nil {
		t.Fatal(err)
	}
	if err := late.Mux().ProcessTask(ctx, pollTask(t, s2, 2)); err != nil {
		t.Fatal(err)
	}
	if r := b.item("b", "s2"); r.State != batch.StateFailed || !strings.Contains(r.Error, "job job-2: not found at the service") {
		t.Errorf("s2 is %s (%q), want failed as not found", r.State, r.Error)
	}
}

// ERROR and CANCELED record the service's reason (or the state's name) and fail the item.
func TestPollRecordsServiceFailure(t *testing.T) {
	t.Parallel()
	jobs := map[string]*upstream.Job{
		"job-err":    {ID: "job-err", State: upstream.StateError, Message: "input 0: fetch failed: HTTP 403"},
		"job-cancel": {ID: "job-cancel", State: upstream.StateCanceled},
	}
	fake := &fakeAPI{get: func(_ context.Context, id string) (*upstream.Job, error) { return jobs[id], nil }}
	b := newBundle(t, func(c *bundleConfig) { c.fake = fake })
	ctx := context.Background()
	b.addManifest("b", `{"id":"e","kind":"song","text":"la","contentId":"repo1"}
{"id":"c","kind":"song","text":"la","contentId":"repo1"}
`)
	for id, want := range map[string]string{"e": "input 0: fetch failed: HTTP 403", "c": "CANCELED"} {
		rec := b.markSubmitted("b", id, map[string]string{"e": "job-err", "c": "job-cancel"}[id], time.Now())
		if err := b.h.Mux().ProcessTask(ctx, pollTask(t, rec, 1)); err != nil {
			t.Fatal(err)
		}
		if r := b.item("b", id); r.State != batch.StateFailed || r.Error != want {
			t.Errorf("%s: %s %q, want failed with %q", id, r.State, r.Error, want)
		}
	}
	if creates, _, _ := fake.counts(); creates != 0 {
		t.Errorf("a failed job was created again (%d CreateJob)", creates)
	}
}
