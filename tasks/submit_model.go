package tasks

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// modelUsable decides whether a song may be submitted now. It reports true to go on;
// otherwise it has already put the item where it belongs: waiting for its model's
// training (registered as a waiter, no quota or retry spent), or failed.
//
// Model records are global, so a song waits for a training of any batch. A model
// without a record is looked up among the service's models (trained elsewhere).
func (h *Handlers) modelUsable(ctx context.Context, rec batch.ItemRecord) (bool, error) {
	model := rec.Model
	if model == upstream.DefaultModel {
		return true, nil
	}
	// Registering and reading the state are one step, so the training's releaser,
	// which reads the waiters after changing the state, cannot miss this item.
	st, err := h.store.AddWaiter(ctx, model, rec.Batch, rec.ID)
	if err != nil {
		return false, fmt.Errorf("check model %s: %w", model, err)
	}
	switch st {
	case batch.ModelReady:
		return true, nil
	case batch.ModelTraining:
		ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt,
			[]batch.State{batch.StatePending}, batch.StateWaiting, batch.Update{})
		if err != nil {
			return false, fmt.Errorf("wait for model %s: %w", model, err)
		}
		if ok {
			h.log.Info("item waits for its model's training", append(itemFields(cur), zap.String("model", model))...)
		}
		return false, nil
	case batch.ModelFailed:
		m, err := h.store.ModelState(ctx, model)
		if err != nil {
			return false, fmt.Errorf("check model %s: %w", model, err)
		}
		if m.State != batch.ModelFailed {
			// Trained again since: decide afresh on the next run.
			return false, notYet(0, "model %s changed state to %s", model, m.State)
		}
		reason := m.Error
		if reason == "" {
			reason = "no reason recorded"
		}
		return false, h.fail(ctx, rec, []batch.State{batch.StatePending, batch.StateWaiting},
			fmt.Sprintf("model %s: training failed: %s", model, reason))
	case batch.ModelUnknown:
		listed, err := h.models.listed(ctx, model)
		if err != nil {
			if ctx.Err() != nil {
				return false, ctx.Err()
			}
			return false, fmt.Errorf("check model %s: %w", model, err)
		}
		if !listed {
			// A later line of the run that read this song may still train the model.
			if waits, err := h.waitForRun(ctx, rec); err != nil || waits {
				return false, err
			}
			return false, h.fail(ctx, rec, []batch.State{batch.StatePending, batch.StateWaiting},
				fmt.Sprintf("model %s: not found: not %q, not trained by singbatch, not listed by the service",
					model, upstream.DefaultModel))
		}
		// Record it, so that later songs need not ask the service.
		if _, err := h.store.SetModelReady(ctx, model); err != nil {
			return false, fmt.Errorf("record model %s as ready: %w", model, err)
		}
		return true, nil
	}
	return false, fmt.Errorf("model %s: unexpected state %q", model, st)
}

// runRecheckMargin is how long after its run's lease a waiting song looks again.
const runRecheckMargin = 5 * time.Second

// waitForRun makes a song whose model nobody knows wait while the enqueue run that read
// it is open: the order of lines must not matter, and a line further on may train the
// model. The song is registered as the model's waiter, so that a training added later
// releases it when it ends, and the run's end releases it otherwise (enqueuer.end). It
// also gets a re-check at the end of the run's lease, for a run that crashed, or ended
// between this look and the registration. It reports false when the run is over: the
// caller decides.
func (h *Handlers) waitForRun(ctx context.Context, rec batch.ItemRecord) (bool, error) {
	st, lease, err := h.store.Run(ctx, rec.Run)
	if err != nil {
		return false, fmt.Errorf("check model %s: %w", rec.Model, err)
	}
	if st != batch.RunOpen {
		return false, nil
	}
	mst, err := h.store.AddWaiterUnknown(ctx, rec.Model, rec.Batch, rec.ID)
	if err != nil {
		return false, fmt.Errorf("wait for model %s: %w", rec.Model, err)
	}
	if mst != batch.ModelUnknown {
		// A line of the run trains it now: decide afresh.
		return false, notYet(0, "model %s appeared as %s", rec.Model, mst)
	}
	if rec.State == batch.StatePending {
		ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt,
			[]batch.State{batch.StatePending}, batch.StateWaiting, batch.Update{})
		if err != nil {
			return false, fmt.Errorf("wait for model %s: %w", rec.Model, err)
		}
		if ok {
			h.log.Info("item waits for the rest of its enqueue run, which may train its model",
				append(itemFields(cur), zap.String("model", rec.Model))...)
		}
	}
	due := h.now().Add(lease + runRecheckMargin)
	prio, err := h.store.Priority(ctx, rec.Batch)
	if err != nil {
		return false, fmt.Errorf("wait for model %s: %w", rec.Model, err)
	}
	t, err := NewSubmitTask(refOf(rec), rec.Kind, prio)
	if err != nil {
		return false, err
	}
	id := SubmitTaskID(refOf(rec)) + ":run-end:" + strconv.FormatInt(due.Unix(), 10)
	if err := h.enqueue(ctx, t, asynq.TaskID(id), asynq.ProcessAt(due)); err != nil {
		return false, fmt.Errorf("wait for model %s: re-check: %w", rec.Model, err)
	}
	return true, nil
}

// modelCache is the service's model list (ListModels), cached per process. A name found
// once stays found (models are not deleted); a name not found refreshes the list, at
// most once per ttl however many lookups miss.
type modelCache struct {
	list func(context.Context) ([]upstream.Model, error)
	ttl  time.Duration
	now  func() time.Time

	sem     chan struct{} // one lookup at a time; lookups that queue honour their context
	names   map[string]struct{}
	fetched time.Time // zero: never
}

func newModelCache(list func(context.Context) ([]upstream.Model, error), ttl time.Duration, now func() time.Time) *modelCache {
	return &modelCache{list: list, ttl: ttl, now: now, sem: make(chan struct{}, 1), names: map[string]struct{}{}}
}

// listed reports whether the service lists a model named name.
func (c *modelCache) listed(ctx context.Context, name string) (bool, error) {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	defer func() { <-c.sem }()
	if _, ok := c.names[name]; ok {
		return true, nil
	}
	if !c.fetched.IsZero() && c.now().Sub(c.fetched) < c.ttl {
		return false, nil
	}
	models, err := c.list(ctx)
	if err != nil {
		return false, fmt.Errorf("list the service's models: %w", err)
	}
	c.fetched = c.now()
	for _, m := range models {
		c.names[m.Name] = struct{}{}
	}
	_, ok := c.names[name]
	return ok, nil
}
