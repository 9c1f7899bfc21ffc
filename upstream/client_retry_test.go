package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// TestRetryBackoff: a transient GetJob is tried MaxAttempts times, with full-jitter
// exponential waits (Rand is 0.5, so each wait is half its ceiling) and the gate
// consulted before every attempt.
func TestRetryBackoff(t *testing.T) {
	t.Parallel()
	b := setupClient(t, reply(502, "bad gateway"))
	_, err := b.client.GetJob(t.Context(), "job-1")
	assertClass(t, err, upstream.ErrTransient)
	if n := b.rec.count(); n != upstream.DefaultMaxAttempts {
		t.Errorf("server got %d requests, want %d", n, upstream.DefaultMaxAttempts)
	}
	wantWaits := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	if got := b.waits(); !reflect.DeepEqual(got, wantWaits) {
		t.Errorf("waits %v, want %v", got, wantWaits)
	}
	wantEvents := []string{
		"wait GetJob", "request", "release GetJob", "wait GetJob", "request", "release GetJob",
		"wait GetJob", "request", "release GetJob", "wait GetJob", "request", "release GetJob",
	}
	if got := b.gate.log(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("gate/server events %v, want %v", got, wantEvents)
	}
}

// TestRetryBackoffCap: the ceiling stops growing at the cap, and Rand spans it.
func TestRetryBackoffCap(t *testing.T) {
	t.Parallel()
	b := setupClient(t, reply(500, ""), func(o *upstream.Options) {
		o.MaxAttempts = 10
		o.Rand = func() float64 { return 0.999 }
	})
	_, err := b.client.ListJobs(t.Context(), "item-1")
	assertClass(t, err, upstream.ErrTransient)
	waits := b.waits()
	if len(waits) != 9 {
		t.Fatalf("waits %v, want 9", waits)
	}
	for i, w := range waits {
		ceiling := min(10*time.Second, 200*time.Millisecond<<i)
		if w > ceiling || w < ceiling*99/100 {
			t.Errorf("wait %d = %s, want just under %s", i, w, ceiling)
		}
	}
}

// TestRetryThenSuccess: two transient failures, then the job.
func TestRetryThenSuccess(t *testing.T) {
	t.Parallel()
	b := setupClient(t, sequence(reply(503, ""), reply(200, "<html>"), reply(200, jobReply("job-1"))))
	job, err := b.client.GetJob(t.Context(), "job-1")
	if err != nil || job.ID != "job-1" || job.State != upstream.StateProcessing {
		t.Fatalf("GetJob = %+v, %v", job, err)
	}
	if b.rec.count() != 3 {
		t.Errorf("server got %d requests, want 3", b.rec.count())
	}
}

// TestRetryHonoursRetryAfter: the wait is at least what the service asked for, in
// seconds or as a date, and the gate hears of every rate-limited reply.
func TestRetryHonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setupClient(t, sequence(
		reply(429, "", "Retry-After", "2"),
		reply(200, `{"error":{"code":"RequestLimitExceeded"}}`, "Retry-After", testNow.Add(5*time.Second).Format(http.TimeFormat)),
		reply(503, "", "Retry-After", "1"),
		reply(200, `{"listModelsResponse":{"total":0,"models":[]}}`),
	))
	if _, err := b.client.ListModels(t.Context(), 0, 10); err != nil {
		t.Fatalf("ListModels: %v", err)
	}
	want := []time.Duration{2 * time.Second, 5 * time.Second, time.Second}
	if got := b.waits(); !reflect.DeepEqual(got, want) {
		t.Errorf("waits %v, want %v", got, want)
	}
	wantEvents := []string{
		"wait ListModels", "request", "release ListModels", "throttled ListModels 2s",
		"wait ListModels", "request", "release ListModels", "throttled ListModels 5s",
		"wait ListModels", "request", "release ListModels", // a 503 is not a rate limit
		"wait ListModels", "request", "release ListModels",
	}
	if got := b.gate.log(); !reflect.DeepEqual(got, wantEvents) {
		t.Errorf("events %v, want %v", got, wantEvents)
	}
}

