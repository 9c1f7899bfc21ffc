package tasks

import (
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// serviceOffset is to − from as the service reports them, when both are set and in
// order: a duration measured on the service's own clock, whatever ours says.
func serviceOffset(from, to upstream.Millis) (time.Duration, bool) {
	if from <= 0 || to <= 0 || to < from {
		return 0, false
	}
	return time.Duration(to-from) * time.Millisecond, true
}

// observedTiming is how long a finished job took: its createdAt → completedAt and
// startedAt → completedAt at the service. A timing that is missing, or that cannot be
// true given what the worker saw (well under the age at which an earlier poll, st,
// found the job not final, or longer than the job has been known here), is replaced by
// the worker's own observation, from submission to now.
func observedTiming(job *upstream.Job, st pollState, now time.Time) batch.JobTiming {
	seen := now.Sub(st.submitted)
	// The service created the job a little before our submission time was taken; a
	// job adopted after a lost answer may be older than the record by the clocks' skew.
	slack := time.Minute + seen/10
	total, ok := serviceOffset(job.Timing.CreatedAt, job.Timing.CompletedAt)
	if !ok || total > seen+slack || (st.calls > 0 && total < st.last.Sub(st.submitted)/2) {
		total = seen
	}
	t := batch.JobTiming{Total: total}
	if p, ok := serviceOffset(job.Timing.StartedAt, job.Timing.CompletedAt); ok && p <= total {
		t.Processing = p
	}
	return t
}
