package limiter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// The adaptive (AIMD) half of the limiter: 429s cut the shared rate, time restores it.

// Throttled records that the service answered 429 / RequestLimitExceeded: the shared
// rate drops (at most once per DecreaseWindow across processes) and every call pauses
// for retryAfter. It has no error to return, so a Redis failure is logged, and this
// process slows down on its own anyway.
func (l *Limiter) Throttled(action string, retryAfter time.Duration) {
	l.throttled.Add(1)
	retryAfter = min(max(retryAfter, 0), limiterMaxPause)
	ctx, cancel := context.WithTimeout(context.Background(), l.opts.CallTimeout)
	defer cancel()
	st, decreased, err := l.recordThrottle(ctx, retryAfter)
	if err != nil {
		l.log.Warn("limiter: cannot share a throttle, slowing this process only",
			zap.String("action", action), zap.Error(err))
		l.mu.Lock()
		l.cached, _ = applyThrottle(l.cached, l.opts.Now(), retryAfter, l.aimd)
		l.mu.Unlock()
		return
	}
	l.remember(st)
	if decreased {
		l.decreases.Add(1)
		l.log.Info("limiter: upstream throttled, rate lowered",
			zap.String("action", action), zap.Float64("rate", st.base),
			zap.Duration("retryAfter", retryAfter))
	}
}

// recordThrottle applies a throttle to the shared state atomically.
func (l *Limiter) recordThrottle(ctx context.Context, retryAfter time.Duration) (aimdState, bool, error) {
	key := l.opts.Keys.RateState()
	var out aimdState
	var decreased bool
	txf := func(tx *redis.Tx) error {
		st, err := readLimiterState(ctx, tx, key)
		if err != nil {
			return err
		}
		out, decreased = applyThrottle(st, l.opts.Now(), retryAfter, l.aimd)
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.HSet(ctx, key, out.fields())
			return nil
		})
		return err
	}
	// The pending markers share the hash, so a transaction may lose a race now and then.
	var err error
	for range 20 {
		if err = l.rdb.Watch(ctx, txf, key); !errors.Is(err, redis.TxFailedErr) {
			break
		}
	}
	if err != nil {
		return aimdState{}, false, fmt.Errorf("limiter: record throttle: %w", err)
	}
	return out, decreased, nil
}

// Rate reads the current adaptive rate (req/s, before Margin) from Redis.
func (l *Limiter) Rate(ctx context.Context) (float64, error) {
	st, err := l.fetch(ctx)
	if err != nil {
		return 0, err
	}
	return st.rateAt(l.opts.Now(), l.aimd), nil
}

// state returns the shared state, read from Redis at most every RefreshEvery.
func (l *Limiter) state(ctx context.Context) (aimdState, error) {
	l.mu.Lock()
	st, ok := l.cached, l.fresh && l.opts.Now().Sub(l.fetchedAt) < l.opts.RefreshEvery
	l.mu.Unlock()
	if ok {
		return st, nil
	}
	return l.fetch(ctx)
}

func (l *Limiter) fetch(ctx context.Context) (aimdState, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.CallTimeout)
	defer cancel()
	st, err := readLimiterState(ctx, l.rdb, l.opts.Keys.RateState())
	if err != nil {
		return aimdState{}, fmt.Errorf("limiter: %w", err)
	}
	l.remember(st)
	return st, nil
}

func (l *Limiter) remember(st aimdState) {
	l.mu.Lock()
	l.cached, l.fetchedAt, l.fresh = st, l.opts.Now(), true
	l.mu.Unlock()
}

// aimdParams are the constants of the adaptive rate.
type aimdParams struct {
	max, floor, factor float64
	increase           float64 // fraction of max per second
	window             time.Duration
}

// aimdState is the shared adaptive state; the zero value means "never throttled".
type aimdState struct {
	set         bool
	base        float64
	since       time.Time
	pausedUntil time.Time
	decreasedAt time.Time
}

// rateAt is the adaptive rate at now: base, climbing linearly from since, within
// [floor, max].
func (s aimdState) rateAt(now time.Time, p aimdParams) float64 {
	if !s.set {
		return p.max
	}
	r := s.base
	if now.After(s.since) {
		r += p.increase * p.max * now.Sub(s.since).Seconds()
	}
	return min(max(r, p.floor), p.max)
}

// applyThrottle returns the state after a throttle at now, and whether it decreased the
// rate. Only the first throttle of a window decreases; the others hold the rate where it
// is (no climb while the service still says 429) and may extend the pause.
func applyThrottle(s aimdState, now time.Time, retryAfter time.Duration, p aimdParams) (aimdState, bool) {
	out := s
	out.set = true
	out.base = s.rateAt(now, p) // a throttle stops the climb where it is...
	out.since = now
	decrease := !s.set || now.Sub(s.decreasedAt) >= p.window
	if decrease { // ...and the first one in a window also cuts the rate
		out.base = max(p.floor, out.base*p.factor)
		out.decreasedAt = now
	}
	if end := now.Add(retryAfter); end.After(out.pausedUntil) {
		out.pausedUntil = end
	}
	if out.pausedUntil.After(out.since) { // climb only once the pause is over
		out.since = out.pausedUntil
	}
	return out, decrease
}

func (s aimdState) fields() map[string]any {
	return map[string]any{
		limFieldBase:        strconv.FormatFloat(s.base, 'g', -1, 64),
		limFieldSince:       s.since.UnixMilli(),
		limFieldPausedUntil: s.pausedUntil.UnixMilli(),
		limFieldDecreasedAt: s.decreasedAt.UnixMilli(),
	}
}

// limiterStateReader is what readLimiterState needs: a client or a WATCH transaction.
type limiterStateReader interface {
	HMGet(ctx context.Context, key string, fields ...string) *redis.SliceCmd
}

func readLimiterState(ctx context.Context, c limiterStateReader, key string) (aimdState, error) {
	names := []string{limFieldBase, limFieldSince, limFieldPausedUntil, limFieldDecreasedAt}
	vals, err := c.HMGet(ctx, key, names...).Result()
	if err != nil {
		return aimdState{}, fmt.Errorf("read rate state %s: %w", key, err)
	}
	if vals[0] == nil {
		return aimdState{}, nil // never throttled
	}
	st := aimdState{set: true}
	for i, dst := range []any{&st.base, &st.since, &st.pausedUntil, &st.decreasedAt} {
		s, _ := vals[i].(string)
		var err error
		switch dst := dst.(type) {
		case *float64:
			*dst, err = strconv.ParseFloat(s, 64)
		case *time.Time:
			var ms int64
			ms, err = strconv.ParseInt(s, 10, 64)
			*dst = time.UnixMilli(ms)
		}
		if err != nil {
			return aimdState{}, fmt.Errorf("read rate state %s: field %s: %w", key, names[i], err)
		}
	}
	return st, nil
}
