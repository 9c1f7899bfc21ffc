package tasks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"github.com/singbatch/singbatch/batch"
)

// parkIfPaused parks an item about to be sent whose batch is paused: its submit task
// ends, and Resume queues it again. Jobs already at the service are not concerned.
func (h *Handlers) parkIfPaused(ctx context.Context, rec batch.ItemRecord) (bool, error) {
	parked, err := h.store.ParkIfPaused(ctx, rec.Batch, rec.ID)
	if err != nil {
		return false, fmt.Errorf("submit %s/%s: %w", rec.Batch, rec.ID, err)
	}
	if parked {
		h.log.Info("item parked: its batch is paused", itemFields(rec)...)
	}
	return parked, nil
}

// Resume lifts a batch's pause and queues the submit task of every item parked
// meanwhile; it returns how many it queued. Safe to repeat: an item still parked after
// a failure is queued by the next Resume, and a task Asynq holds already is not doubled.
func Resume(ctx context.Context, store *batch.Store, q TaskEnqueuer, name string) (int, error) {
	ids, err := store.Resume(ctx, name)
	if err != nil {
		return 0, err
	}
	// A task id of its own: the parking task may not have ended yet, and a second
	// submit task of an item is harmless (the claim decides).
	suffix := ":resume:" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	queued := 0
	for _, id := range ids {
		rec, err := store.Item(ctx, name, id)
		if err != nil {
			return queued, fmt.Errorf("resume %s: %w", name, err)
		}
		task, err := NewSubmitTask(refOf(rec), rec.Kind)
		if err != nil {
			return queued, err
		}
		if _, err := q.EnqueueContext(ctx, task, asynq.TaskID(SubmitTaskID(refOf(rec))+suffix)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return queued, fmt.Errorf("resume %s: queue %s: %w", name, id, err)
		}
		queued++
	}
	if err := store.AckParked(ctx, name, ids); err != nil {
		return queued, err
	}
	return queued, nil
}
