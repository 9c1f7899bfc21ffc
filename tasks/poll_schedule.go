package tasks

import (
	"math"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// pollState is what one poll task knows of its job; it travels in PollPayload.
type pollState struct {
	submitted time.Time     // when the job was created, by our clock
	calls     int           // GetJob calls made for it so far
	last      time.Time     // the latest of them; zero before the first
	started   time.Duration // startedAt − createdAt at the service, once a call saw it; 0 unknown
}

// age is how long the job has existed at t.
func (s pollState) age(t time.Time) time.Duration { return t.Sub(s.submitted) }

// target is when to poll a job of a learned class next; backlog: CreateJobs wait for
// the quota (Handlers.backlog).
func (p PollTiming) target(rec batch.ItemRecord, s pollState, e Estimate, backlog bool) time.Time {
	if isGroupID(rec.CustomID) {
		return p.groupTarget(s, e, backlog)
	}
	return p.knownTarget(s, e)
}

// knownTarget is when to call GetJob next for a job of a class that has an estimate.
func (p PollTiming) knownTarget(s pollState, e Estimate) time.Time {
	switch {
	case s.calls == 0 && p.callbacks:
		// The callback is the news; this poll is for a callback that never came. Past
		// the longest seen by a fifth of it while few are known (the next may well run
		// longer, and its poll would come before its callback), narrowing to a
		// fourteenth as the sample grows (as firstPoll widens its quantile).
		last := e.lastPoll(s.started)
		return s.submitted.Add(last + max(p.CallbackGrace, e.backstopMargin(last)))
	case s.calls == 0:
		return s.submitted.Add(e.firstPoll(p.FirstQuantile))
	case s.calls == 1:
		t := s.submitted.Add(e.lastPoll(s.started))
		if floor := s.last.Add(p.MinInterval); t.After(floor) {
			return t
		}
	}
	// Longer than the jobs seen, or the estimate moved past it: back off with its age,
	// so that it is seen done at most BackoffFraction late.
	return s.last.Add(p.backoff(s.age(s.last)))
}

// groupTarget is knownTarget for a member of a group of customIds (group.go): its
// group is listed every groupEvery, from the earliest the member's job may end to just
// past the longest seen; lists that another member made meanwhile spare this one's
// call (Store.ClaimGroupList). With callbacks on, the callback is the news and the
// member's poll is only its backstop.
func (p PollTiming) groupTarget(s pollState, e Estimate, backlog bool) time.Time {
	if p.callbacks {
		return p.knownTarget(s, e)
	}
	if s.calls == 0 {
		return s.submitted.Add(e.earliest(p.FirstQuantile))
	}
	every := p.groupEvery(e, backlog)
	if s.age(s.last) < e.lastPoll(s.started) {
		return s.last.Add(every)
	}
	return s.last.Add(max(p.backoff(s.age(s.last)), every))
}

// groupEvery is how often a group of customIds may be listed: a tenth of its class's
// median duration, at least GroupMinInterval, at most MaxInterval. While CreateJobs
// wait for the quota (backlog), every list takes a CreateJob's place and delays the
// whole batch, so lists come half as often: a fifth of the median, which still records
// a job within about a fifth of its length of its end.
func (p PollTiming) groupEvery(e Estimate, backlog bool) time.Duration {
	every := e.Median() / 10
	if backlog {
		every = e.Median() / 5
	}
	return min(max(every, p.GroupMinInterval), p.MaxInterval)
}

// backoff is the time between polls of a job of age: BackoffFraction of it, within
// [MinInterval, MaxInterval].
func (p PollTiming) backoff(age time.Duration) time.Duration {
	return min(max(scaleDur(age, p.BackoffFraction), p.MinInterval), p.MaxInterval)
}

// probeTarget is a scout's next probe: the first rung of its ladder past its last call.
// Slot k's ladder is ProbeStart × ProbeGrowth^(n + k/Scouts), n = 0, 1, …: each scout
// calls log(duration) times, and together they look at ages ProbeGrowth^(1/Scouts)
// apart, so the first sample comes at most that factor after the job's end. A hint adds
// one rung, a little past it.
func (p PollTiming) probeTarget(s pollState, slot int, hint time.Duration) time.Time {
	after := time.Duration(0)
	if s.calls > 0 {
		after = s.age(s.last) + p.MinInterval
	}
	rung := scaleDur(p.ProbeStart, math.Pow(p.ProbeGrowth, float64(slot%p.Scouts)/float64(p.Scouts)))
	for rung < after {
		rung = scaleDur(rung, p.ProbeGrowth)
	}
	if h := scaleDur(hint, 1.05); hint > 0 && h >= after && h < rung {
		rung = h
	}
	return s.submitted.Add(rung)
}

// parkTarget is when a job of an unknown class that is not a scout looks again,
// without a call: the scouts' first sample brings it forward (Handlers.bringForward);
// this only bounds the wait should that never come (its sender crashed), at twice the
// job's age. It is never sooner than ShortWait, as it waits in Asynq's schedule.
func (p PollTiming) parkTarget(s pollState, now time.Time) time.Time {
	return now.Add(max(s.age(now), p.ProbeStart, p.ShortWait))
}
