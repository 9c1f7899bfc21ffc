package sim

import (
	"errors"
	"fmt"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// ErrNoJob is returned for a job id the simulator does not know.
var ErrNoJob = errors.New("sim: no such job")

// AddModel seeds a trained model created at createdAt (the clock's now if zero).
func (s *Server) AddModel(name string, createdAt time.Time) error {
	if err := upstream.ValidModelName(name); err != nil {
		return fmt.Errorf("sim: add model %q: %w", name, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if createdAt.IsZero() {
		createdAt = s.clock.Now()
	}
	_, exists := s.models[name]
	if exists || name == upstream.DefaultModel || s.training[name] != nil {
		return fmt.Errorf("sim: add model %q: already exists or is being trained", name)
	}
	s.models[name] = upstream.Model{Name: name, CreatedAt: upstream.MillisOf(createdAt)}
	return nil
}

// CreateJob creates a job as the CreateJob action would, without HTTP, credentials,
// rate limit or faults other than those decided per job (NotFound, JobError and the
// callback faults). A rejected request returns the problems joined, each an
// *upstream.ValidationError (so errors.Is(err, upstream.ErrInvalidRequest)).
func (s *Server) CreateJob(req *upstream.CreateJobRequest) (upstream.Job, error) {
	j, ps := s.createJob(req)
	if len(ps) > 0 {
		errs := make([]error, len(ps))
		for i, p := range ps {
			errs[i] = p
		}
		return upstream.Job{}, fmt.Errorf("sim: create job: %w", errors.Join(errs...))
	}
	return j, nil
}

// CancelJob ends a running job as CANCELED (the API has no cancel action, but the
// state exists; no callback is sent for it).
func (s *Server) CancelJob(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return fmt.Errorf("cancel job %s: %w", id, ErrNoJob)
	}
	now := s.clock.Now()
	s.advanceLocked(j, now)
	if j.final {
		return fmt.Errorf("cancel job %s: already %v", id, j.state)
	}
	s.finalizeLocked(j, upstream.StateCanceled, now, "canceled")
	return nil
}

// Jobs returns every job as GetJob would show it now (ignoring the not-found fault),
// in creation order.
func (s *Server) Jobs() []upstream.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]upstream.Job, len(s.order))
	for i, j := range s.order {
		out[i] = s.viewLocked(j, now)
	}
	return out
}

// Job returns one job as GetJob would show it now (ignoring the not-found fault).
func (s *Server) Job(id string) (upstream.Job, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[id]
	if j == nil {
		return upstream.Job{}, false
	}
	return s.viewLocked(j, s.clock.Now()), true
}

// JobsByCustomID returns the jobs with customId id, in creation order (ignoring the
// not-found fault).
func (s *Server) JobsByCustomID(id string) []upstream.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]upstream.Job, 0, len(s.byCustom[id]))
	for _, j := range s.byCustom[id] {
		out = append(out, s.viewLocked(j, now))
	}
	return out
}
