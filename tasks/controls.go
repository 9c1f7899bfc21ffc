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
)

// canceledReason is the error recorded on an item its batch's cancel ended.
const canceledReason = "canceled before a job was sent: its batch was canceled"

// hold asks whether the item's batch holds it back before its CreateJob (paused,
// canceled, over a cap), and parks or cancels it if so. Checked before the rate-limit
// token is taken, which a held item would waste; Claim checks again in its own step.
func (h *Handlers) hold(ctx context.Context, rec batch.ItemRecord) (bool, batch.Priority, error) {
	o, prio, err := h.store.CheckHold(ctx, rec.Batch, rec.ID, rec.Attempt, h.caps())
	if err != nil {
		return false, prio, fmt.Errorf("submit %s/%s: %w", rec.Batch, rec.ID, err)
	}
	return o.Held(), prio, h.held(ctx, rec, o)
}

// held acts on a claim's outcome that held the item back.
func (h *Handlers) held(ctx context.Context, rec batch.ItemRecord, o batch.ClaimOutcome) error {
	switch {
	case o == batch.Canceled:
		return h.end(ctx, rec, []batch.State{batch.StatePending, batch.StateWaiting, batch.StateSubmitting},
			batch.StateCanceled, canceledReason)
	case o.Held():
		h.log.Info("item "+o.String(), itemFields(rec)...)
	}
	return nil
}

func (h *Handlers) caps() batch.ClaimCaps {
	return batch.ClaimCaps{AccountPerDay: h.set.AccountMaxJobsPerDay}
}

// Controls carries out the operator's commands on a batch (singbatch pause, resume,
// cancel, enqueue --max-jobs, and the dashboard's buttons).
type Controls struct {
	Store *batch.Store
	Queue TaskEnqueuer
	Log   *zap.Logger // nil: none
}

// Pause stops new CreateJob calls for a batch on every worker: items about to be sent
// park instead. It returns 0 (nothing is queued), like the other controls' counts.
func (c Controls) Pause(ctx context.Context, name string) (int, error) {
	return 0, c.Store.Pause(ctx, name)
}

// Resume lifts a batch's pause and queues again the items parked meanwhile; it
// returns how many it queued.
func (c Controls) Resume(ctx context.Context, name string) (int, error) {
	ids, err := c.Store.Resume(ctx, name)
	if err != nil {
		return 0, err
	}
	return c.requeue(ctx, name, ids, "resume")
}

// SetMaxJobs sets a batch's cap on jobs created (0: none) and queues again the items
// parked over the old one; those still over the new cap park again.
func (c Controls) SetMaxJobs(ctx context.Context, name string, n int64) (int, error) {
	if err := c.Store.SetMaxJobs(ctx, name, n); err != nil {
		return 0, err
	}
	return c.Unpark(ctx, name)
}

// Unpark queues again every parked item of a batch: those its batch still holds
// (paused, over a cap) park again.
func (c Controls) Unpark(ctx context.Context, name string) (int, error) {
	ids, err := c.Store.Unpark(ctx, name)
	if err != nil {
		return 0, err
	}
	return c.requeue(ctx, name, ids, "unpark")
}

// Cancel cancels a batch: every item no job was sent for becomes canceled (those of
// a training fail their model, and the songs waiting for it are released), and Claim
// sends nothing more for it. Jobs at the service are followed to their end. It
// returns how many items this call canceled. Safe to repeat.
func (c Controls) Cancel(ctx context.Context, name string) (int, error) {
	if err := c.Store.Cancel(ctx, name); err != nil {
		return 0, err
	}
	canceled := 0
	rel := releaser{store: c.Store, queue: c.Queue, log: c.logger()}
	// Items pages by position, not by state: changing states as it goes is safe.
	err := c.Store.Items(ctx, name, []batch.State{batch.StatePending, batch.StateWaiting}, func(it batch.ItemRecord) error {
		ok, cur, err := c.Store.Transition(ctx, name, it.ID, it.Attempt,
			[]batch.State{batch.StatePending, batch.StateWaiting}, batch.StateCanceled, batch.Update{Error: canceledReason})
		if err != nil {
			return err
		}
		if ok {
			canceled++
		}
		if cur.Kind == batch.KindTrain && cur.State.Final() {
			return rel.release(ctx, cur.Model)
		}
		return nil
	})
	if err != nil {
		return canceled, fmt.Errorf("cancel %s: %w", name, err)
	}
	if err := c.Store.ClearParked(ctx, name); err != nil {
		return canceled, err
	}
	announceEnd(ctx, c.Store, c.Queue, c.logger(), name)
	return canceled, nil
}

func (c Controls) logger() *zap.Logger {
	if c.Log == nil {
		return zap.NewNop()
	}
	return c.Log
}

// requeue queues the submit task of each parked item. The items leave the parked set
// when their tasks send them (Store.Claim), or park again: none is lost if this stops
// midway, and a second call queues a task again, which is harmless (the claim decides).
func (c Controls) requeue(ctx context.Context, name string, ids []string, why string) (int, error) {
	// A task id of its own: the parking task may not have ended yet.
	suffix := ":" + why + ":" + strconv.FormatInt(time.Now().UnixMilli(), 10)
	prio, err := c.Store.Priority(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", why, name, err)
	}
	queued := 0
	for _, id := range ids {
		rec, err := c.Store.Item(ctx, name, id)
		if err != nil {
			return queued, fmt.Errorf("%s %s: %w", why, name, err)
		}
		if rec.State.Final() {
			continue
		}
		task, err := NewSubmitTask(refOf(rec), rec.Kind, prio)
		if err != nil {
			return queued, err
		}
		if _, err := c.Queue.EnqueueContext(ctx, task, asynq.TaskID(SubmitTaskID(refOf(rec))+suffix)); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return queued, fmt.Errorf("%s %s: queue %s: %w", why, name, id, err)
		}
		queued++
	}
	return queued, nil
}

// applyBatchOptions records an enqueue run's settings of its batch (cap, notification),
// creating the batch if need be, before the run queues any of its items.
func applyBatchOptions(ctx context.Context, store *batch.Store, q TaskEnqueuer, opts EnqueueOptions) error {
	if opts.MaxJobs == nil && opts.Notify == "" && opts.Priority == nil {
		return nil
	}
	if _, err := store.CreateBatch(ctx, opts.Batch); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	if opts.Notify != "" {
		if err := store.SetNotify(ctx, opts.Batch, opts.Notify); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	if opts.Priority != nil {
		if err := store.SetPriority(ctx, opts.Batch, *opts.Priority); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	if opts.MaxJobs != nil {
		if _, err := (Controls{Store: store, Queue: q}).SetMaxJobs(ctx, opts.Batch, *opts.MaxJobs); err != nil {
			return fmt.Errorf("enqueue: %w", err)
		}
	}
	return nil
}
