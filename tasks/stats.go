package tasks

import (
	"context"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// Stats count what this process's handlers did, for metrics: callbacks by outcome,
// upstream calls, and jobs whose end they recorded. Safe for concurrent use.
type Stats struct {
	callbacks map[CallbackOutcome]*atomic.Int64
	calls     atomic.Int64
	finished  atomic.Int64
}

func newStats() *Stats {
	s := &Stats{callbacks: map[CallbackOutcome]*atomic.Int64{}}
	for _, o := range CallbackOutcomes() {
		s.callbacks[o] = new(atomic.Int64)
	}
	return s
}

func (s *Stats) callback(o CallbackOutcome) { s.callbacks[o].Add(1) }

// Callbacks is how many callbacks ended with outcome o.
func (s *Stats) Callbacks(o CallbackOutcome) int64 { return s.callbacks[o].Load() }

// UpstreamCalls is how many calls the handlers made to the service.
func (s *Stats) UpstreamCalls() int64 { return s.calls.Load() }

// FinishedJobs is how many jobs' ends the handlers recorded (by poll or callback).
func (s *Stats) FinishedJobs() int64 { return s.finished.Load() }

// Stats are the handlers' counters.
func (h *Handlers) Stats() *Stats { return h.stats }

// countedAPI counts the handlers' calls to the service (a model listing counts once,
// whatever its pages): in this process's Stats, and on the item the call was made for
// (its record and its batch's, for reports and the done notification).
type countedAPI struct {
	JobAPI
	calls *atomic.Int64
	store *batch.Store
	log   *zap.Logger
}

// callOwnerKey marks a context with the item its upstream calls are spent on.
type callOwnerKey struct{}

// forItem makes the upstream calls made with ctx count on the item's record.
func forItem(ctx context.Context, ref ItemRef) context.Context {
	return context.WithValue(ctx, callOwnerKey{}, ref)
}

// count adds a call to the process's counter and to the item of ctx, if any. A count
// that cannot be written is logged, not returned: the call itself went through.
func (c countedAPI) count(ctx context.Context) {
	c.calls.Add(1)
	ref, ok := ctx.Value(callOwnerKey{}).(ItemRef)
	if !ok || c.store == nil {
		return
	}
	if err := c.store.AddCall(context.WithoutCancel(ctx), ref.Batch, ref.Item); err != nil {
		c.log.Warn("cannot count an upstream call on its item", zap.String("batch", ref.Batch), zap.String("item", ref.Item), zap.Error(err))
	}
}

func (c countedAPI) CreateJob(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error) {
	c.count(ctx)
	return c.JobAPI.CreateJob(ctx, req)
}

func (c countedAPI) GetJob(ctx context.Context, id string) (*upstream.Job, error) {
	c.count(ctx)
	return c.JobAPI.GetJob(ctx, id)
}

func (c countedAPI) ListJobs(ctx context.Context, customID string) ([]upstream.Job, error) {
	c.count(ctx)
	return c.JobAPI.ListJobs(ctx, customID)
}

func (c countedAPI) ListJobsPartial(ctx context.Context, customID string) ([]upstream.Job, int, error) {
	c.count(ctx)
	return c.JobAPI.ListJobsPartial(ctx, customID)
}

func (c countedAPI) AllModels(ctx context.Context) ([]upstream.Model, error) {
	c.count(ctx)
	return c.JobAPI.AllModels(ctx)
}
