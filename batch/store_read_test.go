package batch

import (
	"errors"
	"fmt"
	"testing"
)

func TestItemsStreamsInManifestOrder(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	// Ids that sort differently from the manifest order, over several pages.
	const n = 1234
	items := make([]Item, n)
	for i := range items {
		items[i] = songItem(fmt.Sprintf("id-%d", (i*7919)%n), i+1)
	}
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", items); err != nil {
		t.Fatal(err)
	}
	var failed []string
	for i := 0; i < n; i += 100 {
		id := items[i].ID
		failed = append(failed, id)
		if ok, _, err := s.Transition(ctx, "b1", id, 1, nil, StateFailed, Update{Error: "x"}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}

	i := 0
	err := s.Items(ctx, "b1", nil, func(r ItemRecord) error {
		if r.ID != items[i].ID || r.Seq != int64(i+1) || r.Origin != items[i].Origin || r.Batch != "b1" {
			return fmt.Errorf("item %d = %s seq %d origin %s, want %s", i, r.ID, r.Seq, r.Origin, items[i].ID)
		}
		i++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if i != n {
		t.Fatalf("visited %d items, want %d", i, n)
	}

	var got []string
	if err := s.Items(ctx, "b1", []State{StateFailed}, func(r ItemRecord) error {
		got = append(got, r.ID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(failed) {
		t.Errorf("failed items = %v, want %v", got, failed)
	}

	stop := errors.New("stop")
	visits := 0
	if err := s.Items(ctx, "b1", nil, func(ItemRecord) error { visits++; return stop }); !errors.Is(err, stop) || visits != 1 {
		t.Errorf("fn's error: %v after %d visits", err, visits)
	}
	if err := s.Items(ctx, "nope", nil, func(ItemRecord) error { return nil }); !errors.Is(err, ErrBatchNotFound) {
		t.Errorf("unknown batch: %v", err)
	}
	if _, err := s.Item(ctx, "b1", "nope"); !errors.Is(err, ErrItemNotFound) {
		t.Errorf("unknown item: %v", err)
	}
}

// ItemsByID reads several records in the order asked, each as Item reads it, and leaves
// out the ids that are not there.
func TestItemsByID(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	items := []Item{songItem("a", 1), songItem("b", 2), songItem("c", 3)}
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", items); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := s.Transition(ctx, "b1", "b", 1, nil, StateFailed, Update{Error: "x"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	got, err := s.ItemsByID(ctx, "b1", []string{"c", "nope", "b"})
	if err != nil || len(got) != 2 {
		t.Fatalf("ItemsByID = %d records, %v; want 2", len(got), err)
	}
	for i, id := range []string{"c", "b"} {
		one, err := s.Item(ctx, "b1", id)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprintf("%+v", got[i]) != fmt.Sprintf("%+v", one) {
			t.Errorf("record %d = %+v, want %+v", i, got[i], one)
		}
	}
	if got, err := s.ItemsByID(ctx, "b1", nil); err != nil || len(got) != 0 {
		t.Errorf("no ids: %v, %v", got, err)
	}
}
