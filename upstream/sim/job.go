package sim

import (
	"fmt"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/upstream"
)

// job is a job as the simulator keeps it. Its state is not stored while it runs: it
// follows from the timestamps (createdAt → startAt → end) and the plan, and is frozen
// by finalizeLocked once due. Guarded by Server.mu.
type job struct {
	id, customID, callback string
	inputs                 []upstream.Input
	outputs                []upstream.Output

	createdAt   time.Time
	startAt     time.Time // PROCESSING from here on
	deadline    time.Time // createdAt + scaled timeout; zero without timeout
	hiddenUntil time.Time // not-found fault
	jitter      float64   // multiplies the processing time
	injectFail  bool      // JobError fault

	// The plan, known once the inputs are probed.
	planned bool
	readyAt time.Time     // inputs probed; processing cannot end before readyAt+work
	work    time.Duration // processing time (scaled)
	planErr string        // non-empty: the job ends in ERROR with this message

	scheduled   bool
	scheduledAt time.Time

	final     bool
	state     upstream.JobState
	startedAt time.Time
	endedAt   time.Time
	message   string
	results   []*upstream.SingingCloningResult // per output, when COMPLETED
}

// outcome is how and when the job ends if no timeout intervenes; known is false until
// the plan exists.
func (j *job) outcome() (end time.Time, state upstream.JobState, msg string, known bool) {
	if !j.planned {
		return time.Time{}, 0, "", false
	}
	begin := j.startAt
	if j.readyAt.After(begin) {
		begin = j.readyAt
	}
	end = begin.Add(j.work)
	if j.planErr != "" {
		return end, upstream.StateError, j.planErr, true
	}
	return end, upstream.StateCompleted, "", true
}

// advanceLocked finalizes j if it is due at now, else schedules the moment it will be.
func (s *Server) advanceLocked(j *job, now time.Time) {
	if j.final {
		return
	}
	end, state, msg, known := j.outcome()
	if !j.deadline.IsZero() && (!known || end.After(j.deadline)) {
		if !now.Before(j.deadline) {
			s.finalizeLocked(j, upstream.StateError, j.deadline, "timeout exceeded")
			return
		}
		s.scheduleLocked(j, j.deadline)
		return
	}
	if !known {
		return
	}
	if !now.Before(end) {
		s.finalizeLocked(j, state, end, msg)
		return
	}
	s.scheduleLocked(j, end)
}

// advanceAllLocked brings every running job up to now.
func (s *Server) advanceAllLocked(now time.Time) {
	for _, j := range s.live {
		s.advanceLocked(j, now)
	}
}

// finalizeLocked ends j at at: a COMPLETED job writes its songs and registers its
// models first (a failed write turns it into ERROR); the callback goes out for
// COMPLETED and ERROR.
func (s *Server) finalizeLocked(j *job, state upstream.JobState, at time.Time, msg string) {
	if state == upstream.StateCompleted {
		results, err := s.produceLocked(j, at)
		if err != nil {
			state, msg = upstream.StateError, err.Error()
		} else {
			j.results = results
		}
	}
	j.final, j.state, j.endedAt, j.message = true, state, at, msg
	if !at.Before(j.startAt) {
		j.startedAt = j.startAt
	}
	delete(s.live, j.id)
	for _, o := range j.outputs {
		if sc := o.SmartContentDescriptor.SingingCloning; sc.Type == upstream.TypeTrain && s.training[sc.ModelName] == j {
			delete(s.training, sc.ModelName)
		}
	}
	s.log.Debug("sim: job finished", zap.String("job", j.id), zap.Stringer("state", state), zap.String("message", msg))
	if j.callback != "" && (state == upstream.StateCompleted || state == upstream.StateError) {
		s.sendCallbackLocked(j)
	}
}

// produceLocked writes the generated songs and registers the trained models.
func (s *Server) produceLocked(j *job, at time.Time) ([]*upstream.SingingCloningResult, error) {
	results := make([]*upstream.SingingCloningResult, len(j.outputs))
	gen := 0
	for i, o := range j.outputs {
		sc := o.SmartContentDescriptor.SingingCloning
		if sc.Type != upstream.TypeGenerate {
			continue
		}
		name, err := s.writeSong(o, gen)
		if err != nil {
			return nil, fmt.Errorf("output %d: %w", i, err)
		}
		gen++
		results[i] = &upstream.SingingCloningResult{SongName: name}
	}
	for i, o := range j.outputs {
		sc := o.SmartContentDescriptor.SingingCloning
		if sc.Type != upstream.TypeTrain {
			continue
		}
		s.models[sc.ModelName] = upstream.Model{Name: sc.ModelName, CreatedAt: upstream.MillisOf(at)}
		results[i] = &upstream.SingingCloningResult{ModelName: sc.ModelName}
	}
	return results, nil
}

// viewLocked is the job as the API shows it at now.
func (s *Server) viewLocked(j *job, now time.Time) upstream.Job {
	s.advanceLocked(j, now)
	v := upstream.Job{
		ID:       j.id,
		CustomID: j.customID,
		Callback: j.callback,
		Inputs:   cloneInputs(j.inputs),
		Outputs:  cloneOutputs(j.outputs),
		Timing:   upstream.Timing{CreatedAt: upstream.MillisOf(j.createdAt)},
	}
	switch {
	case j.final:
		v.State = j.state
		v.Timing.StartedAt = upstream.MillisOf(j.startedAt)
		v.Timing.CompletedAt = upstream.MillisOf(j.endedAt)
		v.Message = j.message
		if j.state == upstream.StateCompleted {
			for i, r := range j.results {
				if r != nil {
					rc := *r
					v.Outputs[i].SmartContentResult = &upstream.SmartContentResult{SingingCloning: &rc}
				}
			}
		}
	case !now.Before(j.startAt):
		v.State = upstream.StateProcessing
		v.Timing.StartedAt = upstream.MillisOf(j.startAt)
	default:
		v.State = upstream.StateSubmitted
	}
	return v
}

func cloneInputs(in []upstream.Input) []upstream.Input {
	out := make([]upstream.Input, len(in))
	for i, x := range in {
		if x.Source != nil {
			src := *x.Source
			x.Source = &src
		}
		out[i] = x
	}
	return out
}

// cloneOutputs deep-copies outputs, dropping any smartContentResult (only the service
// sets that).
func cloneOutputs(in []upstream.Output) []upstream.Output {
	out := make([]upstream.Output, len(in))
	for i, x := range in {
		if x.InputSelectors != nil {
			x.InputSelectors = append([]int{}, x.InputSelectors...)
		}
		if x.SmartContentDescriptor != nil {
			d := *x.SmartContentDescriptor
			if d.SingingCloning != nil {
				sc := *d.SingingCloning
				d.SingingCloning = &sc
			}
			x.SmartContentDescriptor = &d
		}
		x.SmartContentResult = nil
		out[i] = x
	}
	return out
}
