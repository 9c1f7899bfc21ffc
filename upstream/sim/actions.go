package sim

import (
	"fmt"
	"net/http"
	"sort"

	"github.com/singbatch/singbatch/upstream"
)

func (s *Server) serveCreateJob(c *call, req *upstream.CreateJobRequest) {
	j, ps := s.createJob(req)
	if len(ps) > 0 {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, problemMessage("createJobRequest", ps))
		return
	}
	s.mu.Lock()
	lose := s.rng.chance(s.faults.LoseCreate)
	s.mu.Unlock()
	if lose {
		// The job exists; the client never hears of it.
		c.record(OutcomeLost, 0)
		panic(http.ErrAbortHandler)
	}
	c.ok(upstream.Response{CreateJobResponse: &upstream.CreateJobResponse{Job: &j}})
}

func (s *Server) serveGetJob(c *call, req *upstream.GetJobRequest) {
	if err := req.Validate(); err != nil {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, problemMessage("getJobRequest", problemsOf(err)))
		return
	}
	s.mu.Lock()
	now := s.clock.Now()
	j := s.jobs[req.ID]
	if j == nil || now.Before(j.hiddenUntil) {
		s.mu.Unlock()
		c.fail(http.StatusNotFound, upstream.CodeResourceNotFound, fmt.Sprintf("job %s not found", c.echo(req.ID)))
		return
	}
	v := s.viewLocked(j, now)
	s.mu.Unlock()
	c.ok(upstream.Response{GetJobResponse: &upstream.GetJobResponse{Job: &v}})
}

func (s *Server) serveListJobs(c *call, req *upstream.ListJobsRequest) {
	if err := req.Validate(); err != nil {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, problemMessage("listJobsRequest", problemsOf(err)))
		return
	}
	s.mu.Lock()
	now := s.clock.Now()
	jobs := []upstream.Job{}
	for _, j := range s.byCustom[req.CustomID] {
		if !now.Before(j.hiddenUntil) {
			jobs = append(jobs, s.viewLocked(j, now))
		}
	}
	s.mu.Unlock()
	total := len(jobs)
	if s.opts.JobsListCap > 0 && total > s.opts.JobsListCap {
		jobs = jobs[:s.opts.JobsListCap]
	}
	c.ok(upstream.Response{ListJobsResponse: &upstream.ListJobsResponse{Jobs: jobs, Total: upstream.Count(total)}})
}

func (s *Server) serveListModels(c *call, req *upstream.ListModelsRequest) {
	if err := req.Validate(); err != nil {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, problemMessage("listModelsRequest", problemsOf(err)))
		return
	}
	all := s.Models()
	page := []upstream.Model{}
	limit := req.Limit
	if s.opts.ModelPageCap > 0 {
		limit = min(limit, s.opts.ModelPageCap)
	}
	if req.Offset < len(all) {
		page = all[req.Offset:min(len(all), req.Offset+limit)]
	}
	c.ok(upstream.Response{ListModelsResponse: &upstream.ListModelsResponse{Total: upstream.Count(len(all)), Models: page}})
}

// Models returns the trained (and seeded) models, oldest first, as ListModels pages
// them. The built-in model "default" is not listed, as in the provider's example.
func (s *Server) Models() []upstream.Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	for _, j := range s.training {
		s.advanceLocked(j, now)
	}
	ms := make([]upstream.Model, 0, len(s.models))
	for _, m := range s.models {
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, k int) bool {
		if ms[i].CreatedAt != ms[k].CreatedAt {
			return ms[i].CreatedAt < ms[k].CreatedAt
		}
		return ms[i].Name < ms[k].Name
	})
	return ms
}
