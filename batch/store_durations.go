package batch

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// TimingWindow is how many recent finished jobs of a class are kept: enough for stable
// quantiles, few enough that the estimate follows the service when it speeds up or
// slows down.
const TimingWindow = 64

// JobTiming is how long one finished job took, as the service saw it.
type JobTiming struct {
	Total      time.Duration // createdAt → completedAt
	Processing time.Duration // startedAt → completedAt; 0 when unknown
}

// RecordJobTiming adds a finished job's timing to its class's window (the newest
// TimingWindow are kept), and returns the window as it then is, newest first: the
// poller's next estimate, read in the same round trip as the write. A class is a kind
// of work whose jobs take about as long (see tasks.ClassOf); its name is the last part
// of a key.
func (s *Store) RecordJobTiming(ctx context.Context, class string, t JobTiming) ([]JobTiming, error) {
	if t.Total <= 0 || t.Processing < 0 {
		return nil, fmt.Errorf("record %s timing %v/%v: must be positive", class, t.Total, t.Processing)
	}
	key := s.keys.Durations(class)
	v := strconv.FormatInt(t.Total.Milliseconds(), 10) + ":" + strconv.FormatInt(t.Processing.Milliseconds(), 10)
	var window *redis.StringSliceCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.LPush(ctx, key, v)
		p.LTrim(ctx, key, 0, TimingWindow-1)
		p.SAdd(ctx, s.keys.DurationClasses(), class)
		window = p.LRange(ctx, key, 0, TimingWindow-1)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("record %s timing: %w", class, err)
	}
	return parseTimings(window.Val()), nil
}

// JobTimings returns a class's recent timings, newest first; none when nothing of the
// class has finished yet.
func (s *Store) JobTimings(ctx context.Context, class string) ([]JobTiming, error) {
	vals, err := s.rdb.LRange(ctx, s.keys.Durations(class), 0, TimingWindow-1).Result()
	if err != nil {
		return nil, fmt.Errorf("%s timings: %w", class, err)
	}
	return parseTimings(vals), nil
}

// parseTimings reads a window's entries. Entries that are not ours are skipped: one bad
// sample must not stop the poller.
func parseTimings(vals []string) []JobTiming {
	out := make([]JobTiming, 0, len(vals))
	for _, v := range vals {
		total, proc, _ := strings.Cut(v, ":") // an entry of an older version has no ':'
		t, err := strconv.ParseInt(total, 10, 64)
		if err != nil || t <= 0 {
			continue
		}
		p, err := strconv.ParseInt(proc, 10, 64)
		if err != nil || p < 0 || p > t {
			p = 0
		}
		out = append(out, JobTiming{Total: time.Duration(t) * time.Millisecond, Processing: time.Duration(p) * time.Millisecond})
	}
	return out
}

// TimingClasses lists the classes with recorded timings.
func (s *Store) TimingClasses(ctx context.Context) ([]string, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.DurationClasses()).Result()
	if err != nil {
		return nil, fmt.Errorf("timing classes: %w", err)
	}
	return names, nil
}

// ClaimScout makes member one of at most slots scouts of a class: the jobs that probe
// the service while nothing is known of the class's durations. It returns member's slot
// (0 … slots-1), kept while member renews it (every claim does, until expires), or -1
// when every slot is held by another live scout. A slot whose scout stopped renewing
// (its item retried, its worker gone) is free again after its expiry.
func (s *Store) ClaimScout(ctx context.Context, class, member string, slots int, expires time.Time) (int, error) {
	n, err := s.claimScout.Run(ctx, s.rdb, []string{s.keys.Scouts(class)},
		member, slots, s.clock().UnixMilli(), expires.UnixMilli()).Int()
	if err != nil {
		return -1, fmt.Errorf("claim a %s scout slot: %w", class, err)
	}
	return n, nil
}

// ReleaseScout frees member's scout slot of a class, if it holds one.
func (s *Store) ReleaseScout(ctx context.Context, class, member string) error {
	if err := s.releaseScout.Run(ctx, s.rdb, []string{s.keys.Scouts(class)}, member).Err(); err != nil {
		return fmt.Errorf("release a %s scout slot: %w", class, err)
	}
	return nil
}

// TryOnce reports whether this caller is the first to ask for name within ttl: a
// cluster-wide "at most once per period" for work that is pointless to repeat at once.
func (s *Store) TryOnce(ctx context.Context, name string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.keys.Once(name), 1, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("once %s: %w", name, err)
	}
	return ok, nil
}
