package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// runResult is one run's figures. Times are real (the simulator's clock is the real one,
// its durations scaled).
type runResult struct {
	label      string
	procs      int
	rate       int
	items      int
	jobs       int            // jobs the simulator created
	completed  int            // items whose job completed
	failed     int            // items whose job ended otherwise
	calls      int            // API requests the simulator received
	byAction   map[string]int // of those, per action
	throttled  int
	maxPerSec  int // the most requests in any 1-second window
	makespan   time.Duration
	lowerBound time.Duration // any order (the longest jobs first)
	orderBound time.Duration // the order the jobs were created in
	lastCreate time.Duration // the last CreateJob, since the start
	lagP50     time.Duration
	lagP95     time.Duration
	lagMax     time.Duration
	quotaUse   float64   // requests/s over the rate while a backlog existed
	perSecond  []int     // requests in each second from the start
	finals     []finalAt // items final over time
	cpu        time.Duration
	redisBytes int64 // Redis used_memory after the run, over the empty server's
}

// finalAt is how many items were final at a time since the start.
type finalAt struct {
	at time.Duration
	n  int
}

// actions is the calls per action per completed job, as "CreateJob 1.00, GetJob 0.20".
func (r runResult) actions() string {
	names := slices.Sorted(maps.Keys(r.byAction))
	parts := make([]string, 0, len(names))
	for _, a := range names {
		parts = append(parts, fmt.Sprintf("%s %.2f", a, float64(r.byAction[a])/float64(max(r.completed, 1))))
	}
	return strings.Join(parts, ", ")
}

// callsPerJob is the requests sent per job that completed.
func (r runResult) callsPerJob() float64 { return float64(r.calls) / float64(max(r.completed, 1)) }
func (r runResult) ratio() float64 {
	return r.makespan.Seconds() / max(r.lowerBound.Seconds(), 1e-9)
}

// orderRatio is the makespan over orderBound.
func (r runResult) orderRatio() float64 {
	return r.makespan.Seconds() / max(r.orderBound.Seconds(), 1e-9)
}

// done is one item's job and when its end was recorded.
type done struct {
	jobID    string
	recorded time.Time
}

