package batch

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// itemsPage is how many items Items reads per round trip.
const itemsPage = 500

// Batch returns a batch's record. Its total and counts are read in one MULTI, so they
// always agree.
func (s *Store) Batch(ctx context.Context, name string) (BatchRecord, error) {
	bs, err := s.batches(ctx, []string{name})
	if err != nil {
		return BatchRecord{}, err
	}
	if len(bs) == 0 {
		return BatchRecord{}, fmt.Errorf("batch %s: %w", name, ErrBatchNotFound)
	}
	return bs[0], nil
}

// Batches returns every batch, oldest first.
func (s *Store) Batches(ctx context.Context) ([]BatchRecord, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.Batches()).Result()
	if err != nil {
		return nil, fmt.Errorf("list batches: %w", err)
	}
	bs, err := s.batches(ctx, names)
	if err != nil {
		return nil, err
	}
	sort.Slice(bs, func(i, j int) bool {
		if !bs[i].Created.Equal(bs[j].Created) {
			return bs[i].Created.Before(bs[j].Created)
		}
		return bs[i].Name < bs[j].Name
	})
	return bs, nil
}

// batches reads the named batches in one MULTI, skipping those without a record.
func (s *Store) batches(ctx context.Context, names []string) ([]BatchRecord, error) {
	type cmds struct {
		rec, counts, manifests *redis.MapStringStringCmd
		parked                 *redis.IntCmd
	}
	cs := make([]cmds, len(names))
	if _, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cs[i] = cmds{p.HGetAll(ctx, s.keys.Batch(n)), p.HGetAll(ctx, s.keys.BatchCounts(n)),
				p.HGetAll(ctx, s.keys.BatchManifests(n)), p.SCard(ctx, s.keys.BatchParked(n))}
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read batches: %w", err)
	}
	out := make([]BatchRecord, 0, len(names))
	for i, n := range names {
		if len(cs[i].rec.Val()) == 0 {
			continue
		}
		b, err := batchFromHashes(n, cs[i].rec.Val(), cs[i].counts.Val(), cs[i].manifests.Val())
		if err != nil {
			return nil, err
		}
		b.Parked = cs[i].parked.Val()
		out = append(out, b)
	}
	return out, nil
}

// Item returns one item's record.
func (s *Store) Item(ctx context.Context, batch, id string) (ItemRecord, error) {
	key := s.keys.Item(batch, id)
	var h *redis.MapStringStringCmd
	var req *redis.StringCmd
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		h, req = p.HGetAll(ctx, key), p.Get(ctx, s.keys.ItemRequest(batch, id))
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return ItemRecord{}, fmt.Errorf("item %s/%s: %w", batch, id, err)
	}
	if err := errors.Join(h.Err(), ignoreNil(req.Err())); err != nil {
		return ItemRecord{}, fmt.Errorf("item %s/%s: %w", batch, id, err)
	}
	if len(h.Val()) == 0 {
		return ItemRecord{}, fmt.Errorf("item %s/%s: %w", batch, id, ErrItemNotFound)
	}
	return s.itemRecord(ctx, key, h.Val(), req.Val())
}

// ItemsByID returns the records of the given items of a batch, in one round trip, in
// the order given; items that do not exist are left out.
func (s *Store) ItemsByID(ctx context.Context, batch string, ids []string) ([]ItemRecord, error) {
	out := make([]ItemRecord, 0, len(ids))
	err := s.visitItems(ctx, batch, ids, nil, func(rec ItemRecord) error {
		out = append(out, rec)
		return nil
	})
	return out, err
}

// Items calls fn for each item of a batch in manifest order (seq), only for items in
// one of the states in filter (nil: all). It reads 500 items per round trip, so a batch
// of a million items is streamed, not loaded. Items added while it runs are visited if
// their seq is past the current page; each record is as it was when its page was read.
// An error from fn stops the walk and is returned as is.
func (s *Store) Items(ctx context.Context, batch string, filter []State, fn func(ItemRecord) error) error {
	n, err := s.rdb.Exists(ctx, s.keys.Batch(batch)).Result()
	if err != nil {
		return fmt.Errorf("items of batch %s: %w", batch, err)
	}
	if n == 0 {
		return fmt.Errorf("items of batch %s: %w", batch, ErrBatchNotFound)
	}
	// The sorted set of earlier releases first (its items have the first seqs), then
	// the list.
	after := "-inf"
	for {
		page, err := s.rdb.ZRangeArgsWithScores(ctx, redis.ZRangeArgs{
			Key: s.keys.BatchItems(batch), Start: after, Stop: "+inf", ByScore: true, Count: itemsPage,
		}).Result()
		if err != nil {
			return fmt.Errorf("items of batch %s: %w", batch, err)
		}
		ids := make([]string, len(page))
		for i, z := range page {
			ids[i], _ = z.Member.(string)
		}
		if err := s.visitItems(ctx, batch, ids, filter, fn); err != nil {
			return err
		}
		if len(page) < itemsPage {
			break
		}
		after = "(" + strconv.FormatInt(int64(page[len(page)-1].Score), 10)
	}
	for start := int64(0); ; start += itemsPage {
		ids, err := s.rdb.LRange(ctx, s.keys.BatchOrder(batch), start, start+itemsPage-1).Result()
		if err != nil {
			return fmt.Errorf("items of batch %s: %w", batch, err)
		}
		if err := s.visitItems(ctx, batch, ids, filter, fn); err != nil {
			return err
		}
		if len(ids) < itemsPage {
			return nil
		}
	}
}

// visitItems reads one page of Items and calls fn for each item in filter.
func (s *Store) visitItems(ctx context.Context, batch string, ids []string, filter []State, fn func(ItemRecord) error) error {
	if len(ids) == 0 {
		return nil
	}
	hashes := make([]*redis.MapStringStringCmd, len(ids))
	reqs := make([]*redis.StringCmd, len(ids))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range ids {
			hashes[i] = p.HGetAll(ctx, s.keys.Item(batch, id))
			reqs[i] = p.Get(ctx, s.keys.ItemRequest(batch, id))
		}
		return nil
	}); err != nil && !errors.Is(err, redis.Nil) {
		return fmt.Errorf("items of batch %s: %w", batch, err)
	}
	for i, id := range ids {
		if err := errors.Join(hashes[i].Err(), ignoreNil(reqs[i].Err())); err != nil {
			return fmt.Errorf("items of batch %s: %w", batch, err)
		}
		h := hashes[i].Val()
		if len(h) == 0 || (filter != nil && !slices.Contains(filter, State(h[fieldState]))) {
			continue
		}
		rec, err := s.itemRecord(ctx, s.keys.Item(batch, id), h, reqs[i].Val())
		if err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	return nil
}

// ignoreNil drops redis.Nil, the answer for a key that does not exist.
func ignoreNil(err error) error {
	if errors.Is(err, redis.Nil) {
		return nil
	}
	return err
}
