package tasks

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

const oneSong = `{"id":"s1","kind":"song","text":"la la la","contentId":"repo1"}` + "\n"

// claimSubmitting leaves an item as a run that died right after its claim would: in
// submitting with its customId recorded.
func (b *bundle) claimSubmitting(batchName, id string) batch.ItemRecord {
	b.t.Helper()
	rec := b.item(batchName, id)
	cid := CustomID(rec.Batch, rec.ID, rec.Attempt, rec.EnqueuedAt)
	ok, cur, err := b.store.Transition(context.Background(), batchName, id, rec.Attempt,
		[]batch.State{batch.StatePending}, batch.StateSubmitting, batch.Update{CustomID: cid})
	if err != nil || !ok {
		b.t.Fatalf("claim: %v %v", ok, err)
	}
	return cur
}

// createAtSim creates the item's job at the simulator directly, as a lost CreateJob would
// have.
func (b *bundle) createAtSim(rec batch.ItemRecord) upstream.Job {
	b.t.Helper()
	req := rec.Spec.Request(rec.Kind, rec.Model)
	req.CustomID = rec.CustomID
	job, err := b.sim.CreateJob(&req)
	if err != nil {
		b.t.Fatalf("sim.CreateJob: %v", err)
	}
	return job
}

func TestSubmitRedelivery(t *testing.T) {
	t.Parallel()

	t.Run("same task run concurrently and again", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, nil)
		b.addManifest("b", oneSong)
		task := b.submitTask("b", "s1")
		ctx := context.Background()

		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { errs[i] = b.h.Mux().ProcessTask(ctx, task) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil && !errors.Is(err, ErrNotYet) {
				t.Errorf("run %d: %v", i, err)
			}
		}
		if err := b.h.Mux().ProcessTask(ctx, task); err != nil { // redelivered after success
			t.Errorf("redelivery: %v", err)
		}
		rec := b.item("b", "s1")
		if rec.State != batch.StateSubmitted || rec.JobID == "" {
			t.Fatalf("item %s job %q, want submitted", rec.State, rec.JobID)
		}
		b.start()
		b.waitDone("b", 10*time.Second)
		st := b.sim.Stats()
		if n := st.Count(upstream.ActionCreateJob, sim.OutcomeOK); n != 1 {
			t.Errorf("CreateJob calls = %d, want 1", n)
		}
		if n := st.JobsByCustomID[rec.CustomID]; n != 1 {
			t.Errorf("jobs under %s = %d, want 1", rec.CustomID, n)
		}
		if r := b.item("b", "s1"); r.State != batch.StateCompleted || r.JobID != rec.JobID {
			t.Errorf("item %s job %s, want completed with %s", r.State, r.JobID, rec.JobID)
		}
	})

	t.Run("left submitting with its job created", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, nil)
		b.addManifest("b", oneSong)
		rec := b.claimSubmitting("b", "s1")
		job := b.createAtSim(rec)
		b.enqueueAll("b")
		b.start()
		b.waitDone("b", 10*time.Second)
		r := b.item("b", "s1")
		if r.State != batch.StateCompleted || r.JobID != job.ID {
			t.Errorf("item %s job %s error %q; want completed with the existing job %s", r.State, r.JobID, r.Error, job.ID)
		}
		st := b.sim.Stats()
		if n := st.Count(upstream.ActionCreateJob, sim.OutcomeOK); n != 0 {
			t.Errorf("CreateJob sent %d times, want 0: the job existed", n)
		}
		if n := st.JobsByCustomID[rec.CustomID]; n != 1 {
			t.Errorf("jobs under %s = %d, want 1", rec.CustomID, n)
		}
	})

	t.Run("left submitting before CreateJob was sent", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, nil)
		b.addManifest("b", oneSong)
		rec := b.claimSubmitting("b", "s1")
		b.enqueueAll("b")
		b.start()
		b.waitDone("b", 10*time.Second)
		if r := b.item("b", "s1"); r.State != batch.StateCompleted {
			t.Errorf("item %s error %q, want completed", r.State, r.Error)
		}
		st := b.sim.Stats()
		if n := st.JobsByCustomID[rec.CustomID]; n != 1 || st.JobsCreated != 1 {
			t.Errorf("jobs under %s = %d of %d, want 1", rec.CustomID, n, st.JobsCreated)
		}
		if n := st.Count(upstream.ActionListJobs, sim.OutcomeOK); n < 1 {
			t.Errorf("ListJobs calls = %d: created without reconciling", n)
		}
	})

	t.Run("submitted but its poll never enqueued", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, nil)
		b.addManifest("b", oneSong)
		rec := b.claimSubmitting("b", "s1")
		job := b.createAtSim(rec)
		if ok, _, err := b.store.Transition(context.Background(), "b", "s1", 1, nil, batch.StateSubmitted,
			batch.Update{JobID: job.ID}); err != nil || !ok {
			t.Fatalf("transition: %v %v", ok, err)
		}
		b.enqueueAll("b")
		b.start()
		b.waitDone("b", 10*time.Second)
		if r := b.item("b", "s1"); r.State != batch.StateCompleted || r.JobID != job.ID {
			t.Errorf("item %s job %s, want completed with %s", r.State, r.JobID, job.ID)
		}
		if n := b.sim.Stats().Count(upstream.ActionCreateJob, sim.OutcomeOK); n != 0 {
			t.Errorf("CreateJob calls = %d, want 0", n)
		}
	})
}

