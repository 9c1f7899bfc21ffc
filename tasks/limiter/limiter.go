package limiter

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/upstream"
)

// Shares of the account-wide rate. They are also the names passed to keyspace.Keys.RateLimit
// for the shares' reserved buckets.
const (
	ShareSubmit = "submit" // CreateJob, ListJobs (reconciliation)
	SharePoll   = "poll"   // GetJob, ListModels
)

// BucketAll is the name passed to keyspace.Keys.RateLimit for the account-wide bucket.
const BucketAll = "all"

// ErrUnknownAction is returned by Wait for an action that maps to no share.
var ErrUnknownAction = errors.New("unknown upstream action")

// limiterMaxTolerance bounds how early the account bucket lets a call come (see accountLimit).
const limiterMaxTolerance = 10 * time.Millisecond

// limiterMaxPause bounds a Retry-After so that a garbled header cannot stop the account for days.
const limiterMaxPause = 10 * time.Minute

// Hash fields of the shared state.
const (
	limFieldBase        = "base"         // req/s after the last decrease
	limFieldSince       = "since"        // unix ms from which the rate climbs again
	limFieldPausedUntil = "paused_until" // unix ms; no call before it
	limFieldDecreasedAt = "decreased_at" // unix ms of the last decrease
	limFieldPending     = "pending:"     // + share: unix ms until which a ticket holder waits
	limFieldPriority    = "prio:"        // + priority: unix ms until which a submit waiter of it waits
)

// ShareFor maps an upstream action to its share.
func ShareFor(action string) (string, error) {
	switch action {
	case upstream.ActionCreateJob, upstream.ActionListJobs:
		return ShareSubmit, nil
	case upstream.ActionGetJob, upstream.ActionListModels:
		return SharePoll, nil
	}
	return "", fmt.Errorf("limiter: %w %q", ErrUnknownAction, action)
}

// Options configure a Limiter. Zero values take the defaults given per field.
type Options struct {
	Rate float64 // UPSTREAM_RATE: requests/s for the whole account, every call; required, ≥ 0.01
	// SubmitShare is the fraction of the rate guaranteed to submit, in (0,1); poll gets
	// the rest. Default 0.1: polls come first. A job is polled about once when its
	// duration is learned, so polls never take much; but submissions run at the full
	// rate until the first jobs end, and then the jobs end as fast as they were
	// submitted: at an even split, polls would queue behind submissions and every
	// result would be late (measured: p95 lag 40 % of the job's duration at 0.5 or 0.3,
	// 20 % at 0.1, the same makespan). Submissions borrow whatever polls leave, and keep
	// a tenth of the rate whatever they ask.
	SubmitShare float64
	Keys        keyspace.Keys // the key space of REDIS_PREFIX

	Margin            float64       // GCRA runs at Margin × rate to absorb jitter. Default 0.97
	MinRate           float64       // floor of the adaptive rate, ≥ 0.001. Default 0.05 × Rate
	DecreaseFactor    float64       // multiplicative decrease on a throttle. Default 0.5
	IncreasePerSecond float64       // additive increase per second, as a fraction of Rate. Default 0.05
	DecreaseWindow    time.Duration // at most one decrease per window, across processes. Default 1 s
	RefreshEvery      time.Duration // how long the shared state is cached. Default 250 ms
	CallTimeout       time.Duration // timeout of each Redis call. Default 2 s
	WindowLimit       int           // calls in any 1 s window at the service. Default ⌊Rate⌋, at least 1
	WindowLease       time.Duration // longest a call may hold its place unreleased (a crashed worker's). Default 1 min; keep above the upstream timeout

	Now    func() time.Time                                 // default time.Now
	Sleep  func(ctx context.Context, d time.Duration) error // default: timer, returns ctx.Err() on cancel
	Logger *zap.Logger                                      // default zap.NewNop()
}

// Stats counts what this process's Limiter did.
type Stats struct {
	Submit, Poll ShareStats
	Canceled     int64 // Wait calls ended by their context
	Errors       int64 // Wait calls ended by a Redis error
	Throttled    int64 // Throttled calls
	Decreases    int64 // rate decreases this process applied to the shared state
	// WindowDelayed counts grants the window held back: calls that jitter bunched up.
	WindowDelayed int64
}

// ShareStats counts the grants of one share.
type ShareStats struct {
	Granted  int64 // Wait calls that returned nil
	Delayed  int64 // of those, how many had to sleep first
	Borrowed int64 // of those, how many were beyond the share's guarantee
	Yielded  int64 // of those, how many first yielded to a higher priority of another process
}

// Limiter is the account-wide, adaptive, two-share rate limiter. It satisfies
// upstream.Gate. Safe for concurrent use.
type Limiter struct {
	rdb  redis.UniversalClient
	opts Options
	aimd aimdParams
	all  string // the account bucket's key
	// attemptScript is one attempt's whole decision (attempt.lua).
	attemptScript *redis.Script
	// tolerance: how early before its slot the account bucket grants a call.
	tolerance time.Duration
	shares    map[string]*limiterShare
	window    *limiterWindow
	log       *zap.Logger

	mu        sync.Mutex // guards the cache
	cached    aimdState
	fetchedAt time.Time
	fresh     bool

	canceled, errs, throttled, decreases atomic.Int64
}

