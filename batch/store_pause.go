package batch

import (
	"context"
	"fmt"
)

// Pausing a batch stops new CreateJob calls for it on every worker process: a
// submission that finds its batch paused parks its item (ParkIfPaused) instead of
// claiming it, in the same script that reads the flag, so that no item is parked after
// its batch resumed. Resuming clears the flag and hands back the parked items, whose
// submit tasks the caller queues again (then AckParked). Jobs already at the service
// are still followed. Both are safe to repeat.

// Pause marks a batch paused.
func (s *Store) Pause(ctx context.Context, name string) error {
	if err := s.requireBatch(ctx, name); err != nil {
		return err
	}
	if err := s.rdb.HSet(ctx, s.keys.Batch(name), "paused", "1").Err(); err != nil {
		return fmt.Errorf("pause batch %s: %w", name, err)
	}
	return nil
}

// Resume clears a batch's pause and returns the ids of the items parked meanwhile.
// They stay parked until AckParked, so a resume that fails midway loses none.
func (s *Store) Resume(ctx context.Context, name string) ([]string, error) {
	if err := s.requireBatch(ctx, name); err != nil {
		return nil, err
	}
	if err := s.rdb.HDel(ctx, s.keys.Batch(name), "paused").Err(); err != nil {
		return nil, fmt.Errorf("resume batch %s: %w", name, err)
	}
	ids, err := s.rdb.SMembers(ctx, s.keys.BatchParked(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("resume batch %s: %w", name, err)
	}
	return ids, nil
}

// AckParked removes items queued again from a batch's parked set.
func (s *Store) AckParked(ctx context.Context, name string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	members := make([]any, len(ids))
	for i, id := range ids {
		members[i] = id
	}
	if err := s.rdb.SRem(ctx, s.keys.BatchParked(name), members...).Err(); err != nil {
		return fmt.Errorf("resume batch %s: %w", name, err)
	}
	return nil
}

// ParkIfPaused parks an item whose batch is paused and reports whether it did.
func (s *Store) ParkIfPaused(ctx context.Context, name, id string) (bool, error) {
	n, err := s.park.Run(ctx, s.rdb, []string{s.keys.Batch(name), s.keys.BatchParked(name)}, id).Int()
	if err != nil {
		return false, fmt.Errorf("batch %s: pause check: %w", name, err)
	}
	return n == 1, nil
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