// A CreateJob whose reply is lost (the job was stored) is reconciled after
// ReconcileDelay: ListJobs finds the job, which is adopted; nothing is created twice,
// even though the job is invisible for a moment after its creation.
func TestSubmitAmbiguousCreateJob(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.sim.Faults = sim.Faults{LoseCreate: 1, NotFound: 1, NotFoundFor: 150 * time.Millisecond}
		c.settings.ReconcileDelay = 400 * time.Millisecond
	})
	b.addManifest("b", oneSong)
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 15*time.Second)
	r := b.item("b", "s1")
	if r.State != batch.StateCompleted {
		t.Fatalf("item %s error %q, want completed", r.State, r.Error)
	}
	st := b.sim.Stats()
	if n := st.Count(upstream.ActionCreateJob, sim.OutcomeLost); n != 1 {
		t.Errorf("lost CreateJob replies = %d, want 1", n)
	}
	if st.JobsCreated != 1 || st.JobsByCustomID[r.CustomID] != 1 {
		t.Errorf("jobs created = %d, under %s %d; want exactly 1", st.JobsCreated, r.CustomID, st.JobsByCustomID[r.CustomID])
	}
	if jobs := b.sim.JobsByCustomID(r.CustomID); len(jobs) != 1 || jobs[0].ID != r.JobID {
		t.Errorf("item adopted %s, the sim has %+v", r.JobID, jobs)
	}
}

// A handler whose context ends (shutdown past its timeout) returns promptly with the
// context's error and records nothing final: the requeued task reconciles.
func TestSubmitHonoursContext(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	fake := &fakeAPI{create: func(ctx context.Context, _ *upstream.CreateJobRequest) (*upstream.Job, error) {
		close(started)
		<-ctx.Done()
		return nil, &upstream.APIError{Action: upstream.ActionCreateJob, Class: upstream.ErrAmbiguous, Err: ctx.Err()}
	}}
	b := newBundle(t, func(c *bundleConfig) {
		c.fake = fake
		c.settings.ReconcileDelay = time.Minute
	})
	b.addManifest("b", oneSong)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.h.Mux().ProcessTask(ctx, b.submitTask("b", "s1")) }()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ProcessTask = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ProcessTask did not return after its context ended")
	}
	if r := b.item("b", "s1"); r.State != batch.StateSubmitting || r.Error != "" {
		t.Errorf("item %s error %q, want submitting", r.State, r.Error)
	}
	if IsFailure(context.Canceled) {
		t.Error("a cancelled run counts as a failure")
	}
}

