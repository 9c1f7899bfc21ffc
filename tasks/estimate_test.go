package tasks

import (
	"math"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

var tStart = time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)

func defaultTiming(t *testing.T) PollTiming {
	t.Helper()
	p, err := PollTiming{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func estimateOf(totals ...time.Duration) Estimate {
	ts := make([]batch.JobTiming, len(totals))
	for i, d := range totals {
		ts[i] = batch.JobTiming{Total: d, Processing: d * 3 / 4}
	}
	return NewEstimate(ts)
}

func TestEstimateQuantiles(t *testing.T) {
	t.Parallel()
	var e Estimate
	if e.N() != 0 || e.Median() != 0 {
		t.Fatalf("empty estimate: n %d median %v", e.N(), e.Median())
	}
	// 1..100 s: robust to one outlier of an hour.
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	e = estimateOf(append(ds, time.Hour)...)
	if got := e.Median(); got != 51*time.Second {
		t.Errorf("median = %v, want 51s", got)
	}
	if got := quantile(e.total, 0.9); got != 91*time.Second {
		t.Errorf("p90 = %v, want 91s", got)
	}
	// The first poll widens the quantile while few jobs are known: one sample × 1.1,
	// 100 samples × 1.01.
	if got := estimateOf(40 * time.Second).firstPoll(0.9); got != 44*time.Second {
		t.Errorf("first poll on one 40 s sample = %v, want 44s", got)
	}
	if got, want := estimateOf(ds...).firstPoll(0.9), scaleDur(time.Duration(90.1*float64(time.Second)), 1.01); got != want {
		t.Errorf("first poll on 100 samples = %v, want %v", got, want)
	}
}

// spread90to105 is a learned class of 64 jobs of 90 to 105 s.
func spread90to105() Estimate {
	var ds []time.Duration
	for i := range 64 {
		ds = append(ds, time.Duration(90+i%16)*time.Second)
	}
	return estimateOf(ds...)
}

// A learned class: first poll at the widened p90 after creation, second just past the
// longest job (from startedAt when PROCESSING was seen), then back off with the age.
func TestKnownSchedule(t *testing.T) {
	t.Parallel()
	p := defaultTiming(t)
	e := spread90to105()
	s := pollState{submitted: tStart}
	first := p.knownTarget(s, e)
	if want := tStart.Add(e.firstPoll(0.9)); !first.Equal(want) || first.Sub(tStart) < 100*time.Second {
		t.Errorf("first poll at +%v, want +%v (p90 of 90-105 s, widened)", first.Sub(tStart), want.Sub(tStart))
	}
	s.calls, s.last = 1, first
	if got, want := p.knownTarget(s, e).Sub(tStart), scaleDur(105*time.Second, 1.05); got != want {
		t.Errorf("second poll at +%v, want +%v (1.05 × the longest)", got, want)
	}
	// Seen PROCESSING, started 40 s after creation: startedAt + longest processing.
	s.started = 40 * time.Second
	if got, want := p.knownTarget(s, e).Sub(tStart), 40*time.Second+scaleDur(105*time.Second*3/4, 1.05); got != want {
		t.Errorf("second poll of a job started at +40s: +%v, want +%v", got, want)
	}
	// Past everything learned: 20 % of the age, within [MinInterval, MaxInterval].
	s.calls, s.last = 2, tStart.Add(200*time.Second)
	if got := p.knownTarget(s, e).Sub(s.last); got != 40*time.Second {
		t.Errorf("third poll %v after the second, want 40s (20%% of 200 s)", got)
	}
	s.last = tStart.Add(10 * time.Hour)
	if got := p.knownTarget(s, e).Sub(s.last); got != p.MaxInterval {
		t.Errorf("poll of a 10 h job %v after the last, want MaxInterval", got)
	}
	// A second poll whose aim already passed (the estimate dropped) backs off instead.
	s = pollState{submitted: tStart, calls: 1, last: tStart.Add(300 * time.Second)}
	if got := p.knownTarget(s, e).Sub(s.last); got != 60*time.Second {
		t.Errorf("second poll after the aim passed: %v later, want 60s", got)
	}
}

// A member of a group of customIds looks from the earliest its job may end to just past
// the longest seen, one group list per tenth of the median (at least
// GroupMinInterval), then backs off like a lone job; with callbacks on it is only the
// callback's backstop.
func TestGroupSchedule(t *testing.T) {
	t.Parallel()
	p := defaultTiming(t)
	e := spread90to105()
	s := pollState{submitted: tStart}
	first := p.groupTarget(s, e, false)
	if got := first.Sub(tStart); got > 90*time.Second || got < 85*time.Second {
		t.Errorf("first look at +%v, want just before the shortest jobs end (90 s)", got)
	}
	if got, want := p.groupEvery(e, false), e.Median()/10; got != want {
		t.Errorf("group listed every %v, want a tenth of the median, %v", got, want)
	}
	s.calls, s.last = 1, first
	if got := p.groupTarget(s, e, false).Sub(first); got != p.groupEvery(e, false) {
		t.Errorf("next look %v after the first, want every %v", got, p.groupEvery(e, false))
	}
	// While CreateJobs wait for the quota, a list takes one's place: half as many.
	if got, want := p.groupTarget(s, e, true).Sub(first), e.Median()/5; got != want {
		t.Errorf("with a backlog, next look %v after the first, want a fifth of the median, %v", got, want)
	}
	// Past the longest seen: back off with the age, as a lone job does.
	s.calls, s.last = 4, tStart.Add(200*time.Second)
	if got, want := p.groupTarget(s, e, false).Sub(s.last), p.backoff(200*time.Second); got != want {
		t.Errorf("look past the longest %v later, want %v", got, want)
	}
	// A job seen PROCESSING: its window ends at startedAt + the longest processing time.
	s = pollState{submitted: tStart, calls: 1, last: tStart.Add(100 * time.Second), started: 2 * time.Second}
	if got, want := p.groupTarget(s, e, false).Sub(s.last), p.backoff(100*time.Second); got != want {
		t.Errorf("look of a job started at +2s past its processing window %v later, want %v", got, want)
	}
	// Short jobs: the floor keeps a group's lists GroupMinInterval apart.
	short := estimateOf(300*time.Millisecond, 320*time.Millisecond, 350*time.Millisecond)
	if got := p.groupEvery(short, false); got != p.GroupMinInterval {
		t.Errorf("group of 0.3 s jobs listed every %v, want GroupMinInterval %v", got, p.GroupMinInterval)
	}
	p.callbacks = true
	s = pollState{submitted: tStart}
	if got, want := p.groupTarget(s, e, false), p.knownTarget(s, e); !got.Equal(want) {
		t.Errorf("with callbacks, first look at +%v, want the backstop +%v", got.Sub(tStart), want.Sub(tStart))
	}
}

// Scouts find the end of a job of any length from 1 s to 3 h within a small factor and
// a handful of calls each, and together look often enough to learn it closely.
func TestProbeLadder(t *testing.T) {
	t.Parallel()
	p := defaultTiming(t)
	for _, d := range []time.Duration{time.Second, 1500 * time.Millisecond, 20 * time.Second, 5 * time.Minute, 30 * time.Minute, 3 * time.Hour} {
		firstSeen := time.Duration(math.MaxInt64)
		maxCalls := 0
		for slot := range p.Scouts {
			s := pollState{submitted: tStart}
			for {
				at := p.probeTarget(s, slot, 0)
				s.calls, s.last = s.calls+1, at
				if at.Sub(tStart) >= d {
					firstSeen = min(firstSeen, at.Sub(tStart))
					break
				}
			}
			maxCalls = max(maxCalls, s.calls)
		}
		if ratio := float64(firstSeen) / float64(d); ratio > 1.2 {
			t.Errorf("%v: first seen done at %v (%.2f×), want within 1.2× (the scouts' joint step)", d, firstSeen, ratio)
		}
		if want := 2 + int(math.Ceil(math.Log2(float64(d)/float64(time.Second)))); maxCalls > want {
			t.Errorf("%v: a scout made %d calls, want at most %d", d, maxCalls, want)
		}
	}
	// A hint adds one rung, never replaces the ladder below it (a hint 50× too long must
	// not make the scouts wait that long): right, the job is seen done 5 % after its
	// end; 50× off either way, one call more or none, and the ladder finds it.
	for _, c := range []struct {
		hint      time.Duration
		wantCalls int
		wantSeen  time.Duration
	}{{0, 10, 512 * time.Second}, {5 * time.Minute, 10, 315 * time.Second},
		{6 * time.Second, 11, 512 * time.Second}, {250 * time.Minute, 10, 512 * time.Second}} {
		s := pollState{submitted: tStart}
		for s.last.Sub(tStart) < 5*time.Minute {
			s.calls, s.last = s.calls+1, p.probeTarget(s, 0, c.hint)
		}
		if s.calls != c.wantCalls || s.last.Sub(tStart) != c.wantSeen {
			t.Errorf("hint %v for a 5 min job: %d calls, done seen at +%v; want %d calls, +%v",
				c.hint, s.calls, s.last.Sub(tStart), c.wantCalls, c.wantSeen)
		}
	}
}

// A job that is not a scout of an unknown class waits twice its age, without a call.
func TestParkTarget(t *testing.T) {
	t.Parallel()
	p := defaultTiming(t)
	s := pollState{submitted: tStart}
	if got := p.parkTarget(s, tStart.Add(10*time.Second)).Sub(tStart); got != 20*time.Second {
		t.Errorf("parked at +%v, want +20s", got)
	}
	if got := p.parkTarget(s, tStart).Sub(tStart); got != p.ShortWait {
		t.Errorf("parked at creation: +%v, want ShortWait, the shortest wait in Asynq's schedule", got)
	}
}

// Timings may be missing, zero, out of order or implausible: the worker's own
// observation stands in for them.
func TestObservedTiming(t *testing.T) {
	t.Parallel()
	at := func(d time.Duration) upstream.Millis { return upstream.MillisOf(tStart.Add(d)) }
	now := tStart.Add(70 * time.Second)
	fresh := pollState{submitted: tStart}
	polled := pollState{submitted: tStart, calls: 1, last: tStart.Add(40 * time.Second)}
	for _, c := range []struct {
		name   string
		timing upstream.Timing
		st     pollState
		want   batch.JobTiming
	}{
		{"complete", upstream.Timing{CreatedAt: at(0), StartedAt: at(5 * time.Second), CompletedAt: at(60 * time.Second)}, fresh,
			batch.JobTiming{Total: 60 * time.Second, Processing: 55 * time.Second}},
		{"no startedAt", upstream.Timing{CreatedAt: at(0), CompletedAt: at(60 * time.Second)}, fresh,
			batch.JobTiming{Total: 60 * time.Second}},
		{"nothing", upstream.Timing{}, fresh, batch.JobTiming{Total: 70 * time.Second}},
		{"completed before created", upstream.Timing{CreatedAt: at(60 * time.Second), CompletedAt: at(0)}, fresh,
			batch.JobTiming{Total: 70 * time.Second}},
		{"seconds, not ms", upstream.Timing{CreatedAt: upstream.Millis(tStart.Unix()), CompletedAt: upstream.Millis(tStart.Unix() + 60)}, polled,
			batch.JobTiming{Total: 70 * time.Second}},
		{"longer than known here", upstream.Timing{CreatedAt: at(-time.Hour), CompletedAt: at(60 * time.Second)}, fresh,
			batch.JobTiming{Total: 70 * time.Second}},
		{"skewed clock, duration fine", upstream.Timing{CreatedAt: at(time.Hour), StartedAt: at(time.Hour + time.Second), CompletedAt: at(time.Hour + 60*time.Second)}, fresh,
			batch.JobTiming{Total: 60 * time.Second, Processing: 59 * time.Second}},
	} {
		got := observedTiming(&upstream.Job{Timing: c.timing}, c.st, now)
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

func TestPollTimingValidation(t *testing.T) {
	t.Parallel()
	for _, bad := range []PollTiming{
		{FirstQuantile: 1.5},
		{ProbeGrowth: 1},
		{BackoffFraction: -1},
		{MinInterval: time.Minute, MaxInterval: time.Second},
		{Scouts: -2},
		{HintSong: -time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	if _, err := (Settings{RetryBase: time.Minute, RetryCap: time.Second}).withDefaults(); err == nil {
		t.Error("RetryCap below RetryBase accepted")
	}
	s, err := Settings{}.withDefaults()
	if err != nil || s != DefaultSettings() {
		t.Errorf("zero Settings = %+v, %v; want the defaults", s, err)
	}
}

func TestClassOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		kind batch.Kind
		spec batch.JobSpec
		want string
	}{
		{batch.KindSong, batch.JobSpec{}, "song"},
		{batch.KindSong, batch.JobSpec{Separate: true}, "song-separate"},
		{batch.KindTrain, batch.JobSpec{Epochs: 5}, "train-e5"},
		{batch.KindTrain, batch.JobSpec{}, "train-e30"},
		{batch.KindTrain, batch.JobSpec{Separate: true, Epochs: 7}, "train-e7"},
	} {
		if got := ClassOf(c.kind, c.spec); got != c.want {
			t.Errorf("ClassOf(%s, %+v) = %q, want %q", c.kind, c.spec, got, c.want)
		}
	}
}

// With callbacks on, a job's backstop looks past the longest seen by the grace or by a
// margin that narrows as the class's sample grows: a fifth with one job, less with many.
func TestCallbackBackstopMargin(t *testing.T) {
	t.Parallel()
	p := defaultTiming(t)
	p.callbacks, p.CallbackGrace = true, time.Second
	one := estimateOf(100 * time.Second)
	var many []time.Duration
	for range 64 {
		many = append(many, 100*time.Second)
	}
	s := pollState{submitted: tStart}
	last := scaleDur(100*time.Second, 1.05)
	if got, want := p.knownTarget(s, one).Sub(tStart), last+last/5; got != want {
		t.Errorf("one job known: backstop at +%v, want +%v (a fifth past the longest)", got, want)
	}
	got := p.knownTarget(s, estimateOf(many...)).Sub(tStart)
	if margin := got - last; margin >= last/10 || margin < last/20 {
		t.Errorf("64 jobs known: backstop %v past the longest, want between a twentieth and a tenth of %v", margin, last)
	}
	p.CallbackGrace = time.Hour
	if got := p.knownTarget(s, estimateOf(many...)).Sub(tStart); got != last+time.Hour {
		t.Errorf("with a long grace, backstop at +%v, want the grace past the longest", got)
	}
}
