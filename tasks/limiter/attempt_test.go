package limiter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// errStopped ends a Wait at its first sleep: one attempt, and what it decided.
var errStopped = errors.New("stopped at the first sleep")

// oneAttempt is a limiter on a clock that moves only when told, whose Wait makes one
// attempt: it is granted, or ends with errStopped and records the sleep it asked for.
type oneAttempt struct {
	*Limiter
	rdb   *redis.Client
	clock *limiterClock

	mu    sync.Mutex
	slept []time.Duration
}

const oneAttemptRate = 2 // an interval of 515 ms at the default Margin

func newOneAttempt(t *testing.T, srv *redistest.Server) *oneAttempt {
	t.Helper()
	a := &oneAttempt{rdb: srv.Client(t), clock: newLimiterClock()}
	opts := Options{Rate: oneAttemptRate, Keys: limiterTestKeys(), Now: a.clock.Now}
	opts.Sleep = func(ctx context.Context, d time.Duration) error {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.slept = append(a.slept, d)
		return errStopped
	}
	l, err := New(a.rdb, opts)
	if err != nil {
		t.Fatal(err)
	}
	a.Limiter = l
	return a
}

// interval is the account's interval at the full rate, as attempt computes it.
func (a *oneAttempt) interval() time.Duration {
	return time.Duration(float64(time.Second) / (a.opts.Margin * oneAttemptRate))
}

// lastSleep is the sleep the last stopped Wait asked for.
func (a *oneAttempt) lastSleep(t *testing.T) time.Duration {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.slept) == 0 {
		t.Fatal("no sleep")
	}
	return a.slept[len(a.slept)-1]
}

// mark reads a field of the state hash ("" when absent).
func (a *oneAttempt) mark(t *testing.T, field string) string {
	t.Helper()
	v, err := a.rdb.HGet(t.Context(), a.opts.Keys.RateState(), field).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatal(err)
	}
	return v
}

func (a *oneAttempt) setMark(t *testing.T, field string, v any) {
	t.Helper()
	if err := a.rdb.HSet(t.Context(), a.opts.Keys.RateState(), field, v).Err(); err != nil {
		t.Fatal(err)
	}
}

// ms is the Go clock's now plus d, in the marks' unit.
func (a *oneAttempt) ms(d time.Duration) string {
	return strconv.FormatInt(a.clock.Now().Add(d).UnixMilli(), 10)
}

