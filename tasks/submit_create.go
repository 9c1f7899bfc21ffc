package tasks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	"go.uber.org/zap"

	"github.com/hibiken/asynq"
	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
)

// createBudget is the share of ReconcileDelay one claim may spend sending CreateJob
// (rate-limiter waits included): every CreateJob of a claim has ended by claim +
// createBudget, so a later run that finds the claim older than ReconcileDelay and no
// job under its customId knows that no call of that claim is still in flight. The rest
// of ReconcileDelay covers a job becoming visible to ListJobs.
func (h *Handlers) createBudget() time.Duration {
	return h.set.ReconcileDelay * 4 / 5
}

// create sends CreateJob for a claimed (submitting) item. A reply that says the job was
// not created (rate limited, refused before sending) is retried here while the claim's
// budget lasts; an unknown outcome is returned as ErrAmbiguous, whose retry comes after
// ReconcileDelay and reconciles.
func (h *Handlers) create(ctx context.Context, rec batch.ItemRecord, claimed time.Time) error {
	// The claim must survive a failover before anything is paid for: not replicated in
	// time, nothing is sent, and the retry reconciles the claim.
	if err := h.store.EnsureReplicated(ctx, rec.Batch, rec.ID); err != nil {
		return fmt.Errorf("create job with customId %s: %w", rec.CustomID, err)
	}
	req := rec.Spec.Request(rec.Kind, rec.Model)
	req.CustomID = rec.CustomID
	if h.callbacks != nil {
		req.Callback = h.callbacks.URL(refOf(rec)) // derived each time: never stored
	}
	if req.Timeout <= 0 {
		// The service must give up when the worker does (poll.go, deadline), or it
		// would go on working, and billing, on a job whose result nobody records.
		req.Timeout = int(math.Ceil(h.set.DefaultJobTimeout.Seconds()))
	}
	deadline := claimed.Add(h.createBudget())
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	for try := 1; ; try++ {
		if try > 1 {
			// A pause or cancel recorded while the last try was refused holds the
			// resend too: no CreateJob leaves after one.
			if held, _, err := h.hold(ctx, rec); held || err != nil {
				return err
			}
		}
		job, err := h.api.CreateJob(cctx, &req)
		if err == nil {
			return h.adopt(ctx, rec, job, true)
		}
		switch {
		case ctx.Err() != nil:
			// Shutdown: the item stays submitting and the requeued task reconciles.
			return ctx.Err()
		case errors.Is(err, upstream.ErrAmbiguous):
			return fmt.Errorf("create job with customId %s: %w", rec.CustomID, err)
		case upstream.Permanent(err):
			h.noteAuth(err)
			// Refused: no job was created, so the caps do not count it.
			if err := h.store.RefundJob(ctx, rec); err != nil {
				h.log.Warn("cannot take back the job count of a refused CreateJob", append(itemFields(rec), zap.Error(err))...)
			} else if err := h.unparkUnderBatchCap(ctx, rec.Batch); err != nil {
				h.log.Warn("cannot queue again the items the batch's cap held; the batch sweep will", append(itemFields(rec), zap.Error(err))...)
			}
			return h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, err.Error())
		}
		// Not created: the client only answers otherwise when the request was refused
		// or never sent.
		wait := h.createRetryWait(try, err)
		if cctx.Err() != nil || h.now().Add(wait).After(deadline) {
			if cctx.Err() != nil || errors.Is(err, upstream.ErrRateLimited) {
				// Held back by the rate limit: no failure. Come back when the claim is old
				// enough to be reconciled.
				return notYet(claimed.Add(h.set.ReconcileDelay).Sub(h.now()),
					"CreateJob for customId %s not accepted within the claim's budget: %v", rec.CustomID, err)
			}
			return fmt.Errorf("create job with customId %s: %w", rec.CustomID, err)
		}
		if err := ctxtime.Sleep(cctx, wait); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("create job with customId %s: %w", rec.CustomID, err)
		}
	}
}

// createRetryWait is the pause before sending CreateJob again after a refusal: what the
// service asked for, else a short full-jitter backoff (the limiter paces calls anyway).
func (h *Handlers) createRetryWait(try int, err error) time.Duration {
	var apiErr *upstream.APIError
	if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
		return apiErr.RetryAfter
	}
	ceiling := min(100*time.Millisecond<<min(try-1, 10), 5*time.Second)
	return time.Duration(h.rand() * float64(ceiling))
}

// reconcile handles an item found submitting: adopt its job if the service has one,
// else create it. A claim younger than ReconcileDelay is left alone until it is old
// enough (its CreateJob may still be on its way, or its job not yet visible), without
// spending a ListJobs on it. Its age is measured on Redis's clock, which every worker
// shares: a worker whose own clock runs ahead must not find a fresh claim old. On the
// task's last run it never creates: finding nothing, it fails the item.
func (h *Handlers) reconcile(ctx context.Context, rec batch.ItemRecord, last bool) error {
	age, err := h.store.ClaimAge(ctx, rec.Batch, rec.ID, rec.Attempt)
	switch {
	case errors.Is(err, batch.ErrNoClaimTime):
		age = h.now().Sub(rec.UpdatedAt) // claimed by an older version
	case err != nil:
		return fmt.Errorf("reconcile customId %s: %w", rec.CustomID, err)
	}
	if !last && age < h.set.ReconcileDelay {
		return notYet(h.set.ReconcileDelay-age, "customId %s was claimed %v ago; its CreateJob may still be on its way",
			rec.CustomID, age.Round(time.Millisecond))
	}
	jobs, err := h.api.ListJobs(ctx, rec.CustomID)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		h.noteAuth(err)
		return fmt.Errorf("reconcile customId %s: %w", rec.CustomID, err)
	}
	job, ambiguous, err := h.pickJob(ctx, rec, jobs)
	switch {
	case err != nil:
		return fmt.Errorf("reconcile customId %s: %w", rec.CustomID, err)
	case job != nil:
		return h.adopt(ctx, rec, job, false)
	case ambiguous && !last:
		// Another member's job not yet recorded as its own may be this item's.
		return notYet(h.set.ReconcileDelay, "customId %s lists a job no member has recorded yet", rec.CustomID)
	case ambiguous:
		return h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, fmt.Sprintf(
			"gave up after %d runs: customId %s lists jobs that cannot be told apart from this item's: check before retrying",
			runNumber(ctx), rec.CustomID))
	}
	if last {
		return h.fail(ctx, rec, []batch.State{batch.StateSubmitting}, fmt.Sprintf(
			"gave up after %d runs: no job exists under customId %s", runNumber(ctx), rec.CustomID))
	}
	// No job exists for the claim: sending it again heeds a pause or cancel since.
	held, prio, err := h.hold(ctx, rec)
	if held || err != nil {
		return err
	}
	ctx, release, err := h.prepay(limiter.WithPriority(ctx, limiterPriority(prio)), upstream.ActionCreateJob)
	defer release()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("reconcile customId %s: %w", rec.CustomID, err)
	}
	return h.create(ctx, rec, h.now())
}

