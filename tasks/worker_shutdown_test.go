package tasks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// hungShutdown runs a worker whose one CreateJob never answers, cancels it mid-call,
// and returns the worker, its bundle and how long Run took to return after the cancel.
func hungShutdown(tb testing.TB) (*bundle, *Worker, time.Duration) {
	tb.Helper()
	hung := make(chan struct{})
	var once sync.Once
	fake := &fakeAPI{create: func(ctx context.Context, _ *upstream.CreateJobRequest) (*upstream.Job, error) {
		once.Do(func() { close(hung) })
		<-ctx.Done() // a request that never answers
		return nil, &upstream.APIError{Action: upstream.ActionCreateJob, Class: upstream.ErrAmbiguous, Err: ctx.Err()}
	}}
	b := newBundle(tb, func(c *bundleConfig) {
		c.fake = fake
		c.settings.ReconcileDelay = 20 * time.Second // the hung call outlives the shutdown
		c.worker.ShutdownTimeout = 300 * time.Millisecond
	})
	b.addManifest("b", oneSong)
	b.enqueueAll("b")

	opts := b.cfg.worker
	opts.Redis, opts.Logger = b.rdb, b.log
	w, err := NewWorker(opts, HandlerDeps{Store: b.store, API: fake, Enqueuer: b.queue, Logger: b.log}, b.cfg.settings)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	select {
	case <-hung:
	case <-time.After(10 * time.Second):
		tb.Fatal("CreateJob never called")
	}
	stopped := time.Now()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			tb.Fatal(err)
		}
	case <-time.After(10 * time.Second): // a hang, not a slow machine
		tb.Fatal("Run did not return")
	}
	return b, w, time.Since(stopped)
}

// BenchmarkWorkerShutdown reports how long Run takes to return after its context ends
// while a call hangs, with a ShutdownTimeout of 300 ms (the target: about that).
func BenchmarkWorkerShutdown(b *testing.B) {
	var total time.Duration
	for range b.N {
		_, _, d := hungShutdown(b)
		total += d
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "shutdown_ms")
}

// Run returns once its context ends (how fast: BenchmarkWorkerShutdown); a task still
// running then is put back in its queue, and the next worker finishes the item with one
// job.
func TestWorkerShutdownLosesNothing(t *testing.T) {
	t.Parallel()
	b, w, took := hungShutdown(t)
	t.Logf("shutdown took %v with a 300ms timeout", took)
	if err := w.Run(context.Background()); err == nil {
		t.Error("a Worker ran twice")
	}
	r := b.item("b", "s1")
	if r.State != batch.StateSubmitting {
		t.Errorf("item is %s (%q), want submitting: a cancelled call records nothing final", r.State, r.Error)
	}
	in := asynq.NewInspectorFromRedisClient(b.rdb)
	info, err := in.GetTaskInfo(QueueSongs, SubmitTaskID(refOf(r)))
	if err != nil || info.State != asynq.TaskStatePending || info.Retried != 0 {
		t.Fatalf("submit task after shutdown: %+v, %v; want pending again, no retry spent", info, err)
	}

	// The next worker reconciles (nothing under the customId, the claim old enough) and
	// creates the job once.
	var mu sync.Mutex
	var jobs []upstream.Job
	good := &fakeAPI{
		create: func(_ context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
			mu.Lock()
			defer mu.Unlock()
			j := upstream.Job{ID: "job-1", CustomID: req.CustomID, State: upstream.StateSubmitted, Outputs: req.Outputs,
				Timing: upstream.Timing{CreatedAt: upstream.MillisOf(time.Now())}}
			jobs = append(jobs, j)
			return &j, nil
		},
		list: func(context.Context, string) ([]upstream.Job, error) {
			mu.Lock()
			defer mu.Unlock()
			return append([]upstream.Job(nil), jobs...), nil
		},
		get: func(_ context.Context, id string) (*upstream.Job, error) {
			mu.Lock()
			defer mu.Unlock()
			return completedSong(jobs[0], "out.wav"), nil
		},
	}
	// Pretend the claim is old: ReconcileDelay of the next worker is short.
	set := b.cfg.settings
	set.ReconcileDelay = 200 * time.Millisecond
	opts := b.cfg.worker
	opts.Redis, opts.Logger = b.rdb, b.log
	w2, err := NewWorker(opts, HandlerDeps{Store: b.store, API: good, Enqueuer: b.queue, Logger: b.log}, set)
	if err != nil {
		t.Fatal(err)
	}
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan error, 1)
	go func() { done2 <- w2.Run(ctx2) }()
	t.Cleanup(func() { cancel2(); <-done2 })
	b.waitDone("b", 10*time.Second)
	if r := b.item("b", "s1"); r.State != batch.StateCompleted || r.JobID != "job-1" {
		t.Errorf("item %s job %q (%q), want completed with job-1", r.State, r.JobID, r.Error)
	}
	if creates, _, lists := good.counts(); creates != 1 || lists < 1 {
		t.Errorf("CreateJob %d, ListJobs %d; want 1 and at least 1", creates, lists)
	}
}