// Every CreateJob carries a timeout: the manifest's, else DefaultJobTimeout, the one the
// worker gives up after.
func TestSubmitSendsTimeout(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	sent := map[string]int{}
	fake := &fakeAPI{create: func(_ context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
		mu.Lock()
		defer mu.Unlock()
		sent[req.CustomID] = req.Timeout
		return &upstream.Job{ID: "job-" + req.CustomID, State: upstream.StateSubmitted, CustomID: req.CustomID}, nil
	}}
	b := newBundle(t, func(c *bundleConfig) { c.fake = fake })
	b.addManifest("b", `{"id":"s1","kind":"song","text":"la","contentId":"repo1"}
{"id":"s2","kind":"song","text":"la","contentId":"repo1","timeout":90}
`)
	for id, want := range map[string]int{"s1": int(b.h.Settings().DefaultJobTimeout.Seconds()), "s2": 90} {
		if err := b.h.Mux().ProcessTask(context.Background(), b.submitTask("b", id)); err != nil {
			t.Fatal(err)
		}
		rec := b.item("b", id)
		mu.Lock()
		got := sent[rec.CustomID]
		mu.Unlock()
		if got != want || want == 0 {
			t.Errorf("%s: CreateJob timeout %d, want %d", id, got, want)
		}
	}
}

// A worker whose clock runs an hour ahead finds another worker's fresh claim fresh:
// claim ages are measured on Redis's clock, so it neither looks up nor creates the job.
func TestReconcileTrustsRedisClockNotWorkers(t *testing.T) {
	t.Parallel()
	fake := &fakeAPI{
		create: func(_ context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
			return &upstream.Job{ID: "job-1", State: upstream.StateSubmitted, CustomID: req.CustomID}, nil
		},
		list: func(context.Context, string) ([]upstream.Job, error) { return nil, nil },
	}
	b := newBundle(t, func(c *bundleConfig) { c.fake = fake })
	b.addManifest("b", oneSong)
	b.claimSubmitting("b", "s1") // another worker claimed it; its CreateJob is on its way
	ahead, err := NewHandlers(HandlerDeps{Store: b.store, API: fake, Enqueuer: b.queue, Logger: b.log,
		Now: func() time.Time { return time.Now().Add(time.Hour) }}, b.h.Settings())
	if err != nil {
		t.Fatal(err)
	}
	err = ahead.Mux().ProcessTask(context.Background(), b.submitTask("b", "s1"))
	if !errors.Is(err, ErrNotYet) {
		t.Errorf("skewed worker on a fresh claim: %v, want not yet", err)
	}
	if creates, _, lists := fake.counts(); creates != 0 || lists != 0 {
		t.Errorf("skewed worker sent %d CreateJob and %d ListJobs, want none", creates, lists)
	}
	age, err := b.store.ClaimAge(context.Background(), "b", "s1", 1)
	if err != nil || age > 10*time.Second {
		t.Errorf("claim age %v (%v), want fresh", age, err)
	}
	if _, err := b.store.ClaimAge(context.Background(), "b", "s1", 2); !errors.Is(err, batch.ErrItemNotFound) {
		t.Errorf("claim age of another attempt: %v, want not found", err)
	}
}

// The simulator holds the worker to the timeout it sent: a training longer than
// DefaultJobTimeout (scaled like the simulator's clock) ends in ERROR there, and the
// item fails with the service's reason, instead of the service going on unwatched.
func TestSubmitTimeoutReachesTheService(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) { c.settings.DefaultJobTimeout = 20 * time.Second }) // 20 ms there
	b.addManifest("b", `{"id":"t1","kind":"train","model":"slow_v1","urls":["AUDIO/voice.wav"],"epochs":1}`+"\n")
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 20*time.Second)
	if r := b.item("b", "t1"); r.State != batch.StateFailed || !strings.Contains(r.Error, "timeout") {
		t.Errorf("t1 is %s (%q), want failed by the service's timeout", r.State, r.Error)
	}
}
