package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

func TestRetryPolicyDelay(t *testing.T) {
	t.Parallel()
	for _, u := range []float64{0, 0.5, 0.999} {
		p := RetryPolicy{Base: time.Second, Cap: time.Minute, ReconcileDelay: 30 * time.Second, Rand: func() float64 { return u }}
		rateLimited := &upstream.APIError{Action: upstream.ActionGetJob, StatusCode: 429, Class: upstream.ErrRateLimited, RetryAfter: 7 * time.Second}
		ambiguous := &upstream.APIError{Action: upstream.ActionCreateJob, Class: upstream.ErrAmbiguous}
		transient := fmt.Errorf("poll: %w", &upstream.APIError{Action: upstream.ActionGetJob, StatusCode: 503, Class: upstream.ErrTransient})
		cases := []struct {
			name     string
			n        int
			err      error
			min, max time.Duration
		}{
			{"not yet carries its delay", 3, notYet(1234*time.Millisecond, "x"), 1234 * time.Millisecond, 1234 * time.Millisecond},
			{"Retry-After is honoured", 0, fmt.Errorf("wrapped: %w", rateLimited), 7 * time.Second, 7*time.Second + 700*time.Millisecond},
			{"rate limited without Retry-After", 9, &upstream.APIError{Class: upstream.ErrRateLimited}, 0, time.Second},
			{"ambiguous waits for reconciliation", 0, fmt.Errorf("create: %w", ambiguous), 31 * time.Second, 31*time.Second + 7500*time.Millisecond},
			{"first retry", 0, transient, 0, time.Second},
			{"fourth retry", 3, transient, 0, 8 * time.Second},
			{"capped", 20, transient, 0, time.Minute},
		}
		for _, c := range cases {
			got := p.Delay(c.n, c.err, nil)
			if got < c.min || got > c.max {
				t.Errorf("u=%v %s: %v, want in [%v, %v]", u, c.name, got, c.min, c.max)
			}
		}
	}
}

func TestIsFailure(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		err  error
		want bool
	}{
		{notYet(time.Second, "model training"), false},
		{fmt.Errorf("x: %w", &upstream.APIError{Class: upstream.ErrRateLimited}), false},
		{context.Canceled, false},
		{&upstream.APIError{Class: upstream.ErrTransient}, true},
		{&upstream.APIError{Class: upstream.ErrAmbiguous}, true},
		{errors.New("redis: connection refused"), true},
	} {
		if got := IsFailure(c.err); got != c.want {
			t.Errorf("IsFailure(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}

// On a task's last run an item never stays behind non-final: a submitting item is
// reconciled once more, adopted if its job exists, failed if not.
func TestSubmitGivesUpOnLastRun(t *testing.T) {
	t.Parallel()

	start := func(t *testing.T, fake *fakeAPI) *bundle {
		b := newBundle(t, func(c *bundleConfig) { c.fake = fake })
		b.addManifest("b", oneSong)
		// MaxRetry(0): the first run is the last.
		if _, err := b.queue.Enqueue(b.submitTask("b", "s1"), asynq.MaxRetry(0)); err != nil {
			t.Fatal(err)
		}
		b.start()
		return b
	}

	t.Run("no job: failed", func(t *testing.T) {
		t.Parallel()
		fake := &fakeAPI{create: func(context.Context, *upstream.CreateJobRequest) (*upstream.Job, error) {
			return nil, &upstream.APIError{Action: upstream.ActionCreateJob, Class: upstream.ErrTransient, Message: "no reply"}
		}}
		b := start(t, fake)
		b.waitDone("b", 10*time.Second)
		r := b.item("b", "s1")
		if r.State != batch.StateFailed || !strings.HasPrefix(r.Error, "gave up after 1 runs: ") ||
			!strings.Contains(r.Error, "no job exists under customId "+r.CustomID) {
			t.Errorf("item %s %q, want failed after looking up its customId", r.State, r.Error)
		}
		if _, _, lists := fake.counts(); lists != 1 {
			t.Errorf("ListJobs calls = %d, want 1 (the last look)", lists)
		}
	})

	t.Run("job created by a lost call: adopted", func(t *testing.T) {
		t.Parallel()
		var mu sync.Mutex
		var created []upstream.Job
		fake := &fakeAPI{
			create: func(_ context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
				mu.Lock()
				created = append(created, upstream.Job{ID: "job-1", CustomID: req.CustomID, State: upstream.StateSubmitted,
					Outputs: req.Outputs, Timing: upstream.Timing{CreatedAt: upstream.MillisOf(time.Now())}})
				mu.Unlock()
				return nil, &upstream.APIError{Action: upstream.ActionCreateJob, Class: upstream.ErrAmbiguous, Message: "request sent, no reply"}
			},
			list: func(_ context.Context, cid string) ([]upstream.Job, error) {
				mu.Lock()
				defer mu.Unlock()
				return append([]upstream.Job(nil), created...), nil
			},
			get: func(_ context.Context, id string) (*upstream.Job, error) {
				mu.Lock()
				defer mu.Unlock()
				return completedSong(created[0], "out.wav"), nil
			},
		}
		b := start(t, fake)
		b.waitDone("b", 10*time.Second)
		r := b.item("b", "s1")
		if r.State != batch.StateCompleted || r.JobID != "job-1" || r.OutputPath != "/singbatch/s1/out.wav" {
			t.Errorf("item %s job %q path %q error %q, want completed with job-1", r.State, r.JobID, r.OutputPath, r.Error)
		}
		if creates, _, _ := fake.counts(); creates != 1 {
			t.Errorf("CreateJob calls = %d, want 1", creates)
		}
	})
}
