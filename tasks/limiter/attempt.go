package limiter

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/keyspace"
)

// One attempt at a grant. attempt.lua takes the whole decision in one round trip; this
// side prepares its arguments from the shared state and the clock, and turns its reply
// into waits, the ticket and the stats.

var (
	//go:embed gcra.lua
	gcraLua string
	//go:embed mark_later.lua
	markLaterLua string
	//go:embed attempt.lua
	attemptLua string
)

// newAttemptScript is attempt.lua after the Lua functions it calls.
func newAttemptScript() *redis.Script {
	return redis.NewScript(gcraLua + markLaterLua + windowAdmitLua + attemptLua)
}

// bucketPrefix is what redis_rate prepends to a bucket's key, kept so that workers of
// earlier releases, which call redis_rate, share the buckets.
const bucketPrefix = "rate:"

// bucketKey is the Redis key of bucket name (a share, or BucketAll).
func bucketKey(keys keyspace.Keys, name string) string {
	return bucketPrefix + keys.RateLimit(name)
}

// limiterMinWait keeps a denied waiter from spinning on a retry of a few microseconds.
const limiterMinWait = 200 * time.Microsecond

// outcome is what one attempt says to do.
type outcome struct {
	wait  time.Duration // 0: granted; else how long to sleep before the next attempt
	yield bool          // the wait yields to a higher priority's waiter of another process
	full  time.Duration // granted, but the window stays full this long (0: admitted)
}

// attempt tries once to get a grant for sh at priority prio. A waiter yields to a
// higher priority's waiter of another process until it has yielded for StarveAfter
// intervals. A grant also asks the window to admit call id. The caller holds sh's turn.
func (l *Limiter) attempt(ctx context.Context, sh *limiterShare, prio Priority, yielded time.Duration, id string) (outcome, error) {
	st, err := l.state(ctx)
	if err != nil {
		return outcome{}, err
	}
	now := l.opts.Now()
	if now.Before(st.pausedUntil) {
		return outcome{wait: st.pausedUntil.Sub(now)}, nil
	}
	eff := l.opts.Margin * st.rateAt(now, l.aimd)
	interval := time.Duration(float64(time.Second) / eff)
	var higher []string // the priorities' marks this waiter yields to
	if sh.name == ShareSubmit && prio > PriorityHigh && yielded < StarveAfter*interval {
		for q := PriorityHigh; q < prio; q++ {
			higher = append(higher, limFieldPriority+q.String())
		}
	}
	r, err := l.runAttempt(ctx, sh, prio, now, eff, interval, higher, id)
	if err != nil {
		return outcome{}, err
	}
	if r.took {
		sh.ticket = true
	}
	switch r.code {
	case attemptYield:
		return outcome{wait: max(limiterMinWait, min(time.UnixMilli(r.ms).Sub(now), interval)), yield: true}, nil
	case attemptOtherPending: // the other share is waiting within its guarantee: yield
		return outcome{wait: max(limiterMinWait, min(time.UnixMilli(r.ms).Sub(now), r.laneRetry, interval))}, nil
	case attemptGranted:
		if !sh.ticket {
			sh.borrowed.Add(1)
		}
		sh.ticket = false
		return outcome{full: r.window}, nil
	}
	wait := r.retry
	if !sh.ticket {
		wait = min(wait, r.laneRetry) // come back for a ticket as soon as there is one
	}
	return outcome{wait: max(limiterMinWait, wait)}, nil
}

// Codes of attempt.lua's reply.
const (
	attemptGranted      = 0
	attemptDenied       = 1
	attemptYield        = 2 // a higher priority's waiter of another process waits
	attemptOtherPending = 3 // the other share's ticket holder waits
	attemptBadPending   = 4 // the other share's mark is not an integer
)

// attemptReply is attempt.lua's reply, read.
type attemptReply struct {
	code      int64
	took      bool          // the reserved bucket gave a ticket
	ms        int64         // yield and other pending: until when the other waits, unix ms
	retry     time.Duration // denied: the account bucket's retry
	laneRetry time.Duration // the reserved bucket's retry; math.MaxInt64 when not asked
	window    time.Duration // granted: how long the window stays full (0: admitted)
}

