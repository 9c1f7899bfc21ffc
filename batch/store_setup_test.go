package batch

import (
	"fmt"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
)

// testClock is a settable clock; the records keep the times it gives.
type testClock struct{ ms atomic.Int64 }

func (c *testClock) Now() time.Time          { return time.UnixMilli(c.ms.Load()) }
func (c *testClock) Advance(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func newTestClock(t time.Time) *testClock    { c := &testClock{}; c.ms.Store(t.UnixMilli()); return c }

// storeBundle is what a store test may inspect besides the store (river-style bundle).
type storeBundle struct {
	rdb   *redis.Client
	keys  keyspace.Keys
	clock *testClock
}

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC)

var nonWord = regexp.MustCompile(`[^0-9A-Za-z_]+`)

// setupStore starts a private redis-server and a store on it with a prefix of the
// test's own, so that even a shared server would keep tests apart.
func setupStore(t testing.TB) (*Store, *storeBundle) {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	b := &storeBundle{
		rdb:   srv.Client(t),
		keys:  keyspace.Keys{Prefix: "t_" + nonWord.ReplaceAllString(t.Name(), "_")},
		clock: newTestClock(t0),
	}
	return NewStore(b.rdb, b.keys, b.clock.Now), b
}

func songItem(id string, line int) Item {
	return Item{
		ID: id, Kind: KindSong, Model: upstream.DefaultModel, Origin: fmt.Sprintf("songs.jsonl:%d", line),
		Spec: JobSpec{
			Inputs:    []Input{{URL: "https://example.com/in/" + id + ".mp3"}},
			ContentID: "repo1", Destination: "/out/" + id,
		},
	}
}

func trainItem(id, model string, line int) Item {
	return Item{
		ID: id, Kind: KindTrain, Model: model, Origin: fmt.Sprintf("train.jsonl:%d", line),
		Spec: JobSpec{Inputs: []Input{{URL: "https://example.com/voice/" + id + ".wav"}}, Epochs: 30},
	}
}

func songItems(prefix string, n int) []Item {
	items := make([]Item, n)
	for i := range items {
		items[i] = songItem(fmt.Sprintf("%s%06d", prefix, i), i+1)
	}
	return items
}

// checkCounts asserts the batch's counters: want lists the non-zero ones, and they
// must sum to the total.
func checkCounts(t *testing.T, s *Store, batch string, want map[State]int64) {
	t.Helper()
	b, err := s.Batch(t.Context(), batch)
	if err != nil {
		t.Fatalf("Batch: %v", err)
	}
	var sum, wantTotal int64
	for _, st := range States() {
		sum += b.Counts[st]
		wantTotal += want[st]
		if b.Counts[st] != want[st] {
			t.Errorf("count %s = %d, want %d (all: %v)", st, b.Counts[st], want[st], b.Counts)
		}
	}
	if sum != b.Total || b.Total != wantTotal {
		t.Errorf("counts sum to %d, total %d, want %d", sum, b.Total, wantTotal)
	}
}
