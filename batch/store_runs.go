package batch

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RunState is what is known of an enqueue run.
type RunState string

// States of an enqueue run.
const (
	// RunOpen: still reading its manifests; a line further on may train a model that
	// songs already read use.
	RunOpen RunState = "open"
	// RunEnded: every line of it was read (or it stopped on an error).
	RunEnded RunState = "ended"
	// RunGone: no record, as for a run whose lease ran out without an end (it
	// crashed), or one of a version that kept none. Treat as ended.
	RunGone RunState = "gone"
)

// runEndedKeep is how long an ended run is remembered: longer than any song waits to
// learn of it.
const runEndedKeep = 7 * 24 * time.Hour

// OpenRun records an enqueue run as open for lease; the run renews it (the same call)
// while it reads, so a run that dies is known to have ended once its lease runs out.
func (s *Store) OpenRun(ctx context.Context, token string, lease time.Duration) error {
	if err := s.rdb.Set(ctx, s.keys.EnqueueRun(token), string(RunOpen), lease).Err(); err != nil {
		return fmt.Errorf("open enqueue run: %w", err)
	}
	return nil
}

// EndRun records an enqueue run as ended.
func (s *Store) EndRun(ctx context.Context, token string) error {
	if err := s.rdb.Set(ctx, s.keys.EnqueueRun(token), string(RunEnded), runEndedKeep).Err(); err != nil {
		return fmt.Errorf("end enqueue run: %w", err)
	}
	return nil
}

// Run returns an enqueue run's state and, while it is open, how long its lease lasts.
func (s *Store) Run(ctx context.Context, token string) (RunState, time.Duration, error) {
	if token == "" {
		return RunGone, 0, nil
	}
	var get *redis.StringCmd
	var ttl *redis.DurationCmd
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, s.keys.EnqueueRun(token))
		ttl = p.PTTL(ctx, s.keys.EnqueueRun(token))
		return nil
	})
	switch {
	case errors.Is(err, redis.Nil):
		return RunGone, 0, nil
	case err != nil:
		return "", 0, fmt.Errorf("enqueue run: %w", err)
	}
	st := RunState(get.Val())
	if st != RunOpen {
		return RunEnded, 0, nil
	}
	return RunOpen, max(ttl.Val(), 0), nil
}
