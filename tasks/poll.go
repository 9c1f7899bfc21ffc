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
	"github.com/singbatch/singbatch/upstream"
)

// workPoll handles TypePoll: one GetJob of a submitted job, when PollTiming says it
// is due. A task that runs before that (the estimate moved since it was scheduled, or
// bringForward woke it) is re-aimed without a call. A final job is recorded (completed
// with its result, or failed with the service's reason; never re-created, as that
// costs money); a running one gets the next poll, until submission + timeout +
// TimeoutGrace, past which the item fails as timed out.
//
// A poll that finds its item already final (a redelivery, or the loser of a race with
// another poll) does nothing, except that a training's poll releases whatever songs
// still wait for its model, so a crash between recording a training and releasing its
// waiters loses none.
func (h *Handlers) workPoll(ctx context.Context, p PollPayload) error {
	if p.JobID == "" || p.Poll < 1 {
		return fmt.Errorf("poll %s/%s: payload without job id or poll number: %w", p.Batch, p.Item, asynq.SkipRetry)
	}
	return h.poll(forItem(ctx, p.ItemRef), p, lastRun(ctx))
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
	return withIDs(h.pollJob(ctx, rec, p, last), rec)
}

// pollJob calls GetJob for a submitted item when it is due, and acts on the answer.
func (h *Handlers) pollJob(ctx context.Context, rec batch.ItemRecord, p PollPayload, last bool) error {
	class := classOf(rec)
	st := p.state(rec)
	a, est, err := h.next(ctx, rec, class, st)
	if err != nil {
		return err
	}
	due := a.at
	now := h.now()
	if !a.call || h.waitsInSchedule(now, due) {
		return h.schedulePoll(ctx, rec, p, st, due)
	}
	if err := h.sleep(ctx, due.Sub(now)); err != nil {
		return err
	}
	group := isGroupID(rec.CustomID)
	if group {
		// Another member's poll may have recorded this job while this one waited; and
		// one list a group per groupEvery: a member whose group was listed just now
		// (its job not found final) looks again after that. Both before the rate-limit
		// token, which a poll that stands down would waste; both in one round trip.
		claim, wait, err := h.store.ClaimGroupList(ctx, rec.Batch, rec.ID, rec.Attempt, rec.CustomID,
			h.set.Poll.groupEvery(est, h.backlog()))
		switch {
		case err != nil:
			return fmt.Errorf("poll job %s: %w", p.JobID, err)
		case claim == batch.GroupListRecorded:
			return nil
		case claim == batch.GroupListWait:
			return h.afterGroupList(ctx, rec, p, st, wait)
		}
	}
	if h.callbacks != nil || group {
		// A group's ListJobs takes its token from the poll share too. A callback may
		// come while this poll waits for its token: one last look before calling.
		call := upstream.ActionGetJob
		if group {
			call = upstream.ActionListJobs
		}
		pctx, release, err := h.preparePoll(ctx, call)
		if err != nil {
			return fmt.Errorf("poll job %s: %w", p.JobID, err)
		}
		defer release()
		if h.callbacks != nil && h.recordedMeanwhile(ctx, rec) {
			return nil
		}
		ctx = pctx
	}
	var job *upstream.Job
	if group {
		job, err = h.pollGroup(ctx, rec, est)
	} else {
		job, err = h.api.GetJob(ctx, p.JobID)
	}
	before := st
	st.calls, st.last = st.calls+1, h.now()
	if err != nil {
		return h.pollFailed(ctx, rec, p, st, err, last)
	}
	if job.State.Final() {
		return h.finish(ctx, rec, job, finishing{class: class, est: est, scout: a.scout, before: before})
	}
	if started, ok := serviceOffset(job.Timing.CreatedAt, job.Timing.StartedAt); ok {
		st.started = started
	}
	return h.pollAgain(ctx, rec, p, st, job.State.String())
}

// waitsInSchedule tells whether a poll due at due goes back to Asynq's schedule (free,
// but kept in whole seconds) rather than wait in the handler: when it is further away
// than ShortWait, and further than enqueuePoll's lead could bring it.
func (h *Handlers) waitsInSchedule(now, due time.Time) bool {
	return due.Sub(now) > h.set.Poll.ShortWait && due.Add(-pollLead).Unix() > now.Unix()
}

