package batch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// AddCall counts one upstream call spent on an item, on its record, its batch's and
// the batch's series.
func (s *Store) AddCall(ctx context.Context, batch, id string) error {
	series := s.keys.BatchSeries(batch)
	_, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, s.keys.Item(batch, id), fieldCalls, 1)
		p.HIncrBy(ctx, s.keys.Batch(batch), fieldCalls, 1)
		p.HIncrBy(ctx, series, "c"+strconv.FormatInt(SeriesBucket(s.clock()), 10), 1)
		p.Expire(ctx, series, seriesTTL)
		return nil
	})
	if err != nil {
		return fmt.Errorf("count a call of %s/%s: %w", batch, id, err)
	}
	return nil
}
