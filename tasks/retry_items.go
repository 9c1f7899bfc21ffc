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

// RetryResult is what RetryItems did.
type RetryResult struct {
	Retried int         // items now pending in a new attempt, their TypeSubmit enqueued
	Skipped []RetrySkip // items chosen but not retried
}

// RetrySkip is an item RetryItems left as it was.
type RetrySkip struct {
	ID     string
	Reason string
}

// RetryItems starts a new attempt (Store.NewAttempt: pending, attempt+1, so a new
// customId) of items of a batch that are in state from (which must be final; `singbatch
// retry` uses failed) and enqueues their TypeSubmit tasks. With ids, only those items;
// without, every item of the batch in state from. Retrying canceled items lifts the
// batch's cancel.
//
// Every new attempt is recorded before any task is enqueued: a retried training takes
// its model name back (training) before the songs retried with it run, so they wait
// for it rather than fail again on its old failure.
//
// A new attempt that was recorded but whose task could not be enqueued (Redis failed
// midway) is pending without a task; running the same command again does not find it
// (it is no longer in state from); `singbatch enqueue` of its manifest or ResumeItems
// (state pending) does.
func RetryItems(ctx context.Context, store *batch.Store, q TaskEnqueuer, batchName string, from batch.State, ids []string) (RetryResult, error) {
	var res RetryResult
	if !from.Final() {
		return res, fmt.Errorf("retry: only items in a final state can be retried, not %q", from)
	}
	if len(ids) == 0 {
		err := store.Items(ctx, batchName, []batch.State{from}, func(r batch.ItemRecord) error {
			ids = append(ids, r.ID)
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("retry: %w", err)
		}
	} else if _, err := store.Batch(ctx, batchName); err != nil {
		return res, fmt.Errorf("retry: %w", err)
	}
	if from == batch.StateCanceled {
		// Taking canceled items back takes the batch back: its claims send again.
		if err := store.Uncancel(ctx, batchName); err != nil {
			return res, fmt.Errorf("retry: %w", err)
		}
	}
	retried := make([]batch.ItemRecord, 0, len(ids))
	for _, id := range ids {
		ok, rec, err := store.NewAttempt(ctx, batchName, id, from)
		var taken *batch.ModelTakenError
		switch {
		case errors.Is(err, batch.ErrItemNotFound):
			res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: "no such item in batch " + batchName})
		case errors.As(err, &taken):
			res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: taken.Error()})
		case err != nil:
			return res, fmt.Errorf("retry: %w", err)
		case !ok:
			res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: fmt.Sprintf("is %s, not %s", rec.State, from)})
		default:
			retried = append(retried, rec)
		}
	}
	if len(retried) > 0 {
		if err := store.Reopen(ctx, batchName); err != nil {
			return res, fmt.Errorf("retry: %w", err)
		}
	}
	prio, err := store.Priority(ctx, batchName)
	if err != nil {
		return res, fmt.Errorf("retry: %w", err)
	}
	for _, rec := range retried {
		t, err := NewSubmitTask(refOf(rec), rec.Kind, prio)
		if err != nil {
			return res, err
		}
		if _, err := q.EnqueueContext(ctx, t); err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
			return res, fmt.Errorf("retry: item %s is pending in attempt %d but its task was not enqueued: %w",
				rec.ID, rec.Attempt, err)
		}
		res.Retried++
	}
	return res, nil
}

// ResumeItems re-enqueues the TypeSubmit task of the current attempt of items in a
// non-final state (`singbatch retry --state waiting|submitting|submitted|pending`), for
// items whose task was lost: a song left waiting after its model's training ended, an
// item whose task was archived. No new attempt is started and nothing is sent twice:
// the submit handler does what the item's state calls for (submit or fail a waiting
// song, reconcile a submitting one, schedule the poll of a submitted one). Each task
// gets a fresh id, so a task Asynq still holds for the item does not hide it; the
// handler's guards make the duplicate harmless.
func ResumeItems(ctx context.Context, store *batch.Store, q TaskEnqueuer, batchName string, state batch.State, ids []string) (RetryResult, error) {
	var res RetryResult
	if !state.Valid() || state.Final() {
		return res, fmt.Errorf("resume: only items in a non-final state can be resumed, not %q", state)
	}
	var recs []batch.ItemRecord
	if len(ids) == 0 {
		err := store.Items(ctx, batchName, []batch.State{state}, func(r batch.ItemRecord) error {
			recs = append(recs, r)
			return nil
		})
		if err != nil {
			return res, fmt.Errorf("resume: %w", err)
		}
	} else {
		if _, err := store.Batch(ctx, batchName); err != nil {
			return res, fmt.Errorf("resume: %w", err)
		}
		for _, id := range ids {
			r, err := store.Item(ctx, batchName, id)
			switch {
			case errors.Is(err, batch.ErrItemNotFound):
				res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: "no such item in batch " + batchName})
			case err != nil:
				return res, fmt.Errorf("resume: %w", err)
			case r.State != state:
				res.Skipped = append(res.Skipped, RetrySkip{ID: id, Reason: fmt.Sprintf("is %s, not %s", r.State, state)})
			default:
				recs = append(recs, r)
			}
		}
	}
	stamp := strconv.FormatInt(time.Now().UnixMilli(), 10)
	prio, err := store.Priority(ctx, batchName)
	if err != nil {
		return res, fmt.Errorf("resume: %w", err)
	}
	for _, r := range recs {
		ref := refOf(r)
		t, err := NewSubmitTask(ref, r.Kind, prio)
		if err != nil {
			return res, err
		}
		if _, err := q.EnqueueContext(ctx, t, asynq.TaskID(SubmitTaskID(ref)+":resume:"+stamp)); err != nil &&
			!errors.Is(err, asynq.ErrTaskIDConflict) {
			return res, fmt.Errorf("resume: item %s: %w", r.ID, err)
		}
		res.Retried++
	}
	return res, nil
}
