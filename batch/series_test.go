package batch

import (
	"testing"
	"time"
)

func TestSeriesCountsFinalItemsAndCalls(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b", "songs.jsonl", songItems("s", 4)); err != nil {
		t.Fatal(err)
	}
	finish := func(id string, to State) {
		t.Helper()
		if ok, _, err := s.Transition(ctx, "b", id, 1, nil, to, Update{}); !ok || err != nil {
			t.Fatalf("transition %s to %s: %v, %v", id, to, ok, err)
		}
	}
	call := func(id string) {
		t.Helper()
		if err := s.AddCall(ctx, "b", id); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Unix(SeriesBucket(b.clock.Now())*10, 0)
	call("s000000")
	call("s000000")
	finish("s000000", StateCompleted)
	b.clock.Advance(2 * SeriesStep) // two buckets on: the one between is empty
	call("s000001")
	finish("s000001", StateFailed)
	finish("s000002", StateCanceled)
	if ok, _, _ := s.Transition(ctx, "b", "s000002", 1, nil, StateCanceled, Update{}); ok {
		t.Error("a canceled item moved to canceled again") // and would count twice
	}

	got, err := s.Series(ctx, "b")
	if err != nil {
		t.Fatal(err)
	}
	want := []SeriesPoint{
		{Start: start, Finished: 1, Calls: 2},
		{Start: start.Add(SeriesStep)},
		{Start: start.Add(2 * SeriesStep), Finished: 2, Calls: 1},
	}
	if len(got) != len(want) {
		t.Fatalf("series %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Start.Equal(want[i].Start) || got[i].Finished != want[i].Finished || got[i].Calls != want[i].Calls {
			t.Errorf("bucket %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	if ttl := b.rdb.TTL(ctx, b.keys.BatchSeries("b")).Val(); ttl <= 0 || ttl > seriesTTL {
		t.Errorf("series TTL %v, want at most %v", ttl, seriesTTL)
	}
	if none, err := s.Series(ctx, "other"); none != nil || err != nil {
		t.Errorf("series of a batch without one = %v, %v", none, err)
	}
}
