package limiter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap/zaptest"

	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

var _ upstream.Gate = (*Limiter)(nil)

var (
	limSubmitActions = []string{upstream.ActionCreateJob, upstream.ActionListJobs}
	limPollActions   = []string{upstream.ActionGetJob, upstream.ActionListModels}
	limAllActions    = append(slices.Clone(limSubmitActions), limPollActions...)
)

var limiterKeySeq atomic.Int64

// limiterTestKeys returns key names no other limiter in the same server uses.
func limiterTestKeys() keyspace.Keys {
	return keyspace.Keys{Prefix: fmt.Sprintf("test-limiter-%d", limiterKeySeq.Add(1))}
}

// newLimiters builds n limiters sharing one key set, each with its own Redis client, as
// n worker processes would.
func newLimiters(tb testing.TB, srv *redistest.Server, n int, opts Options) []*Limiter {
	tb.Helper()
	opts.Keys = limiterTestKeys()
	ls := make([]*Limiter, n)
	for i := range ls {
		l, err := New(srv.Client(tb), opts)
		if err != nil {
			tb.Fatalf("New: %v", err)
		}
		ls[i] = l
	}
	return ls
}

type limiterGrant struct {
	at    time.Time
	share string
}

// runBacklog keeps every limiter busy for d: per limiter and action, workers goroutines
// call Wait in a loop. It returns the grants in time order.
func runBacklog(tb testing.TB, ls []*Limiter, actions []string, workers int, d time.Duration) []limiterGrant {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var (
		mu     sync.Mutex
		grants []limiterGrant
		wg     sync.WaitGroup
		errs   = make(chan error, len(ls)*len(actions)*workers)
	)
	for _, l := range ls {
		for _, action := range actions {
			share, err := ShareFor(action)
			if err != nil {
				tb.Fatal(err)
			}
			for range workers {
				wg.Go(func() {
					for {
						if err := waitRelease(ctx, l, action); err != nil {
							if ctx.Err() == nil {
								errs <- err
							}
							return
						}
						at := time.Now()
						mu.Lock()
						grants = append(grants, limiterGrant{at: at, share: share})
						mu.Unlock()
					}
				})
			}
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Errorf("Wait: %v", err)
	}
	slices.SortFunc(grants, func(a, b limiterGrant) int { return a.at.Compare(b.at) })
	return grants
}

// waitRelease waits for one call and ends it at once, as a call with an instant reply.
func waitRelease(ctx context.Context, l *Limiter, action string) error {
	release, err := l.Wait(ctx, action)
	if err != nil {
		return err
	}
	release()
	return nil
}

// maxGrantsInWindow is the most grants in any half-open window [t, t+w). The maximum is
// reached by a window starting at a grant.
func maxGrantsInWindow(gs []limiterGrant, w time.Duration) int {
	best, j := 0, 0
	for i := range gs {
		for j < len(gs) && gs[j].at.Before(gs[i].at.Add(w)) {
			j++
		}
		best = max(best, j-i)
	}
	return best
}

// limiterQuotaUse is the steady throughput of gs as a percentage of rate.
func limiterQuotaUse(gs []limiterGrant, rate float64) float64 {
	if len(gs) < 2 {
		return 0
	}
	span := gs[len(gs)-1].at.Sub(gs[0].at).Seconds()
	return 100 * float64(len(gs)-1) / span / rate
}

func countLimiterShare(gs []limiterGrant, share string) int {
	n := 0
	for _, g := range gs {
		if g.share == share {
			n++
		}
	}
	return n
}

func TestLimiterCapsTheAccountAcrossProcesses(t *testing.T) {
	t.Parallel()
	const rate, d = 20, 3 * time.Second
	srv := redistest.Start(t, redistest.Options{})
	ls := newLimiters(t, srv, 3, Options{Rate: rate})

	gs := runBacklog(t, ls, limAllActions, 6, d)

	if got := maxGrantsInWindow(gs, time.Second); got > rate {
		t.Errorf("%d grants in one 1 s window, want at most %d", got, rate)
	}
	// How much of the quota is used is BenchmarkLimiterQuotaUse's: a loaded machine
	// grants fewer, never more, so only the cap is asserted here.
	if len(gs) == 0 {
		t.Fatal("no grant at all")
	}
	t.Logf("%d grants, quota use %.1f%%", len(gs), limiterQuotaUse(gs, rate))
}

func TestLimiterShares(t *testing.T) {
	t.Parallel()
	const rate, d = 20, 3 * time.Second

	t.Run("one share alone borrows the whole rate", func(t *testing.T) {
		t.Parallel()
		srv := redistest.Start(t, redistest.Options{})
		ls := newLimiters(t, srv, 3, Options{Rate: rate, SubmitShare: 0.5})

		gs := runBacklog(t, ls, limSubmitActions, 4, d)

		// Without borrowing, submit would get only its 50 %; a quarter or more of the
		// grants borrowed shows it takes what poll leaves (the rate it reaches is
		// BenchmarkLimiterQuotaUse's, since a loaded machine grants fewer).
		var borrowed int64
		for _, l := range ls {
			borrowed += l.Stats().Submit.Borrowed
		}
		if borrowed < int64(len(gs))/4 {
			t.Errorf("%d of %d grants counted as borrowed, want about half", borrowed, len(gs))
		}
		t.Logf("%d grants (%d borrowed), quota use %.1f%%", len(gs), borrowed, limiterQuotaUse(gs, rate))
	})

	// Per-process contention alone would split the rate 50/50; the guaranteed share must
	// get its larger fraction, whichever share it is.
	for _, submitShare := range []float64{0.75, 0.25} {
		t.Run(fmt.Sprintf("both saturated, submit share %.2f", submitShare), func(t *testing.T) {
			t.Parallel()
			srv := redistest.Start(t, redistest.Options{})
			ls := newLimiters(t, srv, 3, Options{Rate: rate, SubmitShare: submitShare})

			gs := runBacklog(t, ls, limAllActions, 4, d)

			if got := maxGrantsInWindow(gs, time.Second); got > rate {
				t.Errorf("%d grants in one 1 s window, want at most %d", got, rate)
			}
			for share, fraction := range map[string]float64{ShareSubmit: submitShare, SharePoll: 1 - submitShare} {
				got := countLimiterShare(gs, share)
				if ratio := float64(got) / float64(len(gs)); ratio < fraction-0.08 {
					t.Errorf("%s got %d of %d grants (%.2f), want at least its %.2f less 0.08",
						share, got, len(gs), ratio, fraction)
				}
			}
			t.Logf("submit %d, poll %d, quota use %.1f%%",
				countLimiterShare(gs, ShareSubmit), countLimiterShare(gs, SharePoll), limiterQuotaUse(gs, rate))
		})
	}
}

// A ticket holder of the guaranteed share must win against borrowers of the other share
// even when its process is farther from Redis than theirs (so it always arrives later):
// that is what the pending marker is for. Without it, the far share gets nothing.
func TestLimiterGuaranteeSurvivesLatency(t *testing.T) {
	t.Parallel()
	const rate, d, submitShare = 20, 3 * time.Second, 0.75
	srv := redistest.Start(t, redistest.Options{})
	keys := limiterTestKeys()
	process := func(latency time.Duration) *Limiter {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
		rdb.AddHook(redisLatencyHook(latency))
		t.Cleanup(func() { _ = rdb.Close() })
		l, err := New(rdb, Options{Rate: rate, SubmitShare: submitShare, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	far := []*Limiter{process(3 * time.Millisecond), process(3 * time.Millisecond)}
	near := []*Limiter{process(0), process(0)}

	var submit, poll []limiterGrant
	var wg sync.WaitGroup
	wg.Go(func() { submit = runBacklog(t, far, limSubmitActions, 4, d) })
	wg.Go(func() { poll = runBacklog(t, near, limPollActions, 4, d) })
	wg.Wait()

	ratio := float64(len(submit)) / float64(len(submit)+len(poll))
	// What is tested is that the far share is not starved: without the pending marker
	// it gets almost nothing. The exact split is TestLimiterShares's, without latency;
	// here latency, and a loaded machine's scheduling on top of it, cost the far share
	// slots now and then, so the bound is the far share's majority.
	if ratio < 0.5 {
		t.Errorf("far submit got %d of %d grants (%.2f), want more than half (its share is %.2f)",
			len(submit), len(submit)+len(poll), ratio, submitShare)
	}
	t.Logf("far submit %d, near poll %d", len(submit), len(poll))
}

// redisLatencyHook delays every command of a client, as a distant network would.
type redisLatencyHook time.Duration

func (h redisLatencyHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisLatencyHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		time.Sleep(time.Duration(h))
		return next(ctx, cmd)
	}
}

func (h redisLatencyHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		time.Sleep(time.Duration(h))
		return next(ctx, cmds)
	}
}

// limiterClock is the injected clock of the AIMD tests: time moves only when told.
type limiterClock struct {
	mu sync.Mutex
	t  time.Time
}

func newLimiterClock() *limiterClock { return &limiterClock{t: time.UnixMilli(1_700_000_000_000)} }

func (c *limiterClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *limiterClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// sleeper advances the clock by d and records d. It also sleeps for real, at most
// 50 ms: the GCRA buckets run on Redis's clock, which only real time moves.
func (c *limiterClock) sleeper(slept *[]time.Duration) func(context.Context, time.Duration) error {
	var mu sync.Mutex
	return func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*slept = append(*slept, d)
		mu.Unlock()
		c.Advance(d)
		return ctxtime.Sleep(ctx, min(d, 50*time.Millisecond))
	}
}

func TestLimiterAIMD(t *testing.T) {
	t.Parallel()
	const maxRate, floor = 20.0, 1.5
	ctx := t.Context()
	srv := redistest.Start(t, redistest.Options{})
	clock := newLimiterClock()
	ls := newLimiters(t, srv, 3, Options{
		Rate: maxRate, MinRate: floor, Now: clock.Now, Logger: zaptest.NewLogger(t),
	})

	wantRate := func(step string, want float64) {
		t.Helper()
		for i, l := range ls {
			got, err := l.Rate(ctx)
			if err != nil {
				t.Fatalf("%s: Rate: %v", step, err)
			}
			if math.Abs(got-want) > 1e-9 {
				t.Errorf("%s: limiter %d: rate %v, want %v", step, i, got, want)
			}
		}
	}
	wantRate("never throttled", maxRate)

	// The same 429 burst seen by three processes at once: one decrease.
	var wg sync.WaitGroup
	for _, l := range ls {
		wg.Go(func() { l.Throttled(upstream.ActionCreateJob, 2*time.Second) })
	}
	wg.Wait()
	wantRate("after concurrent throttles", maxRate*0.5)
	var decreases, throttled int64
	for _, l := range ls {
		decreases += l.Stats().Decreases
		throttled += l.Stats().Throttled
	}
	if decreases != 1 || throttled != 3 {
		t.Errorf("decreases %d, throttles %d; want 1 and 3", decreases, throttled)
	}

	clock.Advance(time.Second)
	wantRate("paused: no climb", 10)
	clock.Advance(time.Second)
	wantRate("pause over", 10)
	clock.Advance(time.Second)
	wantRate("1 s after the pause: +5% of max", 11)

	ls[1].Throttled(upstream.ActionGetJob, 0)
	wantRate("next window: halved again", 5.5)
	clock.Advance(500 * time.Millisecond)
	wantRate("climbing", 6)
	ls[2].Throttled(upstream.ActionGetJob, 0)
	wantRate("throttle within the window holds the rate", 6)
	clock.Advance(time.Second)
	wantRate("climbs again", 7)

	for range 10 { // 8 → 4 → 5 → 2.5 → 3.5 → 1.75 → 2.75 → 1.375, floored to 1.5, ...
		clock.Advance(time.Second)
		ls[0].Throttled(upstream.ActionCreateJob, 0)
	}
	wantRate("at the floor", floor)
	clock.Advance(time.Minute)
	wantRate("back to the max", maxRate)
}

func TestLimiterWaitHonoursPause(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := redistest.Start(t, redistest.Options{})
	clock := newLimiterClock()
	var sleptA, sleptB []time.Duration
	keys := limiterTestKeys()
	newL := func(slept *[]time.Duration) *Limiter {
		l, err := New(srv.Client(t), Options{
			Rate: 10, Keys: keys, Now: clock.Now, Sleep: clock.sleeper(slept),
		})
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	a, b := newL(&sleptA), newL(&sleptB)

	a.Throttled(upstream.ActionCreateJob, 5*time.Second)
	if err := waitRelease(ctx, a, upstream.ActionGetJob); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if len(sleptA) == 0 || sleptA[0] != 5*time.Second {
		t.Errorf("the throttled process slept %v, want the 5s pause first", sleptA)
	}
	if got := a.Stats().Poll; got.Granted != 1 || got.Delayed != 1 {
		t.Errorf("poll stats %+v, want 1 granted and delayed", got)
	}

	// Another process is throttled; a sees it once its cached state is 250 ms old.
	b.Throttled(upstream.ActionListJobs, 3*time.Second)
	clock.Advance(250 * time.Millisecond)
	n := len(sleptA)
	if err := waitRelease(ctx, a, upstream.ActionCreateJob); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if len(sleptA) == n || sleptA[n] != 2750*time.Millisecond {
		t.Errorf("after another process's throttle, slept %v, want the rest of its pause (2.75s) first", sleptA[n:])
	}
	if len(sleptB) != 0 {
		t.Errorf("b slept %v without waiting", sleptB)
	}
}

func TestLimiterWaitCanceled(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	sleeping := make(chan struct{}, 10)
	l, err := New(srv.Client(t), Options{
		Rate: 0.01, // one call per 103 s: the second Wait can only end by its context
		Keys: limiterTestKeys(),
		Sleep: func(ctx context.Context, d time.Duration) error {
			sleeping <- struct{}{}
			return ctxtime.Sleep(ctx, d)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := waitRelease(t.Context(), l, upstream.ActionCreateJob); err != nil {
		t.Fatalf("first Wait: %v", err)
	}

	// A Wait sleeping on the bucket, and one queued behind it in the process.
	sleeper, cancelSleeper := context.WithCancel(t.Context())
	queued, cancelQueued := context.WithCancel(t.Context())
	sleeperDone, queuedDone := make(chan error, 1), make(chan error, 1)
	go func() { sleeperDone <- waitRelease(sleeper, l, upstream.ActionCreateJob) }()
	<-sleeping
	go func() { queuedDone <- waitRelease(queued, l, upstream.ActionListJobs) }()

	expect := func(name string, done <-chan error, want error) {
		t.Helper()
		select {
		case err := <-done:
			if !errors.Is(err, want) {
				t.Errorf("%s Wait: %v, want %v", name, err, want)
			}
		case <-time.After(10 * time.Second): // a liveness guard, not a timing target
			t.Fatalf("%s Wait ignored its cancelled context", name)
		}
	}
	cancelQueued()
	expect("queued", queuedDone, context.Canceled)
	cancelSleeper()
	expect("sleeping", sleeperDone, context.Canceled)

	short, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := waitRelease(short, l, upstream.ActionGetJob); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait past its deadline: %v, want DeadlineExceeded", err)
	}
	if got := l.Stats().Canceled; got != 3 {
		t.Errorf("Stats().Canceled = %d, want 3", got)
	}
}

func TestLimiterRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1}) // fail at once
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := New(rdb, Options{Rate: 5, Keys: limiterTestKeys(), Logger: zaptest.NewLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv.Kill()

	err = waitRelease(t.Context(), l, upstream.ActionGetJob)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ErrUnknownAction) {
		t.Fatalf("Wait with Redis down: %v, want a Redis error", err)
	}
	if got := l.Stats().Errors; got != 1 {
		t.Errorf("Stats().Errors = %d, want 1", got)
	}
	l.Throttled(upstream.ActionGetJob, time.Second) // logs, must not panic or block
}

func TestShareFor(t *testing.T) {
	t.Parallel()
	for action, want := range map[string]string{
		upstream.ActionCreateJob:  ShareSubmit,
		upstream.ActionListJobs:   ShareSubmit,
		upstream.ActionGetJob:     SharePoll,
		upstream.ActionListModels: SharePoll,
	} {
		if got, err := ShareFor(action); got != want || err != nil {
			t.Errorf("ShareFor(%q) = %q, %v; want %q", action, got, err, want)
		}
	}
	if _, err := ShareFor("DeleteJob"); !errors.Is(err, ErrUnknownAction) {
		t.Errorf("ShareFor(DeleteJob): %v, want ErrUnknownAction", err)
	}
}

func TestNewLimiterRejectsBadOptions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	good := Options{Rate: 10, Keys: limiterTestKeys()}
	for name, mutate := range map[string]func(*Options){
		"zero rate":         func(o *Options) { o.Rate = 0 },
		"NaN rate":          func(o *Options) { o.Rate = math.NaN() },
		"share 1":           func(o *Options) { o.SubmitShare = 1 },
		"negative share":    func(o *Options) { o.SubmitShare = -0.1 },
		"bad key prefix":    func(o *Options) { o.Keys.Prefix = "a{b" },
		"margin above 1":    func(o *Options) { o.Margin = 1.1 },
		"floor above rate":  func(o *Options) { o.MinRate = 11 },
		"factor 1":          func(o *Options) { o.DecreaseFactor = 1 },
		"negative window":   func(o *Options) { o.DecreaseWindow = -time.Second },
		"negative increase": func(o *Options) { o.IncreasePerSecond = -1 },
	} {
		opts := good
		mutate(&opts)
		if _, err := New(srv.Client(t), opts); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
	if _, err := New(srv.Client(t), good); err != nil {
		t.Errorf("good options: %v", err)
	}
	if _, err := New(nil, good); err == nil {
		t.Errorf("nil client accepted")
	}
}

// SubmitBacklog says CreateJobs queue for the quota: true once a submit call was granted
// after waiting with others behind it, false for calls that never queue, and false
// again backlogMemory after the last sign.
func TestLimiterSubmitBacklog(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	var offset atomic.Int64
	now := func() time.Time { return time.Now().Add(time.Duration(offset.Load())) }
	l, err := New(srv.Client(t), Options{Rate: 20, Keys: limiterTestKeys(), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := waitRelease(ctx, l, upstream.ActionCreateJob); err != nil {
		t.Fatal(err)
	}
	if l.SubmitBacklog() {
		t.Error("backlog after one call that did not queue")
	}
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for range 6 {
		wg.Go(func() { errs <- waitRelease(ctx, l, upstream.ActionCreateJob) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !l.SubmitBacklog() {
		t.Errorf("no backlog after 6 CreateJobs queued at once at 20/s (stats %+v)", l.Stats().Submit)
	}
	offset.Store(int64(backlogMemory + time.Millisecond))
	if l.SubmitBacklog() {
		t.Error("backlog still reported backlogMemory after its last sign")
	}
}
