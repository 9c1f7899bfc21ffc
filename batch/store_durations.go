package batch

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// durationSamples is how many recent observations of a kind are kept. Enough for a
// stable median, few enough that the estimate follows the service when it speeds up
// or slows down.
const durationSamples = 200

// RecordDuration notes how long a job of a kind took, from submission to its end as the
// service reported it. Only the latest 200 observations per kind are kept.
func (s *Store) RecordDuration(ctx context.Context, kind Kind, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("record %s duration: %v: must be positive", kind, d)
	}
	key := s.keys.Durations(string(kind))
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, key, d.Milliseconds())
		p.LTrim(ctx, key, 0, durationSamples-1)
		return nil
	})
	if err != nil {
		return fmt.Errorf("record %s duration: %w", kind, err)
	}
	return nil
}

// ExpectedDuration estimates how long a job of a kind takes: the median of the recent
// observations (the lower one of the two middles for an even number), which one very
// slow or very fast job cannot move. It also returns how many observations there are;
// with none the estimate is 0 and the caller uses its own default.
func (s *Store) ExpectedDuration(ctx context.Context, kind Kind) (time.Duration, int, error) {
	vals, err := s.rdb.LRange(ctx, s.keys.Durations(string(kind)), 0, durationSamples-1).Result()
	if err != nil {
		return 0, 0, fmt.Errorf("expected %s duration: %w", kind, err)
	}
	ms := make([]int64, 0, len(vals))
	for _, v := range vals {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			continue // not ours; one bad sample must not stop the poller
		}
		ms = append(ms, n)
	}
	if len(ms) == 0 {
		return 0, 0, nil
	}
	slices.Sort(ms)
	return time.Duration(ms[(len(ms)-1)/2]) * time.Millisecond, len(ms), nil
}
