package tasks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// ProcessPoll handles TypePoll: one GetJob of a submitted job. A final job is recorded
// (completed with its result, or failed with the service's reason; never re-created, as
// that costs money); a running one gets the next poll, later each time (PollTiming),
// until submission + timeout + TimeoutGrace, past which the item fails as timed out.
//
// A poll that finds its item already final (a redelivery, or the loser of a race with
// another poll) does nothing, except that a training's poll releases whatever songs
// still wait for its model, so a crash between recording a training and releasing its
// waiters loses none.
func (h *Handlers) ProcessPoll(ctx context.Context, t *asynq.Task) error {
	var p PollPayload
	if err := decodePayload(t, &p); err != nil {
		return err
	}
	if p.JobID == "" || p.Poll < 1 {
		return fmt.Errorf("poll %s/%s: payload without job id or poll number: %w", p.Batch, p.Item, asynq.SkipRetry)
	}
	return h.poll(ctx, p, lastRun(ctx))
}

func (h *Handlers) poll(ctx context.Context, p PollPayload, last bool) error {
	rec, err := h.store.Item(ctx, p.Batch, p.Item)
	if errors.Is(err, batch.ErrItemNotFound) {
		return fmt.Errorf("poll: %w: %w", err, asynq.SkipRetry)
	}
	if err != nil {
		return fmt.Errorf("poll: %w", err)
	}
	if rec.Attempt != p.Attempt {
		return nil
	}
	if rec.State.Final() {
		if rec.Kind == batch.KindTrain {
			return withIDs(h.release(ctx, rec.Model), rec)
		}
		return nil
	}
	if rec.State != batch.StateSubmitted || rec.JobID != p.JobID {
		return nil // not this poll's job (cannot happen within one attempt)
	}
	job, err := h.api.GetJob(ctx, p.JobID)
	if err != nil {
		return withIDs(h.pollFailed(ctx, rec, p, err, last), rec)
	}
	if job.State.Final() {
		return withIDs(h.finish(ctx, rec, job), rec)
	}
	return withIDs(h.pollAgain(ctx, rec, p, job.State.String()), rec)
}

// pollFailed handles a GetJob that brought no job.
func (h *Handlers) pollFailed(ctx context.Context, rec batch.ItemRecord, p PollPayload, err error, last bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, upstream.ErrNotFound) {
		// A new job may be invisible for a moment: only a lasting absence is a failure.
		if since := h.now().Sub(rec.SubmittedAt); since > h.set.NotFoundGrace {
			return h.fail(ctx, rec, []batch.State{batch.StateSubmitted}, fmt.Sprintf(
				"job %s: not found at the service %v after submission", rec.JobID, since.Round(time.Second)))
		}
		return h.pollAgain(ctx, rec, p, "not found yet")
	}
	h.noteAuth(err)
	if last {
		// The job is still out there: keep polling with a fresh task rather than let
		// this one be archived; the timeout ends it if the service never answers.
		return h.pollAgain(ctx, rec, p, "unknown")
	}
	return fmt.Errorf("poll job %s: %w", p.JobID, err)
}

// deadline is when a job that is still not final fails its item as timed out.
func (h *Handlers) deadline(rec batch.ItemRecord) (time.Time, time.Duration) {
	timeout := h.set.DefaultJobTimeout
	if rec.Request.Timeout > 0 {
		timeout = time.Duration(rec.Request.Timeout) * time.Second
	}
	start := rec.SubmittedAt
	if start.IsZero() {
		start = rec.UpdatedAt
	}
	return start.Add(timeout + h.set.TimeoutGrace), timeout
}

// pollAgain schedules the next poll, or fails the item once its deadline has passed.
func (h *Handlers) pollAgain(ctx context.Context, rec batch.ItemRecord, p PollPayload, state string) error {
	now := h.now()
	deadline, timeout := h.deadline(rec)
	if !now.Before(deadline) {
		return h.fail(ctx, rec, []batch.State{batch.StateSubmitted}, fmt.Sprintf(
			"timed out: job %s still %s %v after submission (timeout %v + grace %v)",
			rec.JobID, state, now.Sub(rec.SubmittedAt).Round(time.Second), timeout, h.set.TimeoutGrace))
	}
	expected := h.est.expected(ctx, rec.Kind)
	next := p.Poll + 1
	delay := h.set.Poll.NextDelay(expected, next, h.rand())
	// Jobs that finished since this one was submitted may have raised the estimate
	// (a burst submitted on the default): then aim at the revised expected end.
	if target := rec.SubmittedAt.Add(h.set.Poll.FirstDelay(expected)).Sub(now); target > delay {
		delay = min(target, h.set.Poll.MaxInterval)
	}
	// The last poll lands on the deadline, so a job that never ends is noticed on time.
	delay = min(delay, deadline.Sub(now))
	h.log.Debug("job not final yet", append(itemFields(rec), zap.String("state", state),
		zap.Int("poll", p.Poll), zap.Duration("next", delay))...)
	return h.enqueuePoll(ctx, PollPayload{ItemRef: p.ItemRef, JobID: p.JobID, Poll: next}, now.Add(delay))
}

// enqueuePoll schedules a poll for due, rounded up to a whole second: asynq keeps
// scheduled times in whole seconds and would otherwise run the poll up to a second
// early, a GetJob wasted on a job not yet done.
func (h *Handlers) enqueuePoll(ctx context.Context, p PollPayload, due time.Time) error {
	if at := due.Truncate(time.Second); at.Before(due) {
		due = at.Add(time.Second)
	}
	t, err := NewPollTask(p, max(due.Sub(h.now()), 0))
	if err != nil {
		return err
	}
	return h.enqueue(ctx, t, asynq.ProcessAt(due))
}