// TestThrottledOnEvery429: every rate-limited attempt is reported, also on CreateJob.
func TestThrottledOnEvery429(t *testing.T) {
	t.Parallel()
	b := setupClient(t, reply(429, ""))
	_, err := b.client.GetJob(t.Context(), "job-1")
	assertClass(t, err, upstream.ErrRateLimited)
	_, err = b.client.CreateJob(t.Context(), validCreate())
	assertClass(t, err, upstream.ErrRateLimited)
	if got := len(b.gate.throttle); got != upstream.DefaultMaxAttempts+1 {
		t.Errorf("Throttled called %d times, want %d", got, upstream.DefaultMaxAttempts+1)
	}
	if b.rec.count() != upstream.DefaultMaxAttempts+1 {
		t.Errorf("server got %d requests, want %d", b.rec.count(), upstream.DefaultMaxAttempts+1)
	}
}

// TestRetryGivesUpOnLongWaits: a Retry-After beyond what a call may wait, or beyond
// the caller's deadline, is returned at once instead of slept through.
func TestRetryGivesUpOnLongWaits(t *testing.T) {
	t.Parallel()
	t.Run("beyond a minute", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, reply(429, "", "Retry-After", "3600"))
		_, err := b.client.GetJob(t.Context(), "job-1")
		apiErr := assertClass(t, err, upstream.ErrRateLimited)
		if apiErr.RetryAfter != time.Hour || b.rec.count() != 1 || len(b.waits()) != 0 {
			t.Errorf("retryAfter %s, %d requests, waits %v; want 1h, 1, none", apiErr.RetryAfter, b.rec.count(), b.waits())
		}
	})
	t.Run("beyond the deadline", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, reply(429, "", "Retry-After", "30"))
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		_, err := b.client.GetJob(ctx, "job-1")
		assertClass(t, err, upstream.ErrRateLimited)
		if b.rec.count() != 1 || len(b.waits()) != 0 {
			t.Errorf("%d requests, waits %v; want 1, none", b.rec.count(), b.waits())
		}
	})
}

// TestRetryStopsOnCancel: cancelling during the backoff ends the call with both the
// context's error and the last attempt's.
func TestRetryStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	b := setupClient(t, reply(502, ""), func(o *upstream.Options) {
		o.Sleep = func(ctx context.Context, _ time.Duration) error {
			cancel()
			<-ctx.Done()
			return ctx.Err()
		}
	})
	_, err := b.client.GetJob(ctx, "job-1")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, upstream.ErrTransient) {
		t.Errorf("error %v: want context.Canceled and ErrTransient", err)
	}
	if b.rec.count() != 1 {
		t.Errorf("server got %d requests, want 1", b.rec.count())
	}
	// Already cancelled: nothing more is sent.
	_, err = b.client.GetJob(ctx, "job-1")
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v: want context.Canceled", err)
	}
	if b.rec.count() != 1 {
		t.Errorf("server got %d requests, want still 1", b.rec.count())
	}
}

// TestNoRetryOnPermanent: auth and invalid-request failures are final.
func TestNoRetryOnPermanent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status int
		class  error
	}{{401, upstream.ErrAuth}, {403, upstream.ErrAuth}, {400, upstream.ErrInvalidRequest}, {404, upstream.ErrNotFound}} {
		b := setupClient(t, reply(tc.status, ""))
		_, err := b.client.GetJob(t.Context(), "job-1")
		assertClass(t, err, tc.class)
		if !upstream.Permanent(err) && tc.class != upstream.ErrNotFound {
			t.Errorf("%d: Permanent(%v) = false", tc.status, err)
		}
		if b.rec.count() != 1 || len(b.waits()) != 0 {
			t.Errorf("%d: %d requests, waits %v; want 1, none", tc.status, b.rec.count(), b.waits())
		}
	}
}

// TestGateRefusal: a gate that refuses stops the call before anything is sent.
func TestGateRefusal(t *testing.T) {
	t.Parallel()
	b := setupClient(t, reply(200, jobReply("job-1")))
	refused := errors.New("limiter unavailable")
	b.gate.waitErr = refused
	_, err := b.client.CreateJob(t.Context(), validCreate())
	if !errors.Is(err, refused) {
		t.Errorf("error %v: want the gate's error", err)
	}
	if b.rec.count() != 0 {
		t.Errorf("server got %d requests, want 0", b.rec.count())
	}
}

// TestNilGate: no gate means no limiting, not a panic.
func TestNilGate(t *testing.T) {
	t.Parallel()
	b := setupClient(t, sequence(reply(429, ""), reply(200, jobReply("job-1"))), func(o *upstream.Options) { o.Gate = nil })
	if _, err := b.client.GetJob(t.Context(), "job-1"); err != nil {
		t.Fatalf("GetJob: %v", err)
	}
}
