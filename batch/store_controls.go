package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// Operator controls of a batch, all read by Claim in the step that claims an item:
//   - Pause: items about to be sent are parked instead; Resume hands them back.
//   - Cancel: items not sent yet become canceled; nothing more is sent.
//   - SetMaxJobs: a cap on the jobs created for the batch, retries included; items
//     over it are parked, and handed back (Unpark) when the cap is raised.
// Parked items stay in the batch's parked set until Claim sends them, so a caller
// that fails midway loses none. Jobs already at the service are followed to their end
// in every case. All are safe to repeat.

// Pause marks a batch paused.
func (s *Store) Pause(ctx context.Context, name string) error {
	return s.setBatchFlag(ctx, name, "pause", "paused", "1")
}

// Resume clears a batch's pause and returns the ids of the items parked meanwhile
// (Unpark).
func (s *Store) Resume(ctx context.Context, name string) ([]string, error) {
	if err := s.setBatchFlag(ctx, name, "resume", "paused", ""); err != nil {
		return nil, err
	}
	return s.Unpark(ctx, name)
}

// Cancel marks a batch canceled: Claim sends nothing more for it. The caller then
// records its unsent items canceled (Transition), those parked included.
func (s *Store) Cancel(ctx context.Context, name string) error {
	return s.setBatchFlag(ctx, name, "cancel", "canceled", "1")
}

// Uncancel lifts a batch's cancel, for singbatch retry to take canceled items back.
func (s *Store) Uncancel(ctx context.Context, name string) error {
	return s.setBatchFlag(ctx, name, "uncancel", "canceled", "")
}

// SetMaxJobs caps the jobs created for a batch (0: no cap). The items parked over
// the old cap are the caller's to hand back (Unpark) when the new one allows more.
func (s *Store) SetMaxJobs(ctx context.Context, name string, n int64) error {
	if n < 0 {
		return fmt.Errorf("batch %s: max jobs %d: must not be negative", name, n)
	}
	v := ""
	if n > 0 {
		v = strconv.FormatInt(n, 10)
	}
	return s.setBatchFlag(ctx, name, "set max jobs of", "maxJobs", v)
}

// SetPriority sets a batch's priority: its items' next CreateJobs wait at it.
func (s *Store) SetPriority(ctx context.Context, name string, p Priority) error {
	return s.setBatchFlag(ctx, name, "set priority of", "priority", string(p))
}

// Priority is a batch's priority (normal for a batch without one, or none at all).
func (s *Store) Priority(ctx context.Context, name string) (Priority, error) {
	v, err := s.rdb.HGet(ctx, s.keys.Batch(name), "priority").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return PriorityNormal, fmt.Errorf("batch %s: priority: %w", name, err)
	}
	return priorityField(v), nil
}

// Unpark returns the ids of a batch's parked items, for their submit tasks to be
// queued again. They stay in the parked set until Claim sends them (or parks them
// again), so a caller that stops midway loses none.
func (s *Store) Unpark(ctx context.Context, name string) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.keys.BatchParked(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: parked items: %w", name, err)
	}
	if err := s.rdb.HDel(ctx, s.keys.Batch(name), "heldBy").Err(); err != nil {
		return nil, fmt.Errorf("batch %s: parked items: %w", name, err)
	}
	return ids, nil
}

// ClearParked empties a batch's parked set, once its items ended (Cancel).
func (s *Store) ClearParked(ctx context.Context, name string) error {
	if err := s.rdb.Del(ctx, s.keys.BatchParked(name)).Err(); err != nil {
		return fmt.Errorf("batch %s: parked items: %w", name, err)
	}
	return nil
}

// setBatchFlag sets (or, for "", deletes) a field of an existing batch's record.
func (s *Store) setBatchFlag(ctx context.Context, name, what, field, value string) error {
	if err := s.requireBatch(ctx, name); err != nil {
		return fmt.Errorf("%s batch: %w", what, err)
	}
	var err error
	if value == "" {
		err = s.rdb.HDel(ctx, s.keys.Batch(name), field).Err()
	} else {
		err = s.rdb.HSet(ctx, s.keys.Batch(name), field, value).Err()
	}
	if err != nil {
		return fmt.Errorf("%s batch %s: %w", what, name, err)
	}
	return nil
}

func (s *Store) requireBatch(ctx context.Context, name string) error {
	n, err := s.rdb.Exists(ctx, s.keys.Batch(name)).Result()
	if err != nil {
		return fmt.Errorf("batch %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("batch %s: %w", name, ErrBatchNotFound)
	}
	return nil
}