// limiterShare is one share's in-process side. Only the waiter holding the turn talks
// to Redis for the share; the others queue for it (by priority), which keeps Redis
// traffic to one loop per share per process however many goroutines wait.
type limiterShare struct {
	name, other string
	fraction    float64
	bucket      string // the reserved bucket's key
	turns       *turns
	ticket      bool // guarded by the turn: a reserved token taken and not yet used

	granted, delayed, borrowed, yielded atomic.Int64
	// backlogAt is when a grant last came after a wait with others still queued (unix
	// ns): calls of the share are waiting for the quota, not the quota for them.
	backlogAt atomic.Int64
}

// New checks the options and returns a Limiter. It does no I/O.
func New(rdb redis.UniversalClient, opts Options) (*Limiter, error) {
	if rdb == nil {
		return nil, errors.New("limiter: nil redis client")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	l := &Limiter{
		rdb:  rdb,
		opts: opts,
		aimd: aimdParams{
			max:      opts.Rate,
			floor:    opts.MinRate,
			factor:   opts.DecreaseFactor,
			increase: opts.IncreasePerSecond,
			window:   opts.DecreaseWindow,
		},
		all:           bucketKey(opts.Keys, BucketAll),
		attemptScript: newAttemptScript(),
		log:           opts.Logger,
		// Two intervals, at most limiterMaxTolerance (10 ms, a third of the 31 ms
		// margin): a waiter late by less than that (a timer, a round trip, a busy
		// machine) keeps its slot. A tenth of an interval was too little at high rates:
		// at 200/s the schedule slipped by a third; one interval, at most 5 ms, still
		// lost 2–3 % of the quota at 200/s to wake-ups late by more (docs/BENCHMARKS.md).
		tolerance: min(2*time.Duration(float64(time.Second)/(opts.Margin*opts.Rate)), limiterMaxTolerance),
	}
	l.window = newLimiterWindow(rdb, opts.Keys.RateWindow(), opts.WindowLimit, opts.WindowLease, opts.CallTimeout, opts.Logger)
	l.shares = map[string]*limiterShare{
		ShareSubmit: {name: ShareSubmit, other: SharePoll, fraction: opts.SubmitShare,
			bucket: bucketKey(opts.Keys, ShareSubmit), turns: newTurns()},
		SharePoll: {name: SharePoll, other: ShareSubmit, fraction: 1 - opts.SubmitShare,
			bucket: bucketKey(opts.Keys, SharePoll), turns: newTurns()},
	}
	return l, nil
}

// Bounds of the rates, so that a bucket's interval fits its integer-nanosecond
// arithmetic with room to spare.
const (
	limiterMinRate  = 0.01  // Rate, req/s
	limiterMinFloor = 0.001 // MinRate, req/s
)

func (o Options) withDefaults() (Options, error) {
	bad := func(field string, v any) (Options, error) {
		return o, fmt.Errorf("limiter options: %s: invalid value %v", field, v)
	}
	if !(o.Rate >= limiterMinRate) || math.IsInf(o.Rate, 0) {
		return bad("Rate", o.Rate)
	}
	if o.SubmitShare == 0 {
		o.SubmitShare = 0.1
	}
	if !(o.SubmitShare > 0 && o.SubmitShare < 1) {
		return bad("SubmitShare", o.SubmitShare)
	}
	if err := o.Keys.Validate(); err != nil {
		return o, fmt.Errorf("limiter options: %w", err)
	}
	if o.WindowLimit == 0 {
		o.WindowLimit = max(1, int(o.Rate))
	}
	if o.WindowLimit < 0 {
		return bad("WindowLimit", o.WindowLimit)
	}
	if o.Margin == 0 {
		o.Margin = 0.97
	}
	if !(o.Margin > 0 && o.Margin <= 1) {
		return bad("Margin", o.Margin)
	}
	if o.MinRate == 0 {
		o.MinRate = max(0.05*o.Rate, limiterMinFloor)
	}
	if !(o.MinRate >= limiterMinFloor && o.MinRate <= o.Rate) {
		return bad("MinRate", o.MinRate)
	}
	if o.DecreaseFactor == 0 {
		o.DecreaseFactor = 0.5
	}
	if !(o.DecreaseFactor > 0 && o.DecreaseFactor < 1) {
		return bad("DecreaseFactor", o.DecreaseFactor)
	}
	if o.IncreasePerSecond == 0 {
		o.IncreasePerSecond = 0.05
	}
	if !(o.IncreasePerSecond > 0) || math.IsInf(o.IncreasePerSecond, 0) {
		return bad("IncreasePerSecond", o.IncreasePerSecond)
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"DecreaseWindow", &o.DecreaseWindow, time.Second},
		{"RefreshEvery", &o.RefreshEvery, 250 * time.Millisecond},
		{"CallTimeout", &o.CallTimeout, 2 * time.Second},
		{"WindowLease", &o.WindowLease, time.Minute},
	} {
		if *d.v == 0 {
			*d.v = d.def
		}
		if *d.v < 0 {
			return bad(d.name, *d.v)
		}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Sleep == nil {
		o.Sleep = ctxtime.Sleep
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return o, nil
}

// Wait blocks until the account-wide limit allows one call of action, and returns the
// function to call once the call has ended (its reply read, or failed); calling it more
// than once is harmless. It returns ctx.Err() when ctx ends first, ErrUnknownAction for
// an action of no share, and a wrapped error when Redis fails (the caller decides
// whether to call anyway). Submit calls wait at the context's priority (WithPriority).
func (l *Limiter) Wait(ctx context.Context, action string) (func(), error) {
	name, err := ShareFor(action)
	if err != nil {
		return nil, err
	}
	sh := l.shares[name]
	prio := PriorityNormal
	if name == ShareSubmit {
		prio = PriorityOf(ctx)
	}
	if err := sh.turns.acquire(ctx, prio); err != nil {
		l.canceled.Add(1)
		return nil, err
	}
	held := true
	defer func() {
		if held {
			sh.turns.release()
		}
	}()
	id := l.window.newID()
	full, err := l.waitBuckets(ctx, sh, prio, &held, id)
	if err != nil {
		return nil, err
	}
	if full > 0 { // the buckets granted, the window did not: their token stays taken
		if err := l.window.admit(ctx, id, full, l.opts.Sleep); err != nil {
			if ctx.Err() != nil {
				l.canceled.Add(1)
				return nil, ctx.Err()
			}
			l.errs.Add(1)
			return nil, err
		}
	}
	return l.window.releaser(id), nil
}

// waitBuckets waits for a grant of the GCRA buckets, which also asks the window to
// admit call id, and returns 0 when it did, else how long the window stays full. The
// caller holds sh's turn (*held); between attempts the turn goes to a waiter of a higher
// priority, if one has come, and *held says whether it came back.
func (l *Limiter) waitBuckets(ctx context.Context, sh *limiterShare, prio Priority, held *bool, id string) (time.Duration, error) {
	delayed := false
	var yielded time.Duration // spent yielding to a higher priority of another process
	for {
		if err := ctx.Err(); err != nil {
			l.canceled.Add(1)
			return 0, err
		}
		o, err := l.attempt(ctx, sh, prio, yielded, id)
		if err != nil {
			if ctx.Err() != nil {
				l.canceled.Add(1)
				return 0, ctx.Err()
			}
			l.errs.Add(1)
			return 0, err
		}
		if o.wait == 0 {
			sh.granted.Add(1)
			if delayed {
				sh.delayed.Add(1)
				if sh.turns.waiting() {
					sh.backlogAt.Store(l.opts.Now().UnixNano())
				}
			}
			if yielded > 0 {
				sh.yielded.Add(1)
			}
			return o.full, nil
		}
		delayed = true
		if o.yield {
			yielded += o.wait
		}
		if err := l.opts.Sleep(ctx, o.wait); err != nil {
			l.canceled.Add(1)
			return 0, err
		}
		if sh.turns.higherWaiting(prio) {
			sh.turns.release()
			*held = false
			if err := sh.turns.acquire(ctx, prio); err != nil {
				l.canceled.Add(1)
				return 0, err
			}
			*held = true
		}
	}
}

// backlogMemory is how long SubmitBacklog stays true after the last sign of a backlog.
const backlogMemory = 2 * time.Second

// SubmitBacklog reports whether CreateJobs of this process wait for the quota: a submit
// call was granted after waiting, with others still queued behind it, within the last
// backlogMemory. Then every other call (a poll) takes a CreateJob's place, and pollers
// may spend fewer calls for a little more lag.
func (l *Limiter) SubmitBacklog() bool {
	at := l.shares[ShareSubmit].backlogAt.Load()
	return at != 0 && l.opts.Now().Sub(time.Unix(0, at)) < backlogMemory
}

// Stats returns this process's counters.
func (l *Limiter) Stats() Stats {
	s := func(sh *limiterShare) ShareStats {
		return ShareStats{Granted: sh.granted.Load(), Delayed: sh.delayed.Load(), Borrowed: sh.borrowed.Load(),
			Yielded: sh.yielded.Load()}
	}
	return Stats{
		Submit:    s(l.shares[ShareSubmit]),
		Poll:      s(l.shares[SharePoll]),
		Canceled:  l.canceled.Load(),
		Errors:    l.errs.Load(),
		Throttled: l.throttled.Load(),
		Decreases: l.decreases.Load(),

		WindowDelayed: l.window.delayed.Load(),
	}
}
