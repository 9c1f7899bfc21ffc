package limiter

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
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
const limiterMaxTolerance = 5 * time.Millisecond

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
	gcra *redis_rate.Limiter
	opts Options
	aimd aimdParams
	all  string // bucket key
	// markLater sets waiters' marks, keeping a later one already there.
	markLater *redis.Script
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
	bucket      string
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
		gcra: redis_rate.NewLimiter(rdb),
		opts: opts,
		aimd: aimdParams{
			max:      opts.Rate,
			floor:    opts.MinRate,
			factor:   opts.DecreaseFactor,
			increase: opts.IncreasePerSecond,
			window:   opts.DecreaseWindow,
		},
		all:       opts.Keys.RateLimit(BucketAll),
		markLater: redis.NewScript(markLaterLua),
		log:       opts.Logger,
		// One interval, at most limiterMaxTolerance (5 ms, small against the 31 ms
		// margin): a waiter late by less than that (a timer, a round trip, a busy
		// machine) keeps its slot. A tenth of an interval was too little at high rates:
		// at 200/s the schedule slipped by a third (docs/BENCHMARKS.md).
		tolerance: min(time.Duration(float64(time.Second)/(opts.Margin*opts.Rate)), limiterMaxTolerance),
	}
	l.window = newLimiterWindow(rdb, opts.Keys.RateWindow(), opts.WindowLimit, opts.WindowLease, opts.CallTimeout, opts.Logger)
	l.shares = map[string]*limiterShare{
		ShareSubmit: {name: ShareSubmit, other: SharePoll, fraction: opts.SubmitShare,
			bucket: opts.Keys.RateLimit(ShareSubmit), turns: newTurns()},
		SharePoll: {name: SharePoll, other: ShareSubmit, fraction: 1 - opts.SubmitShare,
			bucket: opts.Keys.RateLimit(SharePoll), turns: newTurns()},
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
	if err := l.waitBuckets(ctx, sh, prio, &held); err != nil {
		return nil, err
	}
	release, err := l.window.take(ctx, l.opts.Sleep)
	if err != nil {
		if ctx.Err() != nil {
			l.canceled.Add(1)
			return nil, ctx.Err()
		}
		l.errs.Add(1)
		return nil, err
	}
	return release, nil
}

// waitBuckets waits for a grant of the GCRA buckets. The caller holds sh's turn
// (*held); between attempts the turn goes to a waiter of a higher priority, if one has
// come, and *held says whether it came back.
func (l *Limiter) waitBuckets(ctx context.Context, sh *limiterShare, prio Priority, held *bool) error {
	delayed := false
	var yielded time.Duration // spent yielding to a higher priority of another process
	for {
		if err := ctx.Err(); err != nil {
			l.canceled.Add(1)
			return err
		}
		wait, yield, err := l.attempt(ctx, sh, prio, yielded)
		if err != nil {
			if ctx.Err() != nil {
				l.canceled.Add(1)
				return ctx.Err()
			}
			l.errs.Add(1)
			return err
		}
		if wait == 0 {
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
			return nil
		}
		delayed = true
		if yield {
			yielded += wait
		}
		if err := l.opts.Sleep(ctx, wait); err != nil {
			l.canceled.Add(1)
			return err
		}
		if sh.turns.higherWaiting(prio) {
			sh.turns.release()
			*held = false
			if err := sh.turns.acquire(ctx, prio); err != nil {
				l.canceled.Add(1)
				return err
			}
			*held = true
		}
	}
}

//go:embed mark_later.lua
var markLaterLua string

// limiterMinWait keeps a denied waiter from spinning on a retry of a few microseconds.
const limiterMinWait = 200 * time.Microsecond

// attempt tries once to get a grant for sh at priority prio; it returns 0 when granted,
// else how long to sleep before the next attempt and whether that is to yield to a
// higher priority's waiter of another process (which it does until it has yielded for
// StarveAfter intervals). The caller holds sh's turn.
func (l *Limiter) attempt(ctx context.Context, sh *limiterShare, prio Priority, yielded time.Duration) (time.Duration, bool, error) {
	st, err := l.state(ctx)
	if err != nil {
		return 0, false, err
	}
	now := l.opts.Now()
	if now.Before(st.pausedUntil) {
		return st.pausedUntil.Sub(now), false, nil
	}
	eff := l.opts.Margin * st.rateAt(now, l.aimd)
	interval := time.Duration(float64(time.Second) / eff)
	ranked := sh.name == ShareSubmit
	if ranked && prio > PriorityHigh && yielded < StarveAfter*interval {
		until, err := l.higherPending(ctx, prio)
		if err != nil {
			return 0, false, err
		}
		if now.Before(until) {
			return max(limiterMinWait, min(until.Sub(now), interval)), true, nil
		}
	}
	wait, err := l.tryBuckets(ctx, sh, prio, now, eff, interval)
	return wait, false, err
}