// pickJob chooses the item's job among those listed under its customId. A group's is
// found by its echo (pickGroupJob); under an attempt's own customId it is the earliest,
// and more than one means a job was paid for twice, which must be loud.
func (h *Handlers) pickJob(ctx context.Context, rec batch.ItemRecord, jobs []upstream.Job) (*upstream.Job, bool, error) {
	if isGroupID(rec.CustomID) {
		return h.pickGroupJob(ctx, rec, jobs)
	}
	return h.pickOwnJob(rec, jobs), false, nil
}

func (h *Handlers) pickOwnJob(rec batch.ItemRecord, jobs []upstream.Job) *upstream.Job {
	own := make([]upstream.Job, 0, len(jobs))
	for _, j := range jobs {
		if j.CustomID == rec.CustomID && j.ID != "" {
			own = append(own, j)
		}
	}
	if len(own) == 0 {
		return nil
	}
	sort.SliceStable(own, func(i, k int) bool {
		if own[i].Timing.CreatedAt != own[k].Timing.CreatedAt {
			return own[i].Timing.CreatedAt < own[k].Timing.CreatedAt
		}
		return own[i].ID < own[k].ID
	})
	if len(own) > 1 {
		ids := make([]string, len(own))
		for i, j := range own {
			ids[i] = j.ID
		}
		h.log.Error("several upstream jobs share one customId: adopting the earliest; the others were paid for nothing",
			append(itemFields(rec), zap.Strings("jobIds", ids), zap.String("adopted", own[0].ID))...)
	}
	return &own[0]
}

// adopt records the item's job (submitting → submitted) and enqueues its first poll. A
// job just created was submitted now; one found by reconciliation when the service says
// it was created, unless its clock runs ahead of ours.
func (h *Handlers) adopt(ctx context.Context, rec batch.ItemRecord, job *upstream.Job, created bool) error {
	if isGroupID(rec.CustomID) {
		// Before the item's record names the job: a poll of the group then knows whose
		// it is, and no other member adopts it.
		owner, err := h.store.ClaimGroupJob(ctx, rec.CustomID, job.ID, groupMember(rec))
		if err != nil {
			return fmt.Errorf("record job %s of customId %s: %w", job.ID, rec.CustomID, err)
		}
		if owner != groupMember(rec) {
			h.log.Error("the service answered with a job another member of the group has: leaving it",
				append(itemFields(rec), zap.String("otherJobId", job.ID), zap.String("owner", owner))...)
			return fmt.Errorf("job %s of customId %s is %s's: %w", job.ID, rec.CustomID, owner, asynq.SkipRetry)
		}
	}
	submitted := h.now()
	if at := job.Timing.CreatedAt.Time(); !created && !at.IsZero() && at.Before(submitted) {
		submitted = at
	}
	ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt,
		[]batch.State{batch.StateSubmitting}, batch.StateSubmitted, batch.Update{JobID: job.ID, SubmittedAt: submitted})
	if err != nil {
		// The job exists; the retry finds it by customId.
		return fmt.Errorf("record job %s of customId %s: %w", job.ID, rec.CustomID, err)
	}
	switch {
	case cur.Attempt != rec.Attempt || cur.State != batch.StateSubmitted:
		return nil
	case cur.JobID != job.ID:
		h.log.Error("item already has another job under the same customId; leaving it",
			append(itemFields(cur), zap.String("otherJobId", job.ID))...)
		return nil
	}
	if ok {
		h.logSubmitted(cur, "created or adopted")
	}
	return h.ensurePoll(ctx, cur)
}

// ensurePoll enqueues the first poll of a submitted item: at the expected end of its
// job when its class is known, else early, to join the class's scouts or wait for them.
func (h *Handlers) ensurePoll(ctx context.Context, rec batch.ItemRecord) error {
	if rec.JobID == "" {
		return fmt.Errorf("item %s/%s is submitted without a job id", rec.Batch, rec.ID)
	}
	class := classOf(rec)
	est, err := h.estimate(ctx, class)
	if err != nil {
		return err
	}
	p := PollPayload{ItemRef: refOf(rec), JobID: rec.JobID, Poll: 1}
	st := p.state(rec)
	due := rec.SubmittedAt.Add(h.set.Poll.ProbeStart)
	if est.N() > 0 {
		due = h.pollTiming().target(rec, st, est, h.backlog())
	}
	p.setState(class, st)
	return h.enqueuePoll(ctx, p, due)
}