// emptyReserved makes bucket name deny for about a minute, as if its tokens were taken.
func (a *oneAttempt) emptyReserved(t *testing.T, name string) {
	t.Helper()
	now, err := a.rdb.Time(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	tat := float64(now.Unix()-1483228800) + 60 // redis_rate's epoch, in seconds
	if err := a.rdb.Set(t.Context(), bucketKey(a.opts.Keys, name), tat, time.Minute).Err(); err != nil {
		t.Fatal(err)
	}
}

// The marks a grant and a denial of a submit waiter leave, to the millisecond, and the
// ticket a denied waiter keeps for its next attempt.
func TestLimiterAttemptMarks(t *testing.T) {
	t.Parallel()
	a := newOneAttempt(t, redistest.Start(t, redistest.Options{}))
	ctx := WithPriority(t.Context(), PriorityNormal)
	interval := a.interval()

	if err := waitRelease(ctx, a.Limiter, upstream.ActionCreateJob); err != nil {
		t.Fatal(err)
	}
	if got, want := a.mark(t, limFieldPriority+"normal"), a.ms(interval); got != want {
		t.Errorf("after a grant, prio:normal = %q, want now + interval = %s", got, want)
	}
	if got := a.mark(t, limFieldPending+ShareSubmit); got != "" {
		t.Errorf("after a grant, pending:submit = %q, want none", got)
	}

	// The account's next slot is an interval away; the reserved bucket (burst 2) gives
	// a second ticket, which the denied waiter holds and marks.
	a.clock.Advance(time.Millisecond)
	if err := waitRelease(ctx, a.Limiter, upstream.ActionCreateJob); !errors.Is(err, errStopped) {
		t.Fatalf("second Wait: %v, want denied", err)
	}
	retry := a.lastSleep(t)
	if retry <= interval/2 || retry > interval {
		t.Fatalf("denied for %v, want the rest of the interval %v", retry, interval)
	}
	want := a.ms(retry + interval/2)
	for _, f := range []string{limFieldPriority + "normal", limFieldPending + ShareSubmit} {
		if got := a.mark(t, f); got != want {
			t.Errorf("after a denial, %s = %q, want now + retry + interval/2 = %s", f, got, want)
		}
	}

	// An earlier mark does not replace a later one.
	a.setMark(t, limFieldPriority+"normal", a.ms(time.Hour))
	time.Sleep(retry) // the buckets run on Redis's clock
	if err := waitRelease(ctx, a.Limiter, upstream.ActionCreateJob); err != nil {
		t.Fatalf("third Wait: %v", err)
	}
	if got, want := a.mark(t, limFieldPriority+"normal"), a.ms(time.Hour); got != want {
		t.Errorf("a grant replaced a later mark: prio:normal = %q, want %s", got, want)
	}
	// The third grant used the second's ticket: the reserved bucket, empty by now,
	// was not asked, and no grant was beyond the guarantee.
	if st := a.Stats().Submit; st.Granted != 2 || st.Borrowed != 0 {
		t.Errorf("submit stats %+v, want 2 granted, none borrowed", st)
	}
}

// A waiter without a ticket yields to the other share's ticket holder while its mark
// lasts, fails on a mark that is no time, and borrows once the mark is past.
func TestLimiterAttemptBorrowerYieldsToTheOtherShare(t *testing.T) {
	t.Parallel()
	a := newOneAttempt(t, redistest.Start(t, redistest.Options{}))
	ctx := t.Context()
	interval := a.interval()
	a.emptyReserved(t, SharePoll)

	for _, tc := range []struct {
		mark string
		want time.Duration // the sleep: min(mark - now, reserved retry, interval)
	}{
		{a.ms(100 * time.Millisecond), 100 * time.Millisecond},
		{a.ms(time.Hour), interval},
	} {
		a.setMark(t, limFieldPending+ShareSubmit, tc.mark)
		if err := waitRelease(ctx, a.Limiter, upstream.ActionGetJob); !errors.Is(err, errStopped) {
			t.Fatalf("mark %s: Wait %v, want it to yield", tc.mark, err)
		}
		if got := a.lastSleep(t); got != tc.want {
			t.Errorf("mark %s (now %s): slept %v, want %v", tc.mark, a.ms(0), got, tc.want)
		}
	}

	a.setMark(t, limFieldPending+ShareSubmit, "soon")
	err := waitRelease(ctx, a.Limiter, upstream.ActionGetJob)
	if !errors.Is(err, strconv.ErrSyntax) {
		t.Errorf("Wait with a mark that is no time: %v, want strconv.ErrSyntax", err)
	}
	if got := a.Stats().Errors; got != 1 {
		t.Errorf("Stats().Errors = %d, want 1", got)
	}

	a.setMark(t, limFieldPending+ShareSubmit, a.ms(0)) // until now: over
	if err := waitRelease(ctx, a.Limiter, upstream.ActionGetJob); err != nil {
		t.Fatalf("Wait once the mark is past: %v", err)
	}
	if st := a.Stats().Poll; st.Granted != 1 || st.Borrowed != 1 {
		t.Errorf("poll stats %+v, want 1 granted, borrowed", st)
	}
}

// A submit waiter yields to a fresh mark of a higher priority (ignoring one that is no
// integer, as ParseInt would), for at most an interval at a time; a high one never
// yields.
func TestLimiterAttemptYieldsToHigherPriorities(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	for _, tc := range []struct {
		prio  Priority
		marks map[string]time.Duration // field: until, from now; < 0: garbage
		yield time.Duration            // 0: granted
	}{
		{PriorityNormal, map[string]time.Duration{"high": 100 * time.Millisecond}, 100 * time.Millisecond},
		{PriorityNormal, map[string]time.Duration{"high": time.Hour}, -1}, // -1: the interval
		{PriorityNormal, map[string]time.Duration{"high": 0}, 0},
		{PriorityNormal, map[string]time.Duration{"high": -1}, 0},
		{PriorityNormal, map[string]time.Duration{"normal": time.Hour, "low": time.Hour}, 0},
		{PriorityLow, map[string]time.Duration{"high": -1, "normal": 200 * time.Millisecond}, 200 * time.Millisecond},
		{PriorityHigh, map[string]time.Duration{"high": time.Hour, "normal": time.Hour}, 0},
	} {
		t.Run(fmt.Sprintf("%v %v", tc.prio, tc.marks), func(t *testing.T) {
			t.Parallel()
			a := newOneAttempt(t, srv)
			for p, d := range tc.marks {
				v := a.ms(d)
				if d < 0 {
					v = "1e99"
				}
				a.setMark(t, limFieldPriority+p, v)
			}
			err := waitRelease(WithPriority(t.Context(), tc.prio), a.Limiter, upstream.ActionCreateJob)
			if tc.yield == 0 {
				if err != nil {
					t.Fatalf("Wait: %v, want a grant", err)
				}
				return
			}
			if !errors.Is(err, errStopped) {
				t.Fatalf("Wait: %v, want it to yield", err)
			}
			want := tc.yield
			if want < 0 {
				want = a.interval()
			}
			if got := a.lastSleep(t); got != want {
				t.Errorf("yielded %v, want %v", got, want)
			}
		})
	}
}

// On Redis Cluster an attempt's keys (state, buckets, window) share a slot, through
// the prefix's hash tag: the script runs there as on one server.
func TestLimiterAttemptOnRedisCluster(t *testing.T) {
	t.Parallel()
	c := redistest.StartCluster(t)
	l, err := New(c.Client(t), Options{Rate: 100, Keys: limiterTestKeys()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithPriority(t.Context(), PriorityNormal) // reads a mark and writes one
	for _, action := range []string{upstream.ActionCreateJob, upstream.ActionGetJob} {
		if err := waitRelease(ctx, l, action); err != nil {
			t.Fatalf("%s: %v", action, err)
		}
	}
}
