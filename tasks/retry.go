package tasks

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/upstream"
)

// ErrNotYet marks a handler outcome that is not a failure: the task only has to run
// again later (a reconciliation that must give a recent claim time to land, a claim
// whose confirmation was lost). It spends no asynq retry (see IsFailure) and comes back
// after the delay it carries (see RetryPolicy).
var ErrNotYet = errors.New("not yet")

// notYetError is an ErrNotYet with the delay before the next run.
type notYetError struct {
	after  time.Duration
	reason string
}

func (e *notYetError) Error() string {
	return fmt.Sprintf("not yet: %s (again in %v)", e.reason, e.after.Round(time.Millisecond))
}

func (e *notYetError) Is(target error) bool { return target == ErrNotYet }

// notYet returns an ErrNotYet that asks to run again after d.
func notYet(d time.Duration, format string, args ...any) error {
	return &notYetError{after: max(d, 0), reason: fmt.Sprintf(format, args...)}
}

// IsFailure is asynq.Config.IsFailure: rate limiting, "not yet" and a cancelled context
// (shutdown) are not the task's fault and must not use up its retries.
func IsFailure(err error) bool {
	return !errors.Is(err, ErrNotYet) &&
		!errors.Is(err, upstream.ErrRateLimited) &&
		!errors.Is(err, context.Canceled)
}

// RetryPolicy is asynq.Config.RetryDelayFunc (method Delay):
//   - ErrNotYet: the delay it carries;
//   - ErrRateLimited: the service's Retry-After when it gave one, else a full-jitter draw
//     below Base (the limiter paces the calls themselves);
//   - ErrAmbiguous: ReconcileDelay plus up to a quarter of it, plus a second (asynq
//     keeps retry times in whole seconds and may run a retry up to a second early), so
//     a job whose CreateJob reply was lost has become visible to ListJobs before the
//     retry looks for it;
//   - anything else: full-jitter exponential backoff, a uniform draw below
//     min(Cap, Base·2^n) for the n-th retry.
type RetryPolicy struct {
	Base           time.Duration
	Cap            time.Duration
	ReconcileDelay time.Duration
	Rand           func() float64 // [0, 1), safe for concurrent use
}

// Delay returns how long to wait before retry n+1 (n retries so far) after err.
func (p RetryPolicy) Delay(n int, err error, _ *asynq.Task) time.Duration {
	u := p.Rand()
	if !(u >= 0 && u < 1) {
		u = 0.5
	}
	var ny *notYetError
	var apiErr *upstream.APIError
	switch {
	case errors.As(err, &ny):
		return ny.after
	case errors.Is(err, upstream.ErrAmbiguous):
		return p.ReconcileDelay + time.Duration(u*float64(p.ReconcileDelay)/4) + time.Second
	case errors.Is(err, upstream.ErrRateLimited):
		if errors.As(err, &apiErr) && apiErr.RetryAfter > 0 {
			// A little later than asked, so that waiting tasks do not all come back at once.
			return apiErr.RetryAfter + time.Duration(u*float64(apiErr.RetryAfter)/10)
		}
		return time.Duration(u * float64(p.Base))
	}
	ceiling := p.Cap
	if n >= 0 && n < 40 {
		if c := float64(p.Base) * math.Pow(2, float64(n)); c < float64(p.Cap) {
			ceiling = time.Duration(c)
		}
	}
	return time.Duration(u * float64(ceiling))
}

// lastRun reports whether this run of the task is its last: asynq archives the task if
// it returns an error now, so the handler must leave the item final instead.
func lastRun(ctx context.Context) bool {
	retried, ok1 := asynq.GetRetryCount(ctx)
	maxRetry, ok2 := asynq.GetMaxRetry(ctx)
	return ok1 && ok2 && retried >= maxRetry
}

// runNumber is 1 for a task's first run, 2 for its first retry, ...
func runNumber(ctx context.Context) int {
	retried, _ := asynq.GetRetryCount(ctx)
	return retried + 1
}
