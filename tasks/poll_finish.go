package tasks

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// finishing is what the poll that found a job final knows besides the job.
type finishing struct {
	class  string
	est    Estimate  // the class's estimate the poll was aimed with
	scout  bool      // the job was one of its class's scouts
	before pollState // the polls before this one
	// from are the states the item may be recorded from; default submitted. A
	// callback may come before the CreateJob answer was recorded (submitting).
	from     []batch.State
	callback bool // what found the job final was its callback
}

// finish records a final job. Of racing polls only one Transition moves the item, so
// the outcome and the batch counters are recorded once; the others find it final. The
// one that recorded a completion teaches the class's estimate.
func (h *Handlers) finish(ctx context.Context, rec batch.ItemRecord, job *upstream.Job, f finishing) error {
	to, u := h.outcome(rec, job)
	from := f.from
	if from == nil {
		from = []batch.State{batch.StateSubmitted}
	}
	if rec.JobID == "" { // its callback came first: the job is the one it names
		u.JobID = job.ID
		if u.SubmittedAt.IsZero() {
			u.SubmittedAt = h.now()
		}
	}
	ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt, from, to, u.Stored(rec.Spec))
	if err != nil {
		return fmt.Errorf("record the end of job %s: %w", job.ID, err)
	}
	if ok {
		h.stats.finished.Add(1)
		fields := append(itemFields(cur), zap.String("state", string(to)), zap.Bool("byCallback", f.callback))
		if to == batch.StateFailed {
			h.log.Info("item failed", append(fields, zap.String("error", u.Error))...)
		} else {
			h.log.Info("item completed", append(fields, zap.String("outputPath", u.OutputPath),
				zap.String("trainedModel", u.TrainedModel))...)
		}
		h.learn(ctx, rec, job, f, to == batch.StateCompleted)
	}
	if cur.Attempt == rec.Attempt {
		h.noteFinal(ctx, cur)
	}
	if cur.Attempt == rec.Attempt && cur.State.Final() && cur.Kind == batch.KindTrain {
		// Whoever recorded it: releasing is idempotent, so racing polls may both do it.
		return h.release(ctx, cur.Model)
	}
	return nil
}

// outcome is the item's final state and what to record for a final job. Its times
// are the service's, submittedAt included (the job's createdAt, in place of when this
// worker saw it accepted): the report's durations then subtract times of one clock.
func (h *Handlers) outcome(rec batch.ItemRecord, job *upstream.Job) (batch.State, batch.Update) {
	u := batch.Update{
		SubmittedAt: job.Timing.CreatedAt.Time(),
		StartedAt:   job.Timing.StartedAt.Time(),
		FinishedAt:  job.Timing.CompletedAt.Time(),
	}
	if job.State != upstream.StateCompleted {
		u.Error = job.Message
		if u.Error == "" {
			u.Error = job.State.String()
		}
		return batch.StateFailed, u
	}
	res, out := jobResult(rec, job)
	if rec.Kind == batch.KindTrain {
		u.TrainedModel = rec.Model
		if res != nil && res.ModelName != "" {
			u.TrainedModel = res.ModelName
		}
		return batch.StateCompleted, u
	}
	if res == nil || res.SongName == "" {
		u.Error = fmt.Sprintf("job %s is COMPLETED but names no songName", job.ID)
		return batch.StateFailed, u
	}
	u.SongName = res.SongName
	u.OutputRepository = out.ContentID
	u.OutputPath = batch.SongPath(out.Destination, res.SongName)
	return batch.StateCompleted, u
}

// jobResult returns the job's singing-cloning result and the output it belongs to. The
// output's repository and folder come from the job's echo, else from the item's request.
func jobResult(rec batch.ItemRecord, job *upstream.Job) (*upstream.SingingCloningResult, upstream.Output) {
	for i, o := range job.Outputs {
		if o.SmartContentResult == nil || o.SmartContentResult.SingingCloning == nil {
			continue
		}
		if o.ContentID == "" && i == 0 { // an item's spec has one output
			o.ContentID, o.Destination = rec.Spec.ContentID, rec.Spec.Destination
		}
		return o.SmartContentResult.SingingCloning, o
	}
	return nil, upstream.Output{}
}

// learn feeds a final job to its class's estimate. A completed job adds its timing;
// when that makes the class known, or lowers its first-poll aim by a tenth or more,
// the class's scheduled polls are brought forward to re-aim. A scout that ends frees
// its slot; one that failed (no timing) brings the others forward to scout in its place.
// Learning is best effort: a lost sample only makes the estimate a little older.
func (h *Handlers) learn(ctx context.Context, rec batch.ItemRecord, job *upstream.Job, f finishing, completed bool) {
	if f.scout || f.est.N() == 0 {
		if err := h.store.ReleaseScout(ctx, f.class, scoutMember(rec)); err != nil {
			h.log.Warn("cannot free a scout slot", append(itemFields(rec), zap.Error(err))...)
		}
	}
	if !completed {
		if f.scout {
			h.bringForward(ctx, f.class)
		}
		return
	}
	t := observedTiming(job, f.before, h.now())
	window, err := h.store.RecordJobTiming(ctx, f.class, t)
	if err != nil {
		h.log.Warn("cannot record a job's timing", append(itemFields(rec), zap.Error(err))...)
		return
	}
	// The write brought the class's window back: the freshest estimate there is, at no
	// extra round trip (reading it again cost one per finished job).
	after := NewEstimate(window)
	h.estimates.put(f.class, after, h.now())
	if f.est.N() > 0 && after.firstPoll(h.set.Poll.FirstQuantile) > f.est.firstPoll(h.set.Poll.FirstQuantile)*9/10 {
		return
	}
	h.bringForward(ctx, f.class)
}
