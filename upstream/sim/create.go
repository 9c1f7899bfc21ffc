package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// createJob validates and stores a job; problems name fields relative to
// createJobRequest. The returned view is the job as just created (SUBMITTED).
func (s *Server) createJob(req *upstream.CreateJobRequest) (upstream.Job, []*upstream.ValidationError) {
	problems := append(req.Problems(), repositoryProblems(req)...)
	if len(problems) > 0 {
		return upstream.Job{}, problems
	}
	now := s.clock.Now()
	j := s.newJob(req, now)
	selected := selectedInputs(req)
	fetch := s.needsFetch(req, selected)
	var infos []inputInfo
	if !fetch {
		// Text, local files and SkipFetch resolve at once, so such jobs are
		// deterministic under a manual clock.
		infos = s.resolveInputs(s.ctx, j.inputs, selected)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ps := s.trainingConflictsLocked(j, now); len(ps) > 0 {
		return upstream.Job{}, ps
	}
	s.jobs[j.id] = j
	s.order = append(s.order, j)
	s.byCustom[j.customID] = append(s.byCustom[j.customID], j)
	s.live[j.id] = j
	for _, o := range j.outputs {
		if sc := o.SmartContentDescriptor.SingingCloning; sc.Type == upstream.TypeTrain {
			s.training[sc.ModelName] = j
		}
	}
	s.stats.jobCreated(j.customID)
	if fetch {
		if !s.work.goFunc(func() { s.fetchAndPlan(j, selected) }) {
			s.planLocked(j, failAll(len(j.inputs), "the simulator shut down"), now)
		}
	} else {
		s.planLocked(j, infos, now)
	}
	s.advanceLocked(j, now)
	v := s.viewLocked(j, now)
	// The create response shows the job as it was created, whatever the scale.
	v.State, v.Timing.StartedAt, v.Timing.CompletedAt, v.Message = upstream.StateSubmitted, 0, 0, ""
	for i := range v.Outputs {
		v.Outputs[i].SmartContentResult = nil
	}
	return v, nil
}

func (s *Server) newJob(req *upstream.CreateJobRequest, now time.Time) *job {
	s.mu.Lock()
	f := s.faults
	s.mu.Unlock()
	j := &job{
		id:        s.rng.uuid(),
		customID:  req.CustomID,
		callback:  req.Callback,
		inputs:    cloneInputs(req.Inputs),
		outputs:   cloneOutputs(req.Outputs),
		createdAt: now,
		jitter:    s.rng.factor(s.opts.Timing.Jitter),
	}
	j.startAt = now.Add(s.scale(time.Duration(float64(s.opts.Timing.QueueDelay) * s.rng.factor(s.opts.Timing.Jitter))))
	if req.Timeout > 0 {
		j.deadline = now.Add(s.scale(time.Duration(req.Timeout) * time.Second))
	}
	if s.rng.chance(f.NotFound) {
		j.hiddenUntil = now.Add(f.NotFoundFor)
	}
	j.injectFail = s.rng.chance(f.JobError)
	return j
}

// scale applies TimeScale to a simulated duration.
func (s *Server) scale(d time.Duration) time.Duration {
	return time.Duration(float64(d) * s.opts.TimeScale)
}

// selectedInputs marks the inputs some output reads (an output without
// inputSelectors reads them all).
func selectedInputs(req *upstream.CreateJobRequest) []bool {
	sel := make([]bool, len(req.Inputs))
	for _, o := range req.Outputs {
		for _, i := range selectorsOf(o, len(req.Inputs)) {
			sel[i] = true
		}
	}
	return sel
}

func selectorsOf(o upstream.Output, n int) []int {
	if len(o.InputSelectors) > 0 {
		return o.InputSelectors
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	return all
}

// repositoryProblems rejects repository ids and output prefixes that cannot name a
// folder or file (the simulator keeps repositories as folders under OutputDir).
func repositoryProblems(req *upstream.CreateJobRequest) []*upstream.ValidationError {
	var ps []*upstream.ValidationError
	bad := func(id string) bool {
		return id == "." || id == ".." || strings.ContainsAny(id, `/\`+"\x00")
	}
	for i, in := range req.Inputs {
		if in.Source != nil && bad(in.Source.ContentID) {
			ps = append(ps, &upstream.ValidationError{Field: fmt.Sprintf("inputs[%d].source.contentId", i), Reason: "not a repository id"})
		}
	}
	for i, o := range req.Outputs {
		if bad(o.ContentID) {
			ps = append(ps, &upstream.ValidationError{Field: fmt.Sprintf("outputs[%d].contentId", i), Reason: "not a repository id"})
		}
		if d := o.SmartContentDescriptor; d != nil && strings.ContainsAny(d.OutputPrefix, `/\`+"\x00") {
			ps = append(ps, &upstream.ValidationError{Field: fmt.Sprintf("outputs[%d].smartContentDescriptor.outputPrefix", i), Reason: "must not contain a path separator"})
		}
	}
	return ps
}

// trainingConflictsLocked enforces unique model names: not default, not an existing
// model, not one a live job is training, not twice in one request.
func (s *Server) trainingConflictsLocked(j *job, now time.Time) []*upstream.ValidationError {
	var ps []*upstream.ValidationError
	seen := map[string]bool{}
	for i, o := range j.outputs {
		sc := o.SmartContentDescriptor.SingingCloning
		if sc.Type != upstream.TypeTrain {
			continue
		}
		field := fmt.Sprintf("outputs[%d].smartContentDescriptor.singingCloning.modelName", i)
		name := sc.ModelName
		if tj := s.training[name]; tj != nil {
			s.advanceLocked(tj, now)
		}
		var reason string
		switch _, exists := s.models[name]; {
		case name == upstream.DefaultModel:
			reason = "model default is built in"
		case exists:
			reason = fmt.Sprintf("model %s already exists", name)
		case s.training[name] != nil:
			reason = fmt.Sprintf("model %s is being trained by job %s", name, s.training[name].id)
		case seen[name]:
			reason = fmt.Sprintf("model %s is trained twice in this request", name)
		}
		if reason != "" {
			ps = append(ps, &upstream.ValidationError{Field: field, Reason: reason})
		}
		seen[name] = true
	}
	return ps
}

// modelExistsLocked reports whether a generation can use name at now.
func (s *Server) modelExistsLocked(name string, now time.Time) bool {
	if name == upstream.DefaultModel {
		return true
	}
	if tj := s.training[name]; tj != nil {
		s.advanceLocked(tj, now)
	}
	_, ok := s.models[name]
	return ok
}

// planLocked fixes how long j will process and whether it fails, from its probed
// inputs.
func (s *Server) planLocked(j *job, infos []inputInfo, now time.Time) {
	j.planned, j.readyAt = true, now
	t := s.opts.Timing
	var total time.Duration
	for oi, o := range j.outputs {
		sc := o.SmartContentDescriptor.SingingCloning
		var audio time.Duration
		for _, i := range selectorsOf(o, len(j.inputs)) {
			in := infos[i]
			switch {
			case in.err != "":
				j.planErr = fmt.Sprintf("input %d: %s", i, in.err)
			case in.text && sc.Type == upstream.TypeTrain:
				j.planErr = fmt.Sprintf("input %d: sourceData is text; training needs recorded audio", i)
			}
			if j.planErr != "" {
				j.work = 0
				return
			}
			audio += in.dur
		}
		switch sc.Type {
		case upstream.TypeGenerate:
			if !s.modelExistsLocked(sc.ModelName, now) {
				j.planErr, j.work = fmt.Sprintf("output %d: model %s not found", oi, sc.ModelName), 0
				return
			}
			w := float64(t.GenerateBase) + float64(t.GeneratePerAudioSecond)*audio.Seconds()
			if sc.UseSeparate == upstream.SwitchOn {
				w *= t.SeparateFactor
			}
			total += time.Duration(w)
		case upstream.TypeTrain:
			if audio < s.opts.MinTrainAudio {
				j.planErr = fmt.Sprintf("output %d: training needs at least %v of audio, the inputs have %v",
					oi, s.opts.MinTrainAudio, audio.Round(100*time.Millisecond))
				j.work = 0
				return
			}
			epochs := sc.TotalEpoch
			if epochs == 0 {
				epochs = upstream.DefaultTotalEpoch
			}
			total += t.TrainBase + time.Duration(float64(t.TrainPerEpochMinute)*float64(epochs)*audio.Minutes())
		}
	}
	j.work = s.scale(time.Duration(float64(total) * j.jitter))
	if j.injectFail {
		j.planErr = "processing failed (injected fault)"
		j.work /= 2
	}
}