// next is the job's next poll on its class's current estimate, never past the job's
// deadline: the last look lands on it, so a job that never ends is noticed on time.
func (h *Handlers) next(ctx context.Context, rec batch.ItemRecord, class string, st pollState) (aimed, Estimate, error) {
	est, err := h.estimate(ctx, class)
	if err != nil {
		return aimed{}, est, err
	}
	a, err := h.aim(ctx, rec, class, st, est)
	if err != nil {
		return aimed{}, est, err
	}
	if deadline, _ := h.deadline(rec); a.at.After(deadline) {
		a.at, a.call = deadline, true
	}
	return a, est, nil
}

// aimed is when a poll should run next and what it then does.
type aimed struct {
	at    time.Time
	call  bool // GetJob then; else only look again (a job parked while its class is unknown)
	scout bool // one of its unknown class's scouts
}

// aim is when a job should next be polled (PollTiming).
func (h *Handlers) aim(ctx context.Context, rec batch.ItemRecord, class string, st pollState, est Estimate) (aimed, error) {
	pt := h.pollTiming()
	if est.N() > 0 {
		return aimed{at: pt.target(rec, st, est, h.backlog()), call: true}, nil
	}
	now := h.now()
	// A scout renews its slot each time it is scheduled; the slot outlives its next
	// probe (at most ProbeGrowth × its age away) by a margin for late tasks.
	next := scaleDur(st.age(now)+pt.MinInterval+pt.ProbeStart, pt.ProbeGrowth)
	slot, err := h.store.ClaimScout(ctx, class, scoutMember(rec), pt.Scouts, now.Add(next+pt.ShortWait+time.Minute))
	if err != nil {
		return aimed{}, fmt.Errorf("poll: %w", err)
	}
	if slot >= 0 {
		return aimed{at: pt.probeTarget(st, slot, pt.hintFor(rec.Kind)), call: true, scout: true}, nil
	}
	return aimed{at: pt.parkTarget(st, now)}, nil
}

// scoutMember names an attempt in a class's scout slots.
func scoutMember(rec batch.ItemRecord) string {
	return rec.Batch + ":" + rec.ID + ":" + strconv.Itoa(rec.Attempt)
}

// estimate is what the recent jobs of a class say of its durations.
func (h *Handlers) estimate(ctx context.Context, class string) (Estimate, error) {
	now := h.now()
	if est, ok := h.estimates.get(class, now); ok {
		return est, nil
	}
	ts, err := h.store.JobTimings(ctx, class)
	if err != nil {
		return Estimate{}, fmt.Errorf("poll: %w", err)
	}
	est := NewEstimate(ts)
	h.estimates.put(class, est, now)
	return est, nil
}

// pollFailed handles a GetJob that brought no job.
func (h *Handlers) pollFailed(ctx context.Context, rec batch.ItemRecord, p PollPayload, st pollState, err error, last bool) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, upstream.ErrNotFound) {
		// A new job may be invisible for a moment: only a lasting absence is a failure.
		if since := h.now().Sub(rec.SubmittedAt); since > h.set.NotFoundGrace {
			return h.fail(ctx, rec, []batch.State{batch.StateSubmitted}, fmt.Sprintf(
				"job %s: not found at the service %v after submission", rec.JobID, since.Round(time.Second)))
		}
		return h.pollAgain(ctx, rec, p, st, "not found yet")
	}
	h.noteAuth(err)
	if last {
		// The job is still out there: keep polling with a fresh task rather than let
		// this one be archived; the timeout ends it if the service never answers.
		return h.pollAgain(ctx, rec, p, st, "unknown")
	}
	return fmt.Errorf("poll job %s: %w", p.JobID, err)
}

// deadline is when a job that is still not final fails its item as timed out.
func (h *Handlers) deadline(rec batch.ItemRecord) (time.Time, time.Duration) {
	timeout := h.set.DefaultJobTimeout
	if rec.Spec.Timeout > 0 {
		timeout = rec.Spec.Timeout
	}
	return submittedAt(rec).Add(timeout + h.set.TimeoutGrace), timeout
}