// runAttempt runs attempt.lua (its arguments are described there).
func (l *Limiter) runAttempt(ctx context.Context, sh *limiterShare, prio Priority, now time.Time, eff float64, interval time.Duration, higher []string, id string) (attemptReply, error) {
	// Burst 2: a waiter that comes back a little late to its reserved bucket does not
	// lose the slot; the hard cap is the account bucket's business.
	reserved := limitAt(eff*sh.fraction, 2)
	account := l.accountLimit(eff)
	ticket := "0"
	if sh.ticket {
		ticket = "1"
	}
	mark := ""
	if sh.name == ShareSubmit && prio < PriorityLow {
		// A granted waiter marks its priority too: the next of its priority is often
		// still on its way (dequeued after this call frees its worker slot), and without
		// a mark the lower priorities of other processes would take the next slot.
		mark = limFieldPriority + prio.String()
	}
	args := []any{
		now.UnixMilli(), now.Nanosecond() % int(time.Millisecond), int64(interval / 2), ticket,
		// As redis_rate passes them (go-redis formats the same types the same way).
		reserved.burst, reserved.rate, reserved.period.Seconds(),
		account.burst, account.rate, account.period.Seconds(), gcraScale,
		limFieldPending + sh.other, limFieldPending + sh.name, mark, now.Add(interval).UnixMilli(),
		l.window.limit, l.window.lease.Microseconds(), id,
	}
	for _, f := range higher {
		args = append(args, f)
	}
	keys := []string{l.opts.Keys.RateState(), sh.bucket, l.all, l.window.key}
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	v, err := l.attemptScript.Run(ctx, l.rdb, keys, args...).Slice()
	if err != nil {
		return attemptReply{}, fmt.Errorf("limiter %s: attempt: %w", sh.name, err)
	}
	r, raw, err := readAttemptReply(v)
	if err != nil {
		return attemptReply{}, fmt.Errorf("limiter %s: attempt: %w", sh.name, err)
	}
	if r.code == attemptBadPending {
		_, err := strconv.ParseInt(raw, 10, 64)
		if err == nil { // the script's test and ParseInt agree; this only keeps %w non-nil
			err = errors.New("not an integer")
		}
		return attemptReply{}, fmt.Errorf("limiter: read pending %s: %w", sh.other, err)
	}
	return r, nil
}

// errAttemptReply is a reply of attempt.lua of the wrong shape.
var errAttemptReply = errors.New("unexpected reply")

// readAttemptReply reads {code, took, ms, retry, lane retry, window µs, raw}.
func readAttemptReply(v []any) (attemptReply, string, error) {
	bad := func() (attemptReply, string, error) {
		return attemptReply{}, "", fmt.Errorf("%w %v", errAttemptReply, v)
	}
	if len(v) != 7 {
		return bad()
	}
	code, ok0 := v[0].(int64)
	took, ok1 := v[1].(int64)
	ms, ok2 := v[2].(int64)
	retry, ok3 := v[3].(string)
	lane, ok4 := v[4].(string)
	window, ok5 := v[5].(int64)
	raw, ok6 := v[6].(string)
	if !(ok0 && ok1 && ok2 && ok3 && ok4 && ok5 && ok6) || code < attemptGranted || code > attemptBadPending {
		return bad()
	}
	r := attemptReply{code: code, took: took == 1, ms: ms, window: time.Duration(window) * time.Microsecond}
	var err error
	if r.retry, err = bucketRetry(retry); err != nil {
		return bad()
	}
	if r.laneRetry, err = bucketRetry(lane); err != nil {
		return bad()
	}
	if r.code == attemptDenied && retry == "" {
		return bad()
	}
	return r, raw, nil
}

// bucketRetry reads a bucket's retry as redis_rate does (seconds, as Lua's tostring
// wrote them); "", a bucket not asked, is never.
func bucketRetry(s string) (time.Duration, error) {
	if s == "" {
		return math.MaxInt64, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, err
	}
	return time.Duration(f * float64(time.Second)), nil
}

// gcraLimit is a GCRA bucket as redis_rate's Limit spells it: rate events per period,
// and a burst of that many events.
type gcraLimit struct {
	rate, burst int
	period      time.Duration
}

// limitAt is a bucket of rate req/s (any positive float) with the given burst.
func limitAt(rate float64, burst int) gcraLimit {
	return gcraLimit{rate: 1, burst: burst, period: time.Duration(float64(time.Second) / rate)}
}

// gcraScale prices one call of the account bucket at gcraScale units, so that its
// tolerance can be a fraction of an interval although the burst is an integer.
const gcraScale = 1000

// accountLimit is the account bucket at eff req/s with burst 1 + tolerance/interval: a
// call may come up to l.tolerance before its slot. That lets a waiter ask slightly early
// instead of slightly late (timer and network latency), so the schedule does not slip a
// little on every grant; the cost is that tolerance comes out of the jitter margin.
func (l *Limiter) accountLimit(eff float64) gcraLimit {
	interval := time.Duration(float64(time.Second) / eff)
	return gcraLimit{
		rate:   gcraScale,
		period: interval, // emission interval interval/gcraScale; a call costs gcraScale of them
		burst:  gcraScale + int(gcraScale*l.tolerance/interval),
	}
}
