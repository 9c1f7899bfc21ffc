package tasks

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// PollTiming decides when a submitted job is polled. Every GetJob costs quota, so a
// poll should find its job just done: not before (a call wasted), not long after (a
// result late). Nothing here is a guess of the service's durations: they are learned
// per class of work (ClassOf) from the jobs that finish, and until a class has
// finished one job a few scouts find out (see docs/worker.md, "Polling"):
//
//   - Unknown class: up to Scouts jobs probe at ages ProbeStart × ProbeGrowth^k, the
//     scouts' ladders staggered so that together they look every ProbeGrowth^(1/Scouts)
//     (2^⅕ ≈ 1.15 by default: a 1 s job is found within a second, a 3 h one in 14
//     calls per scout); the other jobs of the class wait without calling and are
//     brought forward when a scout's job ends.
//   - Known class: the first poll at the FirstQuantile of the recent total durations
//     (createdAt → completedAt), widened while few are known; the second at the
//     longest seen (from startedAt, with the longest processing time, when the first
//     saw the job PROCESSING); later ones back off by BackoffFraction of the job's age.
//   - Known class, grouped customIds: a list answers for every member, so each member
//     looks from the earliest its job may end (the 1−FirstQuantile quantile) to just
//     past the longest seen, one list of the group per groupEvery, then backs off.
type PollTiming struct {
	// HintSong, HintTrain: optional expected durations, only for the scouts of a class
	// not learned yet (one extra probe at the hint). Wrong hints cost a call or two.
	HintSong  time.Duration
	HintTrain time.Duration
	// FirstQuantile of the learned durations at which a job is first polled; default
	// 0.9: about one job in ten needs a second poll.
	FirstQuantile float64
	// Scouts probe a class not learned yet; default 5.
	Scouts int
	// ProbeStart is the age of a scout's first probe; default 1 s.
	ProbeStart time.Duration
	// ProbeGrowth is the ratio of a scout's successive probe ages; default 2.
	ProbeGrowth float64
	// BackoffFraction: a job running longer than any learned one is polled again after
	// this fraction of its age; default 0.2 (it is seen done at most ~20 % late).
	BackoffFraction float64
	// MinInterval, MaxInterval bound the time between two polls of a job; defaults 500 ms
	// and 10 min.
	MinInterval time.Duration
	MaxInterval time.Duration
	// GroupMinInterval bounds the time between two lists of a group of customIds (a
	// tenth of its class's median duration otherwise); default 100 ms. A list answers
	// for the whole group, so it may come more often than one job's poll.
	GroupMinInterval time.Duration
	// ShortWait: a poll due within this time waits in its handler rather than in
	// Asynq's schedule, whose times are whole seconds; default 2 s.
	ShortWait time.Duration
	// CallbackGrace (CALLBACK_POLL_GRACE): with callbacks on, a job is first polled
	// this long (or a fifth of the job's length, if more) after the longest job of its
	// class seen, as the backstop of a lost callback; one scout (not Scouts) finds out
	// a new class, from this age on, at ProbeGrowth² steps. Default 30 s.
	CallbackGrace time.Duration

	callbacks bool // set by NewHandlers when HandlerDeps.Callbacks is given
}

// DefaultPollTiming returns the defaults documented on PollTiming.
func DefaultPollTiming() PollTiming {
	return PollTiming{
		FirstQuantile:    0.9,
		Scouts:           5,
		ProbeStart:       time.Second,
		ProbeGrowth:      2,
		BackoffFraction:  0.2,
		MinInterval:      500 * time.Millisecond,
		MaxInterval:      10 * time.Minute,
		GroupMinInterval: 100 * time.Millisecond,
		ShortWait:        2 * time.Second,
		CallbackGrace:    30 * time.Second,
	}
}