// submittedAt is when an item's job was created, by our clock: its record's, or, for a
// record without one, its last change.
func submittedAt(rec batch.ItemRecord) time.Time {
	if rec.SubmittedAt.IsZero() {
		return rec.UpdatedAt
	}
	return rec.SubmittedAt
}

// pollAgain schedules the next poll after a call that found the job not final, or
// fails the item once its deadline has passed.
func (h *Handlers) pollAgain(ctx context.Context, rec batch.ItemRecord, p PollPayload, st pollState, state string) error {
	now := h.now()
	deadline, timeout := h.deadline(rec)
	if !now.Before(deadline) {
		return h.fail(ctx, rec, []batch.State{batch.StateSubmitted}, fmt.Sprintf(
			"timed out: job %s still %s %v after submission (timeout %v + grace %v)",
			rec.JobID, state, now.Sub(rec.SubmittedAt).Round(time.Second), timeout, h.set.TimeoutGrace))
	}
	a, _, err := h.next(ctx, rec, classOf(rec), st)
	if err != nil {
		return err
	}
	due := a.at
	h.log.Debug("job not final yet", append(itemFields(rec), zap.String("state", state),
		zap.Int("calls", st.calls), zap.Duration("next", due.Sub(now)))...)
	return h.schedulePoll(ctx, rec, p, st, due)
}

// schedulePoll enqueues the attempt's next poll task, due at due.
func (h *Handlers) schedulePoll(ctx context.Context, rec batch.ItemRecord, p PollPayload, st pollState, due time.Time) error {
	next := PollPayload{ItemRef: p.ItemRef, JobID: p.JobID, Poll: p.Poll + 1}
	next.setState(classOf(rec), st)
	return h.enqueuePoll(ctx, next, due)
}

// pollLead is how far ahead of its due time a poll task is scheduled. Asynq keeps
// scheduled times in whole seconds and moves due tasks every DelayedTaskCheckInterval
// (1 s): a task put a second ahead starts between two seconds early and on time, and
// waits out the rest in its handler (ShortWait covers it), so it calls on time.
const pollLead = time.Second

// enqueuePoll schedules a poll due at due. One due within the next second anyway is
// queued at once and waits in its handler.
func (h *Handlers) enqueuePoll(ctx context.Context, p PollPayload, due time.Time) error {
	now := h.now()
	at := due.Add(-pollLead)
	if at.Unix() <= now.Unix() {
		at = now
	}
	t, err := NewPollTask(p, max(at.Sub(now), 0))
	if err != nil {
		return err
	}
	return h.enqueue(ctx, t, asynq.ProcessAt(at))
}

// afterGroupList is a member's poll that found its group listed just now by another
// member: it looks again once the group may be listed again. A short wait is spent
// here, as a short first wait is (waitsInSchedule): a new task for it would cost more
// than the wait, and most often the list just made has recorded this job meanwhile.
func (h *Handlers) afterGroupList(ctx context.Context, rec batch.ItemRecord, p PollPayload, st pollState, wait time.Duration) error {
	now := h.now()
	if h.waitsInSchedule(now, now.Add(wait)) {
		return h.schedulePoll(ctx, rec, p, st, now.Add(wait))
	}
	if err := h.sleep(ctx, wait); err != nil {
		return err
	}
	if h.recordedMeanwhile(ctx, rec) {
		return nil
	}
	return h.schedulePoll(ctx, rec, p, st, h.now())
}

// recordedMeanwhile tells whether the item's attempt became final since rec was read (by
// a callback, or another member's poll of its group).
// Only its state and attempt are read (one HMGET).
func (h *Handlers) recordedMeanwhile(ctx context.Context, rec batch.ItemRecord) bool {
	cur, err := h.store.ItemStates(ctx, rec.Batch, []string{rec.ID})
	return err == nil && cur[0].Exists && (cur[0].State.Final() || cur[0].Attempt != rec.Attempt)
}