// tryBuckets is attempt's try of the buckets (see the package comment).
func (l *Limiter) tryBuckets(ctx context.Context, sh *limiterShare, prio Priority, now time.Time, eff float64, interval time.Duration) (time.Duration, error) {

	laneRetry := time.Duration(math.MaxInt64)
	if !sh.ticket {
		// Burst 2: a waiter that comes back a little late to its reserved bucket does not
		// lose the slot; the hard cap is the account bucket's business.
		res, err := l.allowN(ctx, sh.bucket, limitAt(eff*sh.fraction, 2), 1)
		if err != nil {
			return 0, fmt.Errorf("limiter %s: reserved bucket: %w", sh.name, err)
		}
		if res.Allowed > 0 {
			sh.ticket = true
		} else {
			laneRetry = res.RetryAfter
		}
	}
	if !sh.ticket {
		until, err := l.pendingUntil(ctx, sh.other)
		if err != nil {
			return 0, err
		}
		if now.Before(until) { // the other share is waiting within its guarantee: yield
			return max(limiterMinWait, min(until.Sub(now), laneRetry, interval)), nil
		}
	}
	res, err := l.allowN(ctx, l.all, l.accountLimit(eff), gcraScale)
	if err != nil {
		return 0, fmt.Errorf("limiter %s: account bucket: %w", sh.name, err)
	}
	if res.Allowed > 0 {
		if !sh.ticket {
			sh.borrowed.Add(1)
		}
		sh.ticket = false
		if sh.name == ShareSubmit && prio < PriorityLow {
			// A granted waiter says so too: the next of its priority is often still on
			// its way (dequeued after this call frees its worker slot), and without a
			// mark the lower priorities of other processes would take the next slot.
			// The mark is advice to other processes; the token is already taken, so a
			// failed write must not waste it.
			if err := l.mark(ctx, limFieldPriority+prio.String(), now.Add(interval).UnixMilli()); err != nil {
				l.log.Warn("limiter: priority mark after a grant not written", zap.Error(err))
			}
		}
		return 0, nil
	}
	wait := res.RetryAfter
	// Half an interval past the retry: long enough to cover our next attempt, short
	// enough that the others are back for the slot after it.
	until := now.Add(wait + interval/2).UnixMilli()
	var marks []any
	if sh.ticket {
		marks = append(marks, limFieldPending+sh.name, until)
	} else {
		wait = min(wait, laneRetry) // come back for a ticket as soon as there is one
	}
	if sh.name == ShareSubmit && prio < PriorityLow {
		marks = append(marks, limFieldPriority+prio.String(), until)
	}
	if err := l.mark(ctx, marks...); err != nil {
		return 0, err
	}
	return max(limiterMinWait, wait), nil
}

// limitAt is a redis_rate limit of rate req/s (any positive float) with the given burst.
func limitAt(rate float64, burst int) redis_rate.Limit {
	return redis_rate.Limit{Rate: 1, Burst: burst, Period: time.Duration(float64(time.Second) / rate)}
}

// gcraScale prices one call of the account bucket at gcraScale units, so that its
// tolerance can be a fraction of an interval although redis_rate's burst is an integer.
const gcraScale = 1000

// accountLimit is the account bucket at eff req/s with burst 1 + tolerance/interval: a
// call may come up to l.tolerance before its slot. That lets a waiter ask slightly early
// instead of slightly late (timer and network latency), so the schedule does not slip a
// little on every grant; the cost is that tolerance comes out of the jitter margin.
func (l *Limiter) accountLimit(eff float64) redis_rate.Limit {
	interval := time.Duration(float64(time.Second) / eff)
	return redis_rate.Limit{
		Rate:   gcraScale,
		Period: interval, // emission interval interval/gcraScale; a call costs gcraScale of them
		Burst:  gcraScale + int(gcraScale*l.tolerance/interval),
	}
}

func (l *Limiter) allowN(ctx context.Context, key string, limit redis_rate.Limit, n int) (*redis_rate.Result, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	return l.gcra.AllowN(ctx, key, limit, n)
}

func (l *Limiter) pendingUntil(ctx context.Context, name string) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	ms, err := l.rdb.HGet(ctx, l.opts.Keys.RateState(), limFieldPending+name).Int64()
	if errors.Is(err, redis.Nil) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("limiter: read pending %s: %w", name, err)
	}
	return time.UnixMilli(ms), nil
}

// higherPending is until when a waiter of a priority higher than p says it waits.
func (l *Limiter) higherPending(ctx context.Context, p Priority) (time.Time, error) {
	var fields []string
	for q := PriorityHigh; q < p; q++ {
		fields = append(fields, limFieldPriority+q.String())
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	vals, err := l.rdb.HMGet(ctx, l.opts.Keys.RateState(), fields...).Result()
	if err != nil {
		return time.Time{}, fmt.Errorf("limiter: read pending priorities: %w", err)
	}
	var latest int64
	for _, v := range vals {
		if s, ok := v.(string); ok {
			if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
				latest = max(latest, ms)
			}
		}
	}
	return time.UnixMilli(latest), nil
}

// mark sets fields of the state hash (field, unix ms pairs): who waits until when.
func (l *Limiter) mark(ctx context.Context, pairs ...any) error {
	if len(pairs) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	if err := l.markLater.Run(ctx, l.rdb, []string{l.opts.Keys.RateState()}, pairs...).Err(); err != nil {
		return fmt.Errorf("limiter: mark waiters: %w", err)
	}
	return nil
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

// aimdParams are the constants of the adaptive rate.