// withDefaults fills zero fields with the defaults and checks the rest.
func (p PollTiming) withDefaults() (PollTiming, error) {
	d := DefaultPollTiming()
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&p.ProbeStart, d.ProbeStart}, {&p.MinInterval, d.MinInterval}, {&p.MaxInterval, d.MaxInterval},
		{&p.ShortWait, d.ShortWait}, {&p.CallbackGrace, d.CallbackGrace}, {&p.GroupMinInterval, d.GroupMinInterval},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *float64
		def float64
	}{
		{&p.FirstQuantile, d.FirstQuantile}, {&p.ProbeGrowth, d.ProbeGrowth}, {&p.BackoffFraction, d.BackoffFraction},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if p.Scouts == 0 {
		p.Scouts = d.Scouts
	}
	switch {
	case p.HintSong < 0 || p.HintTrain < 0 || p.ProbeStart < 0 || p.MinInterval < 0 || p.MaxInterval < 0 || p.ShortWait < 0 || p.GroupMinInterval < 0:
		return p, fmt.Errorf("poll timing: durations must not be negative")
	case p.MaxInterval < p.MinInterval:
		return p, fmt.Errorf("poll timing: MaxInterval %v is below MinInterval %v", p.MaxInterval, p.MinInterval)
	case !(p.FirstQuantile > 0 && p.FirstQuantile <= 1):
		return p, fmt.Errorf("poll timing: FirstQuantile %v: must be in (0, 1]", p.FirstQuantile)
	case !(p.ProbeGrowth > 1) || math.IsInf(p.ProbeGrowth, 0):
		return p, fmt.Errorf("poll timing: ProbeGrowth %v: must be above 1", p.ProbeGrowth)
	case !(p.BackoffFraction > 0) || math.IsInf(p.BackoffFraction, 0):
		return p, fmt.Errorf("poll timing: BackoffFraction %v: must be positive", p.BackoffFraction)
	case p.Scouts < 1:
		return p, fmt.Errorf("poll timing: Scouts %d: must be at least 1", p.Scouts)
	}
	return p, nil
}

// hintFor is the optional hint of a kind; 0 when none.
func (p PollTiming) hintFor(kind batch.Kind) time.Duration {
	if kind == batch.KindTrain {
		return p.HintTrain
	}
	return p.HintSong
}

// Estimate is what the recent finished jobs of a class say of its durations.
type Estimate struct {
	total      []time.Duration // createdAt → completedAt, ascending
	processing []time.Duration // startedAt → completedAt where known, ascending
}

// NewEstimate sums up a class's timings (batch.Store.JobTimings).
func NewEstimate(ts []batch.JobTiming) Estimate {
	var e Estimate
	for _, t := range ts {
		e.total = append(e.total, t.Total)
		if t.Processing > 0 {
			e.processing = append(e.processing, t.Processing)
		}
	}
	slices.Sort(e.total)
	slices.Sort(e.processing)
	return e
}

// N is the number of jobs the estimate is made of; 0: the class is not known yet.
func (e Estimate) N() int { return len(e.total) }

// Median is the middle total duration; 0 when unknown.
func (e Estimate) Median() time.Duration { return quantile(e.total, 0.5) }

// Max is the longest total duration seen.
func (e Estimate) Max() time.Duration { return quantile(e.total, 1) }

// firstPoll is when, after creation, a job of the class is first polled: the q
// quantile, widened by 10 %/√n, as a quantile of few samples underestimates the spread
// (with one sample, half the jobs take longer).
func (e Estimate) firstPoll(q float64) time.Duration {
	return scaleDur(quantile(e.total, q), 1+0.1/math.Sqrt(float64(e.N())))
}

// earliest is when, after creation, a job of the class may first be done: the
// 1−q quantile, narrowed by 10 %/√n as firstPoll widens its q quantile.
func (e Estimate) earliest(q float64) time.Duration {
	return scaleDur(quantile(e.total, 1-q), max(0, 1-0.1/math.Sqrt(float64(e.N()))))
}

// lastPoll is the second poll's aim: a little past the longest total duration, or the
// longest processing time after startedAt when that is known.
func (e Estimate) lastPoll(started time.Duration) time.Duration {
	if started > 0 && len(e.processing) > 0 {
		return started + scaleDur(quantile(e.processing, 1), 1.05)
	}
	return scaleDur(e.Max(), 1.05)
}

// backstopMargin is how far past last (lastPoll) a job's callback backstop looks:
// 5 % + 15 %/√n of it, a fifth with one sample, about a fourteenth with 64.
func (e Estimate) backstopMargin(last time.Duration) time.Duration {
	return scaleDur(last, 0.05+0.15/math.Sqrt(float64(max(e.N(), 1))))
}

// quantile of sorted values, interpolated; 0 for none.
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + time.Duration((pos-float64(i))*float64(sorted[i+1]-sorted[i]))
}

func scaleDur(d time.Duration, f float64) time.Duration {
	return time.Duration(math.Round(float64(d) * f))
}
