package batch

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// ItemStates agrees with Item for every item, in the order asked, across several
// pipelines, and marks unknown ids instead of failing.
func TestItemStates(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	const n = 1100 // three pipelines of statesChunk
	items := songItems("s", n)
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", items); err != nil {
		t.Fatal(err)
	}
	move := func(id string, attempt int, to State) {
		t.Helper()
		if ok, _, err := s.Transition(ctx, "b1", id, attempt, nil, to, Update{CustomID: "c", Error: "x"}); !ok || err != nil {
			t.Fatalf("%s to %s: %v %v", id, to, ok, err)
		}
	}
	for i := 0; i < n; i += 7 {
		move(items[i].ID, 1, StateSubmitting)
	}
	for i := 3; i < n; i += 11 {
		move(items[i].ID, 1, StateFailed)
		if i%2 == 1 {
			if ok, _, err := s.NewAttempt(ctx, "b1", items[i].ID, StateFailed); !ok || err != nil {
				t.Fatal(ok, err)
			}
		}
	}
	// Backwards, with unknown ids among them, and one id of another batch.
	if _, err := s.AddItems(ctx, "b2", "other.jsonl", []Item{songItem("only-b2", 1)}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := n - 1; i >= 0; i-- {
		ids = append(ids, items[i].ID)
		if i%100 == 0 {
			ids = append(ids, fmt.Sprintf("nope-%d", i), "only-b2")
		}
	}
	states, err := s.ItemStates(ctx, "b1", ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(states) != len(ids) {
		t.Fatalf("%d states for %d ids", len(states), len(ids))
	}
	seen := map[State]int{}
	for i, id := range ids {
		got := states[i]
		rec, err := s.Item(ctx, "b1", id)
		if errors.Is(err, ErrItemNotFound) {
			if got != (ItemState{}) {
				t.Errorf("%s: unknown item, state %+v", id, got)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if want := (ItemState{Exists: true, State: rec.State, Attempt: rec.Attempt}); got != want {
			t.Errorf("%s: %+v, want %+v", id, got, want)
		}
		seen[got.State]++
		if got.Attempt == 2 {
			seen["attempt 2"]++
		}
	}
	if len(seen) != 4 || seen[StatePending] == 0 || seen["attempt 2"] == 0 {
		t.Errorf("states seen: %v; the test should cover pending, submitting, failed, and a second attempt", seen)
	}

	if got, err := s.ItemStates(ctx, "b1", nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v %v", got, err)
	}

	// A damaged record is an error naming it.
	if err := b.rdb.HSet(ctx, b.keys.Item("b1", items[5].ID), "attempt", "x").Err(); err != nil {
		t.Fatal(err)
	}
	_, err = s.ItemStates(ctx, "b1", ids)
	if err == nil || !strings.Contains(err.Error(), b.keys.Item("b1", items[5].ID)) {
		t.Errorf("damaged attempt: %v", err)
	}
}

// BenchmarkItemStates reads the state of 500 existing items, as a repeat enqueue does
// per chunk: one ItemStates call, against one Item call per item before it.
func BenchmarkItemStates(b *testing.B) {
	s, _ := setupStore(b)
	ctx := b.Context()
	items := songItems("x", statesChunk)
	if _, err := s.AddItems(ctx, "bench", "big.jsonl", items); err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	b.Run("ItemStates", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.ItemStates(ctx, "bench", ids); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "items/s")
	})
	b.Run("Item", func(b *testing.B) {
		for b.Loop() {
			for _, id := range ids {
				if _, err := s.Item(ctx, "bench", id); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.N*len(ids))/b.Elapsed().Seconds(), "items/s")
	})
}
