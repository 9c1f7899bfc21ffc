package tasks

import (
	"context"
	"errors"
	"fmt"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
)

// workSubmit handles TypeSubmit: it creates the item's upstream job at most once per
// attempt, across crashes, redeliveries and lost replies.
//
// What it does depends on the item's state when the task runs:
//   - pending / waiting: a song whose model is being trained registers as its waiter
//     and moves to waiting (the task ends; the training's poll resubmits it); a song
//     whose model failed or does not exist fails. Otherwise the attempt's customId is
//     recorded (→ submitting, "the claim") before CreateJob is sent.
//   - submitting: an earlier run claimed it and may or may not have created the job.
//     ListJobs by customId decides: the job found is adopted; none found and the claim
//     old enough (ReconcileDelay) → create.
//   - submitted: an earlier run created the job and may have died before enqueueing the
//     first poll: enqueue it (again).
//   - completed / failed: nothing to do, except that a training releases any song still
//     waiting for its model (see release); another attempt: nothing to do.
func (h *Handlers) workSubmit(ctx context.Context, p SubmitPayload) error {
	last := lastRun(ctx)
	ctx = forItem(ctx, p.ItemRef)
	err := h.submit(ctx, p.ItemRef, last)
	if err == nil || !last || ctx.Err() != nil {
		return err
	}
	return h.giveUpSubmit(ctx, p.ItemRef, err)
}

func (h *Handlers) submit(ctx context.Context, ref ItemRef, last bool) error {
	rec, err := h.store.Item(ctx, ref.Batch, ref.Item)
	if errors.Is(err, batch.ErrItemNotFound) {
		return fmt.Errorf("submit: %w: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return fmt.Errorf("submit: %w", err)
	}
	if rec.Attempt != ref.Attempt {
		return nil // a newer attempt has its own task
	}
	switch rec.State {
	case batch.StateCompleted, batch.StateFailed, batch.StateCanceled:
		if rec.Kind == batch.KindTrain {
			// A redelivery after a crash between failing the training and releasing
			// its waiters (nothing to do otherwise: releasing is idempotent).
			return withIDs(h.release(ctx, rec.Model), rec)
		}
		return nil
	case batch.StateSubmitted:
		return withIDs(h.ensurePoll(ctx, rec), rec)
	case batch.StateSubmitting:
		return withIDs(h.reconcile(ctx, rec, last), rec)
	case batch.StatePending, batch.StateWaiting:
		return h.start(ctx, rec)
	}
	return fmt.Errorf("submit %s/%s: unknown state %q: %w", rec.Batch, rec.ID, rec.State, asynq.SkipRetry)
}

// start takes a pending or waiting item to submitting and creates its job.
func (h *Handlers) start(ctx context.Context, rec batch.ItemRecord) error {
	if rec.Kind == batch.KindSong {
		if ok, err := h.modelUsable(ctx, rec); err != nil || !ok {
			return err
		}
	}
	held, prio, err := h.hold(ctx, rec)
	if held || err != nil {
		return err
	}
	// Wait for the rate limit before claiming: the claim's CreateJob must leave at once.
	ctx, release, err := h.prepay(limiter.WithPriority(ctx, limiterPriority(prio)), upstream.ActionCreateJob)
	defer release()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("submit %s/%s: %w", rec.Batch, rec.ID, err)
	}
	cid, err := h.groupCustomID(ctx, rec)
	if err != nil {
		return fmt.Errorf("submit %s/%s: %w", rec.Batch, rec.ID, err)
	}
	claimed := h.now()
	// The claim also heeds a pause, cancel or cap recorded while this waited for its
	// token, in the same step.
	outcome, cur, err := h.store.Claim(ctx, rec.Batch, rec.ID, rec.Attempt, cid, h.caps())
	if err != nil {
		// The claim may have been recorded before the error: the retry reconciles.
		return fmt.Errorf("claim customId %s for %s/%s: %w", cid, rec.Batch, rec.ID, err)
	}
	switch {
	case outcome.Held():
		return h.held(ctx, cur, outcome)
	case outcome == batch.NotClaimed:
		if cur.Attempt == rec.Attempt && cur.State == batch.StateSubmitting && cur.CustomID == cid {
			// Another run claimed it just now, or this call's own claim went through and
			// only its reply was lost: either way, reconcile once that claim is old enough.
			return withIDs(notYet(h.set.ReconcileDelay, "claim of customId %s not confirmed", cid), cur)
		}
		return nil // another run moved it on
	}
	return withIDs(h.create(ctx, cur, claimed), cur)
}

// giveUpSubmit leaves the item final (or submitted, if its job exists) on the task's
// last run, so that no item stays behind in a non-final state with its task archived.
func (h *Handlers) giveUpSubmit(ctx context.Context, ref ItemRef, cause error) error {
	rec, err := h.store.Item(ctx, ref.Batch, ref.Item)
	if err != nil {
		return errors.Join(cause, fmt.Errorf("give up: %w", err))
	}
	if rec.Attempt != ref.Attempt {
		return nil
	}
	runs := runNumber(ctx)
	switch rec.State {
	case batch.StateCompleted, batch.StateFailed, batch.StateCanceled:
		return nil
	case batch.StateSubmitted:
		return withIDs(h.ensurePoll(ctx, rec), rec)
	case batch.StateSubmitting:
		// Never fail an item whose job exists: look once more.
		if errors.Is(cause, upstream.ErrAmbiguous) {
			// A job created by the lost call may be invisible for a moment.
			if err := ctxtime.Sleep(ctx, h.set.ReconcileDelay); err != nil {
				return err
			}
		}
		jobs, err := h.api.ListJobs(ctx, rec.CustomID)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return withIDs(h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, fmt.Sprintf(
				"gave up after %d runs: %v; could not check whether a job exists under customId %s (%v): check before retrying",
				runs, cause, rec.CustomID, err)), rec)
		}
		job, ambiguous, err := h.pickJob(ctx, rec, jobs)
		switch {
		case err != nil:
			return errors.Join(cause, err)
		case job != nil:
			return withIDs(h.adopt(ctx, rec, job, false), rec)
		case ambiguous:
			return withIDs(h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, fmt.Sprintf(
				"gave up after %d runs: %v; customId %s lists jobs that cannot be told apart from this item's yet: check before retrying",
				runs, cause, rec.CustomID)), rec)
		}
		return withIDs(h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, fmt.Sprintf(
			"gave up after %d runs: %v; no job exists under customId %s", runs, cause, rec.CustomID)), rec)
	}
	return h.fail(ctx, rec, []batch.State{batch.StatePending, batch.StateWaiting},
		fmt.Sprintf("gave up after %d runs: %v", runs, cause))
}

// logSubmitted notes an item's job, created or adopted.
func (h *Handlers) logSubmitted(rec batch.ItemRecord, how string) {
	h.log.Info("item submitted", append(itemFields(rec), zap.String("how", how))...)
}

// limiterPriority is the rank a batch's CreateJobs wait at in the account's limiter.
func limiterPriority(p batch.Priority) limiter.Priority {
	switch p {
	case batch.PriorityHigh:
		return limiter.PriorityHigh
	case batch.PriorityLow:
		return limiter.PriorityLow
	}
	return limiter.PriorityNormal
}
