package tasks

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// PollTiming decides when a submitted job is polled. Every GetJob costs quota, so the
// first poll aims at the moment the job is expected to be done, and the later ones back
// off:
//
//	first poll:  FirstFactor × expected + FirstOffset after submission
//	poll n ≥ 2:  max(MinInterval, StepFraction × expected) × Growth^(n-2) after the
//	             previous one, ± Jitter, within [MinInterval, MaxInterval]
//
// expected is the median duration of the latest jobs of the same kind (createdAt →
// completedAt, Store.ExpectedDuration) once MinSamples are known, DefaultSong or
// DefaultTrain before. The median alone finishes about half the jobs by then, which
// would mean ~1.5 GetJob per job; FirstFactor moves the first poll to a higher
// quantile: with durations spread ±20 % around the median (the simulator's jitter), 1.15
// catches most jobs at the first poll and the rest at the second, about 1.1–1.2 GetJob
// per job. Raise it when jobs of a kind vary more (songs of very different lengths);
// lower it to get results sooner at the price of more calls.
type PollTiming struct {
	DefaultSong  time.Duration // expected song duration before MinSamples are known; default 60 s
	DefaultTrain time.Duration // expected training duration before MinSamples are known; default 30 min
	MinSamples   int           // observations needed to trust the median; default 3
	FirstFactor  float64       // first poll at FirstFactor × expected; default 1.15
	FirstOffset  time.Duration // ... plus FirstOffset (may be negative); default 0
	MinInterval  time.Duration // shortest delay between polls; default 5 s
	MaxInterval  time.Duration // longest delay between polls; default 10 min
	StepFraction float64       // second poll StepFraction × expected after the first; default 0.25
	Growth       float64       // each later delay grows by this factor; default 1.5
	Jitter       float64       // later delays vary by ± this fraction; default 0.2, negative for none
	EstimateTTL  time.Duration // how long a process reuses a kind's expected duration; default 2 s
}

// DefaultPollTiming returns the defaults documented on PollTiming.
func DefaultPollTiming() PollTiming {
	return PollTiming{
		DefaultSong:  60 * time.Second,
		DefaultTrain: 30 * time.Minute,
		MinSamples:   3,
		FirstFactor:  1.15,
		MinInterval:  5 * time.Second,
		MaxInterval:  10 * time.Minute,
		StepFraction: 0.25,
		Growth:       1.5,
		Jitter:       0.2,
		EstimateTTL:  2 * time.Second,
	}
}

// withDefaults fills zero fields with the defaults and checks the rest.
func (p PollTiming) withDefaults() (PollTiming, error) {
	d := DefaultPollTiming()
	for _, f := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&p.DefaultSong, d.DefaultSong}, {&p.DefaultTrain, d.DefaultTrain},
		{&p.MinInterval, d.MinInterval}, {&p.MaxInterval, d.MaxInterval}, {&p.EstimateTTL, d.EstimateTTL},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	for _, f := range []struct {
		v   *float64
		def float64
	}{
		{&p.FirstFactor, d.FirstFactor}, {&p.StepFraction, d.StepFraction}, {&p.Growth, d.Growth}, {&p.Jitter, d.Jitter},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	if p.MinSamples == 0 {
		p.MinSamples = d.MinSamples
	}
	if p.Jitter < 0 {
		p.Jitter = 0
	}
	switch {
	case p.DefaultSong < 0 || p.DefaultTrain < 0 || p.MinInterval < 0 || p.MaxInterval < 0 || p.EstimateTTL < 0:
		return p, fmt.Errorf("poll timing: durations must not be negative")
	case p.MaxInterval < p.MinInterval:
		return p, fmt.Errorf("poll timing: MaxInterval %v is below MinInterval %v", p.MaxInterval, p.MinInterval)
	case !(p.FirstFactor > 0) || math.IsInf(p.FirstFactor, 0):
		return p, fmt.Errorf("poll timing: FirstFactor %v: must be positive", p.FirstFactor)
	case !(p.StepFraction > 0) || math.IsInf(p.StepFraction, 0):
		return p, fmt.Errorf("poll timing: StepFraction %v: must be positive", p.StepFraction)
	case !(p.Growth >= 1) || math.IsInf(p.Growth, 0):
		return p, fmt.Errorf("poll timing: Growth %v: must be at least 1", p.Growth)
	case !(p.Jitter < 1):
		return p, fmt.Errorf("poll timing: Jitter %v: must be below 1", p.Jitter)
	case p.MinSamples < 1:
		return p, fmt.Errorf("poll timing: MinSamples %d: must be at least 1", p.MinSamples)
	}
	return p, nil
}

// defaultFor is the expected duration of a kind before enough observations.
func (p PollTiming) defaultFor(kind batch.Kind) time.Duration {
	if kind == batch.KindTrain {
		return p.DefaultTrain
	}
	return p.DefaultSong
}

// FirstDelay is the delay from submission to the first poll.
func (p PollTiming) FirstDelay(expected time.Duration) time.Duration {
	return max(time.Duration(math.Round(p.FirstFactor*float64(expected)))+p.FirstOffset, 0)
}

// NextDelay is the delay before poll n (n ≥ 2) after poll n-1; u in [0, 1) draws the
// jitter.
func (p PollTiming) NextDelay(expected time.Duration, n int, u float64) time.Duration {
	d := max(float64(p.MinInterval), p.StepFraction*float64(expected))
	if n > 2 {
		d *= math.Pow(p.Growth, float64(n-2))
	}
	if !(u >= 0 && u < 1) {
		u = 0.5
	}
	d *= 1 + p.Jitter*(2*u-1)
	if d > float64(p.MaxInterval) || math.IsInf(d, 0) || math.IsNaN(d) {
		return p.MaxInterval
	}
	return max(time.Duration(math.Round(d)), p.MinInterval)
}

// estimator caches Store.ExpectedDuration per kind for PollTiming.EstimateTTL, so that a
// burst of submissions reads the samples once.
type estimator struct {
	store *batch.Store
	pt    PollTiming
	now   func() time.Time

	mu    sync.Mutex
	cache map[batch.Kind]estimate
}

type estimate struct {
	d  time.Duration
	at time.Time
}

// expected returns the expected duration of a job of kind. A failed read falls back to
// the default: a poll a little early or late costs one call, while failing the caller
// over an estimate would stall the item.
func (e *estimator) expected(ctx context.Context, kind batch.Kind) time.Duration {
	now := e.now()
	e.mu.Lock()
	c, ok := e.cache[kind]
	e.mu.Unlock()
	if ok && now.Sub(c.at) < e.pt.EstimateTTL {
		return c.d
	}
	d, n, err := e.store.ExpectedDuration(ctx, kind)
	if err != nil {
		return e.pt.defaultFor(kind)
	}
	if n < e.pt.MinSamples || d <= 0 {
		d = e.pt.defaultFor(kind)
	}
	e.mu.Lock()
	if e.cache == nil {
		e.cache = map[batch.Kind]estimate{}
	}
	e.cache[kind] = estimate{d: d, at: now}
	e.mu.Unlock()
	return d
}
