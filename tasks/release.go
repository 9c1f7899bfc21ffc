package tasks

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/upstream"
)

// releaseTries bounds the enqueue attempts for one released waiter.
const releaseTries = 3

// releasePage is how many waiters a releaser reads, resubmits and acknowledges at once.
const releasePage = 500

// release resubmits the songs waiting for a model whose training ended (ready or
// failed): each waiter gets a TypeSubmit task of its current attempt, whose handler
// submits it or fails it with the training's reason. While the model still trains
// there is nobody to release.
//
// Crash-safe and idempotent: waiters are read (PendingWaiters), their tasks enqueued,
// and only then removed (AckWaiters). A crash in between leaves them registered, and
// the next releaser (the redelivered poll or submit task) enqueues them again. Two
// releasers of the same waiters enqueue the same task id, "submit id:release:MODEL:MS"
// with MS the model's last change as its record says, so Asynq keeps one task while it
// holds it; a task enqueued again after the first has run finds its item no longer
// waiting and does nothing (workSubmit). The id is never the one of the task that
// made the song wait: that task may still be running, and a conflict with it would
// leave the item waiting for good.
func (h *Handlers) release(ctx context.Context, model string) error {
	return releaser{store: h.store, queue: h.queue, log: h.log}.release(ctx, model)
}

// releaser resubmits the songs waiting for a model: for the handlers when a training
// ends, and for an enqueue run when it ends (songs that waited for its later lines).
type releaser struct {
	store *batch.Store
	queue TaskEnqueuer
	log   *zap.Logger
}

func (h releaser) release(ctx context.Context, model string) error {
	if model == "" || model == upstream.DefaultModel {
		return nil
	}
	released, changes := 0, 0
	var m batch.ModelRecord
	for {
		var waiters []batch.Waiter
		var err error
		m, waiters, err = h.store.PendingWaiters(ctx, model, releasePage)
		if err != nil {
			return fmt.Errorf("release waiters of model %s: %w", model, err)
		}
		if len(waiters) == 0 {
			break
		}
		done := make([]batch.Waiter, 0, len(waiters))
		var failed error
		for _, w := range waiters {
			if err := h.releaseOne(ctx, m, w); err != nil {
				failed = fmt.Errorf("release %s/%s, waiting for model %s: %w", w.Batch, w.ID, model, err)
				continue // still registered: this task's retry releases it
			}
			done = append(done, w)
		}
		err = h.store.AckWaiters(ctx, m, done)
		if err != nil && !errors.Is(err, batch.ErrModelChanged) {
			return fmt.Errorf("release waiters of model %s: %w", model, err)
		}
		if failed != nil {
			return failed
		}
		if err != nil {
			// Trained again, or another outcome since the read: read them afresh (a
			// model changing on every read is no reason to spin: the retry goes on).
			if changes++; changes > releaseTries {
				return fmt.Errorf("release waiters of model %s: %w", model, err)
			}
			continue
		}
		released += len(done)
		if len(waiters) < releasePage {
			break
		}
	}
	if released > 0 {
		h.log.Info("released the songs waiting for a model", zap.String("model", model),
			zap.String("modelState", string(m.State)), zap.Int("waiters", released))
	}
	return nil
}

func (h releaser) releaseOne(ctx context.Context, m batch.ModelRecord, w batch.Waiter) error {
	var rec batch.ItemRecord
	var err error
	for try := 1; try <= releaseTries; try++ {
		if try > 1 {
			if err := ctxtime.Sleep(ctx, time.Duration(try)*100*time.Millisecond); err != nil {
				return err
			}
		}
		rec, err = h.store.Item(ctx, w.Batch, w.ID)
		if errors.Is(err, batch.ErrItemNotFound) {
			return nil // gone with its batch
		}
		if err != nil {
			continue
		}
		ref := refOf(rec)
		var prio batch.Priority
		if prio, err = h.store.Priority(ctx, rec.Batch); err != nil {
			continue
		}
		var t *asynq.Task
		if t, err = NewSubmitTask(ref, rec.Kind, prio); err != nil {
			return err
		}
		id := SubmitTaskID(ref) + ":release:" + m.Name + ":" + strconv.FormatInt(int64(batch.UnixMillisOf(m.UpdatedAt)), 10)
		if _, err = h.queue.EnqueueContext(ctx, t, asynq.TaskID(id)); err == nil || errors.Is(err, asynq.ErrTaskIDConflict) {
			return nil
		}
	}
	return err
}
