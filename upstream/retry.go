package upstream

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Backoff of read-only retries: full jitter over an exponential ceiling.
const (
	backoffBase = 200 * time.Millisecond
	backoffCap  = 10 * time.Second
	// maxRetryWait bounds a wait inside one call; a longer Retry-After is returned to the
	// caller (APIError.RetryAfter), whose queue can wait without holding a worker.
	maxRetryWait = time.Minute
)

// call sends k, retrying read-only actions on ErrTransient and ErrRateLimited. The gate
// is consulted before every attempt and told of every rate-limited reply.
func (c *Client) call(ctx context.Context, k *spec) (*Response, error) {
	attempts := 1
	if k.retry {
		attempts = c.maxAttempts
	}
	for n := 1; ; n++ {
		release := func() {}
		if c.gate != nil {
			r, err := c.gate.Wait(ctx, k.action)
			if err != nil {
				return nil, fmt.Errorf("%s: wait for rate gate: %w", k.action, err)
			}
			release = r
		}
		resp, apiErr := c.attempt(ctx, k, n)
		release()
		if apiErr == nil {
			return resp, nil
		}
		if apiErr.Class == ErrRateLimited && c.gate != nil {
			c.gate.Throttled(k.action, apiErr.RetryAfter)
		}
		if n >= attempts || !retryable(apiErr) || ctx.Err() != nil {
			return nil, apiErr
		}
		wait := c.backoff(n, apiErr.RetryAfter)
		if wait > maxRetryWait {
			return nil, apiErr
		}
		if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) < wait {
			return nil, apiErr // the wait would outlive the caller
		}
		c.log.Debug("upstream retry", zap.String("action", k.action), zap.Int("attempt", n),
			zap.String("class", apiErr.Class.Error()), zap.Duration("wait", wait))
		if err := c.sleep(ctx, wait); err != nil {
			return nil, fmt.Errorf("%s: %w (last attempt: %w)", k.action, err, apiErr)
		}
	}
}

func retryable(e *APIError) bool {
	return errors.Is(e.Class, ErrTransient) || errors.Is(e.Class, ErrRateLimited)
}

// backoff is the wait after attempt n (1-based): a uniform draw below
// min(cap, base*2^(n-1)), but never shorter than what the service asked for.
func (c *Client) backoff(n int, retryAfter time.Duration) time.Duration {
	ceiling := backoffCap
	if n-1 < 16 {
		ceiling = min(backoffCap, backoffBase<<(n-1))
	}
	f := c.rand()
	if f < 0 || f >= 1 || math.IsNaN(f) {
		f = 0.5
	}
	return max(time.Duration(f*float64(ceiling)), retryAfter)
}

// parseRetryAfter reads delay-seconds or an HTTP date; anything else, or a past date, is 0.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 || math.IsNaN(secs) {
			return 0
		}
		return time.Duration(min(secs, 24*3600) * float64(time.Second))
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
