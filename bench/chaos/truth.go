package main

import (
	"context"
	"fmt"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// result is what a chaos run did and what it found.
type result struct {
	// What was done to the run.
	Kills, SIGTERMs, RedisRestarts, ThrottleBursts, ForgedSent int
	UnexpectedExits                                            int // worker processes that died on their own
	// What it found, against the simulator's truth.
	Expected                         int // items in the manifest
	Total, Final, Completed, Failed  int
	Lost                             int // items not final at the end
	WrongRecords                     int // a completed item whose job or result is not the service's
	PaidTwice                        int // requests that created more than one job
	ForgedAccepted                   int // records holding a forged result
	OverRate                         int // most requests in a 1 s window above the rate (0: never over)
	MaxPerSecond                     int // most requests in any 1 s window
	Requests, Throttled, JobsCreated int
	JobsRecorded                     int // distinct job ids in the records
	Orphans                          int // jobs created that no record holds: paid for nothing
	CallbacksDelivered               int
	// Faults the simulator injected.
	LostCreates, Hung, InternalErrors                       int
	CallbacksDropped, CallbacksDuplicated, CallbacksDelayed int
	FailedReasons                                           map[string]int
	Makespan                                                time.Duration
}

// compare reads every item and checks it against the simulator's jobs.
func (r *run) compare(ctx context.Context, res result) (result, error) {
	st := r.sim.Stats()
	res.PaidTwice = len(st.PaidTwice)
	res.MaxPerSecond = st.MaxRequestsPerSecond
	res.OverRate = max(0, st.MaxRequestsPerSecond-r.p.Rate)
	res.Requests, res.Throttled, res.JobsCreated = st.Requests, st.Throttled, st.JobsCreated
	res.CallbacksDelivered = st.Callbacks.Delivered
	res.LostCreates = st.Count(upstream.ActionCreateJob, sim.OutcomeLost)
	for _, outcomes := range st.Calls {
		res.Hung += outcomes[sim.OutcomeHung]
		res.InternalErrors += outcomes[sim.OutcomeInternal]
	}
	res.CallbacksDropped, res.CallbacksDuplicated, res.CallbacksDelayed = st.Callbacks.Dropped, st.Callbacks.Duplicated, st.Callbacks.Delayed
	res.Expected = r.p.Items
	res.FailedReasons = map[string]int{}
	jobs := map[string]bool{}
	err := r.store.Items(ctx, chaosBatch, nil, func(rec batch.ItemRecord) error {
		res.Total++
		if rec.JobID != "" {
			jobs[rec.JobID] = true
		}
		if !rec.State.Final() {
			res.Lost++
			return nil
		}
		res.Final++
		if rec.SongName == forgedSongName || rec.TrainedModel == forgedSongName {
			res.ForgedAccepted++
		}
		switch rec.State {
		case batch.StateFailed:
			res.Failed++
			res.FailedReasons[shorten(rec.Error)]++
		case batch.StateCompleted:
			res.Completed++
			if !matchesTruth(r, rec) {
				res.WrongRecords++
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("read the items: %w", err)
	}
	res.JobsRecorded = len(jobs)
	for _, j := range r.sim.Jobs() {
		if !jobs[j.ID] {
			res.Orphans++
		}
	}
	return res, nil
}

// matchesTruth: the item's job exists at the service, is completed, and produced what
// the record says.
func matchesTruth(r *run, rec batch.ItemRecord) bool {
	j, ok := r.sim.Job(rec.JobID)
	if !ok || j.State != upstream.StateCompleted {
		return false
	}
	res := j.Result()
	if res == nil {
		return false
	}
	if rec.Kind == batch.KindTrain {
		return rec.TrainedModel == res.ModelName || (res.ModelName == "" && rec.TrainedModel == rec.Model)
	}
	return res.SongName == rec.SongName
}

func shorten(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return s
}
