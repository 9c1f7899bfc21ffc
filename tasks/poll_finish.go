package tasks

import (
	"context"
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// finish records a final job. Of racing polls only one Transition moves the item, so
// the outcome and the batch counters are recorded once; the others find it final.
func (h *Handlers) finish(ctx context.Context, rec batch.ItemRecord, job *upstream.Job) error {
	to, u := h.outcome(rec, job)
	ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt,
		[]batch.State{batch.StateSubmitted}, to, u)
	if err != nil {
		return fmt.Errorf("record the end of job %s: %w", job.ID, err)
	}
	if ok {
		fields := append(itemFields(cur), zap.String("state", string(to)))
		if to == batch.StateFailed {
			h.log.Info("item failed", append(fields, zap.String("error", u.Error))...)
		} else {
			h.log.Info("item completed", append(fields, zap.String("outputPath", u.OutputPath),
				zap.String("trainedModel", u.TrainedModel))...)
			h.recordDuration(ctx, cur, job)
		}
	}
	if cur.Attempt == rec.Attempt && cur.State.Final() && cur.Kind == batch.KindTrain {
		// Whoever recorded it: releasing is idempotent, so racing polls may both do it.
		return h.release(ctx, cur.Model)
	}
	return nil
}

// outcome is the item's final state and what to record for a final job.
func (h *Handlers) outcome(rec batch.ItemRecord, job *upstream.Job) (batch.State, batch.Update) {
	u := batch.Update{
		StartedAt:  job.Timing.StartedAt.Time(),
		FinishedAt: job.Timing.CompletedAt.Time(),
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
	u.OutputPath = strings.TrimSuffix(out.Destination, "/") + "/" + res.SongName
	return batch.StateCompleted, u
}

// jobResult returns the job's singing-cloning result and the output it belongs to. The
// output's repository and folder come from the job's echo, else from the item's request.
func jobResult(rec batch.ItemRecord, job *upstream.Job) (*upstream.SingingCloningResult, upstream.Output) {
	for i, o := range job.Outputs {
		if o.SmartContentResult == nil || o.SmartContentResult.SingingCloning == nil {
			continue
		}
		if o.ContentID == "" && i < len(rec.Request.Outputs) {
			o.ContentID, o.Destination = rec.Request.Outputs[i].ContentID, rec.Request.Outputs[i].Destination
		}
		return o.SmartContentResult.SingingCloning, o
	}
	return nil, upstream.Output{}
}

// recordDuration feeds the poll timing: createdAt → completedAt as the service saw it,
// else submission → now. Only the poll that recorded the completion adds a sample.
func (h *Handlers) recordDuration(ctx context.Context, rec batch.ItemRecord, job *upstream.Job) {
	d := job.Timing.CompletedAt.Time().Sub(job.Timing.CreatedAt.Time())
	if job.Timing.CreatedAt == 0 || job.Timing.CompletedAt == 0 || d <= 0 {
		d = h.now().Sub(rec.SubmittedAt)
	}
	if d <= 0 {
		return
	}
	if err := h.store.RecordDuration(ctx, rec.Kind, d); err != nil {
		// One lost sample only makes the estimate a little older: not worth a retry.
		h.log.Warn("cannot record a job duration", append(itemFields(rec), zap.Error(err))...)
	}
}