// waitBatch waits until the batch is final, sampling how many items are.
func (s *stack) waitBatch(ctx context.Context, start time.Time, total int) ([]finalAt, time.Time, error) {
	var finals []finalAt
	for {
		b, err := s.store.Batch(ctx, benchBatch)
		if err == nil {
			finals = append(finals, finalAt{at: time.Since(start), n: int(b.Finished())})
			if b.Done() {
				if b.Counts[batch.StateCompleted] != int64(total) {
					return finals, time.Time{}, fmt.Errorf("batch ended with %v, want %d completed", b.Counts, total)
				}
				return finals, time.Now(), nil
			}
		}
		select {
		case <-ctx.Done():
			return finals, time.Time{}, fmt.Errorf("batch not done (%v): %w\n%s", b.Counts, ctx.Err(), s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// batchDone lists the batch's items' jobs and when each was recorded final.
func (s *stack) batchDone(ctx context.Context) ([]done, error) {
	var out []done
	err := s.store.Items(ctx, benchBatch, nil, func(rec batch.ItemRecord) error {
		out = append(out, done{jobID: rec.JobID, recorded: rec.UpdatedAt})
		return nil
	})
	return out, err
}

// measure fills r from the simulator's truth: calls, the rate, lags and the lower bound.
func (s *stack) measure(r *runResult, start time.Time, finished []done, rate int) error {
	st := s.sim.Stats()
	r.calls, r.throttled, r.maxPerSec, r.jobs = st.Requests, st.Throttled, st.MaxRequestsPerSecond, st.JobsCreated
	r.byAction = map[string]int{}
	for action, outcomes := range st.Calls {
		for _, n := range outcomes {
			r.byAction[action] += n
		}
	}
	r.rate = rate
	jobs := s.sim.Jobs()
	byID := make(map[string]upstream.Job, len(jobs))
	var lastCreate time.Time
	for _, j := range jobs {
		byID[j.ID] = j
		lastCreate = later(lastCreate, j.Timing.CreatedAt.Time())
	}
	var lags []time.Duration
	for _, f := range finished {
		j, ok := byID[f.jobID]
		if !ok {
			return fmt.Errorf("job %q: unknown to the simulator", f.jobID)
		}
		if j.State != upstream.StateCompleted {
			r.failed++ // the naive way sends songs before their model exists
			continue
		}
		r.completed++
		lags = append(lags, f.recorded.Sub(j.Timing.CompletedAt.Time()))
	}
	if len(lags) == 0 {
		return errors.New("no job finished")
	}
	slices.Sort(lags)
	r.lagP50, r.lagP95, r.lagMax = quantile(lags, 0.50), quantile(lags, 0.95), lags[len(lags)-1]
	r.lowerBound = lowerBound(jobs, rate)
	r.orderBound = orderBound(jobs, rate)
	r.lastCreate = lastCreate.Sub(start)
	arrivals := s.sim.Arrivals()
	r.perSecond = perSecond(arrivals, start)
	r.quotaUse = quotaUse(arrivals, lastCreate, rate)
	return nil
}

// quotaUse is the requests sent from the first to the last CreateJob (while a backlog
// of items to create existed), per second, over the rate.
func quotaUse(arrivals []time.Time, lastCreate time.Time, rate int) float64 {
	if len(arrivals) < 2 {
		return 0
	}
	first := arrivals[0]
	n := 0
	for _, a := range arrivals {
		if !a.After(lastCreate) {
			n++
		}
	}
	span := lastCreate.Sub(first).Seconds()
	if span <= 0 {
		return 0
	}
	// n requests in [first, last]: n-1 intervals of the rate's spacing at most.
	return float64(n-1) / span / float64(rate)
}

// perSecond counts arrivals in each second since start.
func perSecond(arrivals []time.Time, start time.Time) []int {
	var out []int
	for _, a := range arrivals {
		i := int(a.Sub(start) / time.Second)
		if i < 0 {
			continue
		}
		for len(out) <= i {
			out = append(out, 0)
		}
		out[i]++
	}
	return out
}

// lowerBound is the shortest makespan the quota and the jobs' own durations allow: the
// k-th CreateJob (0-based) cannot leave before k/rate whole seconds (the service counts
// rate requests per second), longest jobs first is then best, and a song on a trained
// model cannot start before its training has ended.
func lowerBound(jobs []upstream.Job, rate int) time.Duration {
	durs := make([]time.Duration, 0, len(jobs))
	trainEnd := map[string]time.Duration{}
	for _, j := range jobs {
		d := j.Timing.CompletedAt.Time().Sub(j.Timing.CreatedAt.Time())
		durs = append(durs, d)
		if sc := singing(j); sc != nil && sc.Type == upstream.TypeTrain {
			trainEnd[sc.ModelName] = d
		}
	}
	slices.SortFunc(durs, func(a, b time.Duration) int { return int(b - a) })
	var lb time.Duration
	for k, d := range durs {
		lb = max(lb, time.Duration(k/rate)*time.Second+d)
	}
	for _, j := range jobs {
		if sc := singing(j); sc != nil && sc.Type == upstream.TypeGenerate {
			if t, ok := trainEnd[sc.ModelName]; ok {
				lb = max(lb, t+j.Timing.CompletedAt.Time().Sub(j.Timing.CreatedAt.Time()))
			}
		}
	}
	return lb
}

// orderBound is lowerBound for the jobs in the order they were created: what a client
// that cannot know a job's duration before it ends (none can) would reach at best with
// that order, sending CreateJobs back to back at the full rate, no other call, and
// recording each job the instant it ends.
func orderBound(jobs []upstream.Job, rate int) time.Duration {
	sorted := slices.Clone(jobs)
	slices.SortStableFunc(sorted, func(a, b upstream.Job) int { return int(a.Timing.CreatedAt - b.Timing.CreatedAt) })
	trainEnd := map[string]time.Duration{}
	var lb time.Duration
	for k, j := range sorted {
		start := time.Duration(k/rate) * time.Second
		sc := singing(j)
		if sc != nil && sc.Type == upstream.TypeGenerate {
			if t, ok := trainEnd[sc.ModelName]; ok {
				start = max(start, t)
			}
		}
		end := start + j.Timing.CompletedAt.Time().Sub(j.Timing.CreatedAt.Time())
		if sc != nil && sc.Type == upstream.TypeTrain {
			trainEnd[sc.ModelName] = end
		}
		lb = max(lb, end)
	}
	return lb
}

// singing is a job's singing-cloning descriptor (its kind and model).
func singing(j upstream.Job) *upstream.SingingCloning {
	for _, o := range j.Outputs {
		if o.SmartContentDescriptor != nil && o.SmartContentDescriptor.SingingCloning != nil {
			return o.SmartContentDescriptor.SingingCloning
		}
	}
	return nil
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
