package batch

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// SeriesStep is the width of a bucket of a batch's series.
const SeriesStep = 10 * time.Second

// seriesTTL is how long a batch's series outlives its last write; Series returns no
// more than that span before its last bucket.
const seriesTTL = 7 * 24 * time.Hour

// SeriesBucket is the bucket of a batch's series that t falls in.
func SeriesBucket(t time.Time) int64 { return t.Unix() / int64(SeriesStep/time.Second) }

// SeriesPoint is one bucket of a batch's activity.
type SeriesPoint struct {
	Start    time.Time // the bucket's start; it lasts SeriesStep
	Finished int64     // items that became final in it
	Calls    int64     // upstream calls spent on the batch's items in it
}

// Series is a batch's activity per SeriesStep, oldest first, from the first bucket
// with any activity to the last; buckets without any are included, as zeros.
func (s *Store) Series(ctx context.Context, name string) ([]SeriesPoint, error) {
	h, err := s.rdb.HGetAll(ctx, s.keys.BatchSeries(name)).Result()
	if err != nil {
		return nil, fmt.Errorf("batch %s: series: %w", name, err)
	}
	byBucket := map[int64]*SeriesPoint{}
	for field, v := range h {
		if len(field) < 2 {
			continue
		}
		bucket, err1 := strconv.ParseInt(field[1:], 10, 64)
		n, err2 := strconv.ParseInt(v, 10, 64)
		if err1 != nil || err2 != nil {
			continue // not ours: ignored rather than failing a chart
		}
		p := byBucket[bucket]
		if p == nil {
			p = &SeriesPoint{Start: time.Unix(bucket*int64(SeriesStep/time.Second), 0)}
			byBucket[bucket] = p
		}
		switch field[0] {
		case 'f':
			p.Finished += n
		case 'c':
			p.Calls += n
		}
	}
	if len(byBucket) == 0 {
		return nil, nil
	}
	buckets := make([]int64, 0, len(byBucket))
	for b := range byBucket {
		buckets = append(buckets, b)
	}
	sort.Slice(buckets, func(i, j int) bool { return buckets[i] < buckets[j] })
	last := buckets[len(buckets)-1]
	first := max(buckets[0], last-int64(seriesTTL/SeriesStep))
	out := make([]SeriesPoint, 0, last-first+1)
	for b := first; b <= last; b++ {
		if p := byBucket[b]; p != nil {
			out = append(out, *p)
		} else {
			out = append(out, SeriesPoint{Start: time.Unix(b*int64(SeriesStep/time.Second), 0)})
		}
	}
	return out, nil
}

// Recent sums the items finished and the calls of the buckets of ps that overlap the
// window before now.
func Recent(ps []SeriesPoint, now time.Time, window time.Duration) (finished, calls int64) {
	from := now.Add(-window)
	for _, p := range ps {
		if p.Start.Add(SeriesStep).After(from) && !p.Start.After(now) {
			finished += p.Finished
			calls += p.Calls
		}
	}
	return finished, calls
}
