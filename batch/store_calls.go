package batch

import (
	"context"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// AddCall counts one upstream call spent on an item, on its record and its batch's.
func (s *Store) AddCall(ctx context.Context, batch, id string) error {
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, s.keys.Item(batch, id), fieldCalls, 1)
		p.HIncrBy(ctx, s.keys.Batch(batch), fieldCalls, 1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("count a call of %s/%s: %w", batch, id, err)
	}
	return nil
}
