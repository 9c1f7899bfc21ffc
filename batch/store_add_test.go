package batch

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestAddItemsTwiceAddsNothing(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	items := songItems("s", 1203) // three chunks, the last one partial

	res, err := s.AddItems(ctx, "b1", "songs.jsonl", items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1203 || res.Existing != 0 || len(res.Refused) != 0 {
		t.Fatalf("first add: %+v, want 1203 new", res)
	}
	b.clock.Advance(time.Minute)
	res, err = s.AddItems(ctx, "b1", "songs.jsonl", items)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Existing != 1203 {
		t.Fatalf("second add: %+v, want 0 new, 1203 existing", res)
	}
	checkCounts(t, s, "b1", map[State]int64{StatePending: 1203})

	rec, err := s.Batch(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	want := []ManifestRead{{File: "songs.jsonl", First: t0, Last: t0.Add(time.Minute), Added: 1203, Existing: 1203}}
	if len(rec.Manifests) != 1 || !manifestEqual(rec.Manifests[0], want[0]) {
		t.Errorf("manifests = %+v, want %+v", rec.Manifests, want)
	}
	if !rec.Created.Equal(t0) || rec.Name != "b1" || rec.Done() {
		t.Errorf("batch record = %+v", rec)
	}
}

func manifestEqual(a, b ManifestRead) bool {
	return a.File == b.File && a.First.Equal(b.First) && a.Last.Equal(b.Last) &&
		a.Added == b.Added && a.Existing == b.Existing && a.Refused == b.Refused
}

func TestAddSecondManifestAddsOnlyNewItems(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "one.jsonl", []Item{songItem("a", 1), songItem("b", 2), songItem("c", 3)}); err != nil {
		t.Fatal(err)
	}
	// Move b on, so that re-adding it could be seen to reset it.
	if ok, _, err := s.Transition(ctx, "b1", "b", 1, nil, StateSubmitting, Update{CustomID: "cid-b"}); !ok || err != nil {
		t.Fatalf("transition b: %v %v", ok, err)
	}
	b.clock.Advance(time.Second)
	res, err := s.AddItems(ctx, "b1", "two.jsonl", []Item{songItem("b", 1), songItem("d", 2), songItem("c", 3), songItem("e", 4)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || res.Existing != 2 {
		t.Fatalf("second manifest: %+v, want 2 new, 2 existing", res)
	}
	checkCounts(t, s, "b1", map[State]int64{StatePending: 4, StateSubmitting: 1})

	var got []string
	if err := s.Items(ctx, "b1", nil, func(r ItemRecord) error {
		got = append(got, r.ID+"/"+string(r.State))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "a/pending b/submitting c/pending d/pending e/pending"
	if strings.Join(got, " ") != want {
		t.Errorf("items = %v, want %s", got, want)
	}
	d, err := s.Item(ctx, "b1", "d")
	if err != nil {
		t.Fatal(err)
	}
	if d.Seq != 4 || d.Origin != "songs.jsonl:2" || d.Attempt != 1 || !d.EnqueuedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("item d = %+v", d)
	}
	rec, err := s.Batch(ctx, "b1")
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Manifests) != 2 || rec.Manifests[0].File != "one.jsonl" || rec.Manifests[1].File != "two.jsonl" ||
		rec.Manifests[1].Added != 2 || rec.Manifests[1].Existing != 2 {
		t.Errorf("manifests = %+v", rec.Manifests)
	}
}

// The spec comes back as it went in, in its stored encoding v2 (jobspec_v2.go): a short
// one in the item's hash, which stays a listpack, a long one under its own key; a spec
// stored in encoding v1 by an earlier release still reads.
func TestAddItemsStoresTheSpec(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	short := songItem("a", 1)
	short.Spec.Destination = DefaultDestination("a")
	long := songItem("b", 2)
	long.Spec.Separate, long.Spec.Timeout, long.Spec.OutputPrefix = true, time.Minute, "p_"
	long.Spec.Inputs = []Input{{URL: "https://example.com/in/" + strings.Repeat("x", 60) + ".mp3"}}
	text := songItem("c", 3)
	text.Spec.Inputs = []Input{{Text: "la la la"}}
	train := trainItem("t", "m1", 4)
	train.Spec.Inputs = append(train.Spec.Inputs, Input{Source: &Source{ContentID: "c", Path: "/v.wav"}}, Input{Text: "t"})
	items := []Item{short, long, text, train}
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", items); err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		h, err := b.rdb.HGetAll(ctx, b.keys.Item("b1", it.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		n, err := b.rdb.Exists(ctx, b.keys.ItemRequest("b1", it.ID)).Result()
		if err != nil {
			t.Fatal(err)
		}
		enc, err := encodeSpecV2(it.ID, it.Spec)
		if err != nil {
			t.Fatal(err)
		}
		if inHash := h[fieldSpec] != ""; inHash == (n == 1) || inHash != (len(enc) <= 64) || (it.ID == "b" || it.ID == "t") == inHash {
			t.Errorf("%s: spec %q in the hash, request key %d; want the hash for a spec of at most 64 bytes", it.ID, h[fieldSpec], n)
		}
		if e, _ := b.rdb.ObjectEncoding(ctx, b.keys.Item("b1", it.ID)).Result(); e != "listpack" && e != "ziplist" {
			t.Errorf("%s: item hash is a %s", it.ID, e)
		}
		rec, err := s.Item(ctx, "b1", it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(rec.Spec, it.Spec) {
			t.Errorf("%s: read back %+v, want %+v", it.ID, rec.Spec, it.Spec)
		}
		if rec.UpdatedAt.IsZero() || !rec.UpdatedAt.Equal(rec.EnqueuedAt) {
			t.Errorf("%s: updated %v, enqueued %v; want both", it.ID, rec.UpdatedAt, rec.EnqueuedAt)
		}
	}
	if raw, _ := b.rdb.HGet(ctx, b.keys.Item("b1", "a"), fieldSpec).Result(); raw != `{"u":"https://example.com/in/a.mp3","c":"repo1"}` {
		t.Errorf("stored %s", raw)
	}

	// An item stored by an earlier release: encoding v1 under its own key.
	old := songItem("v1", 5)
	old.Spec.Separate = true
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{old}); err != nil {
		t.Fatal(err)
	}
	v1, _ := EncodeSpec(old.Kind, old.Model, old.Spec)
	if err := b.rdb.HDel(ctx, b.keys.Item("b1", "v1"), fieldSpec).Err(); err != nil {
		t.Fatal(err)
	}
	if err := b.rdb.Set(ctx, b.keys.ItemRequest("b1", "v1"), v1, 0).Err(); err != nil {
		t.Fatal(err)
	}
	rec, err := s.Item(ctx, "b1", "v1")
	if err != nil || !reflect.DeepEqual(rec.Spec, old.Spec) {
		t.Errorf("v1 record read back %+v (%v), want %+v", rec.Spec, err, old.Spec)
	}
}

func TestAddItemsRejectsBadInputBeforeWriting(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	noID := songItem("", 7)
	badKind := songItem("x", 8)
	badKind.Kind = "sing"
	for name, tc := range map[string]struct {
		batch string
		items []Item
		want  string
	}{
		"batch with colon": {"a:b", []Item{songItem("a", 1)}, `batch name "a:b"`},
		"empty batch":      {"", []Item{songItem("a", 1)}, "batch name: required"},
		"no id":            {"b1", []Item{songItem("a", 1), noID}, "songs.jsonl:7: id: required"},
		"bad kind":         {"b1", []Item{badKind}, `songs.jsonl:8: kind: must be "song" or "train", not "sing"`},
		"train no model":   {"b1", []Item{trainItem("t", "", 9)}, "train.jsonl:9: model: required"},
	} {
		_, err := s.AddItems(ctx, tc.batch, "songs.jsonl", tc.items)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want it to contain %q", name, err, tc.want)
		}
	}
	if n, _ := b.rdb.Exists(ctx, b.keys.Batch("b1"), b.keys.Batches()).Result(); n != 0 {
		t.Errorf("a refused call wrote %d keys", n)
	}
}

func TestAddItemsRefusesSecondTrainingOfAModel(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	res, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{
		trainItem("t1", "alice", 1),
		trainItem("t2", "alice", 2), // same model, same chunk
		trainItem("t3", "default", 3),
		songItem("s1", 4),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 2 || len(res.Refused) != 2 {
		t.Fatalf("add: %+v, want t1 and s1 added, t2 and t3 refused", res)
	}
	var refused []string
	for _, r := range res.Refused {
		refused = append(refused, r.String())
	}
	want := []string{
		`train.jsonl:2: item t2: model: "alice" is already being trained by batch b1 item t1; a model name can be trained once`,
		`train.jsonl:3: item t3: model: "default" is already ready and cannot be trained again`,
	}
	if strings.Join(refused, "\n") != strings.Join(want, "\n") {
		t.Errorf("refused:\n%s\nwant:\n%s", strings.Join(refused, "\n"), strings.Join(want, "\n"))
	}
	var taken *ModelTakenError
	if !errors.As(res.Refused[0].Err, &taken) || taken.State != ModelTraining || taken.Batch != "b1" || taken.Item != "t1" {
		t.Errorf("refusal error = %#v", res.Refused[0].Err)
	}
	m, err := s.ModelState(ctx, "alice")
	if err != nil || m.State != ModelTraining || m.Batch != "b1" || m.Item != "t1" {
		t.Fatalf("model alice = %+v, %v", m, err)
	}

	// Another batch cannot train it either, while it trains.
	res, err = s.AddItems(ctx, "b2", "train.jsonl", []Item{trainItem("t1", "alice", 1)})
	if err != nil || res.Added != 0 || len(res.Refused) != 1 {
		t.Fatalf("b2 add: %+v, %v; want refused", res, err)
	}
	rec, _ := s.Batch(ctx, "b2")
	if rec.Manifests[0].Refused != 1 {
		t.Errorf("b2 manifests = %+v, want 1 refused", rec.Manifests)
	}

	// Once its training failed, a new item may train it again and owns it.
	if ok, _, err := s.Transition(ctx, "b1", "t1", 1, nil, StateFailed, Update{Error: "bad audio"}); !ok || err != nil {
		t.Fatalf("fail t1: %v %v", ok, err)
	}
	res, err = s.AddItems(ctx, "b2", "train.jsonl", []Item{trainItem("t1", "alice", 1)})
	if err != nil || res.Added != 1 || len(res.Refused) != 0 {
		t.Fatalf("b2 add after failure: %+v, %v", res, err)
	}
	m, _ = s.ModelState(ctx, "alice")
	if m.State != ModelTraining || m.Batch != "b2" || m.Item != "t1" || m.Error != "" {
		t.Errorf("model alice = %+v, want training by b2/t1", m)
	}
}

func TestCreateBatch(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	for i, want := range []bool{true, false} {
		created, err := s.CreateBatch(ctx, "b1")
		if err != nil || created != want {
			t.Fatalf("call %d: created %v, %v; want %v", i, created, err, want)
		}
	}
	checkCounts(t, s, "b1", nil)
	if _, err := s.Batch(ctx, "nope"); !errors.Is(err, ErrBatchNotFound) {
		t.Errorf("Batch(nope) err = %v, want ErrBatchNotFound", err)
	}
	if _, err := s.CreateBatch(ctx, "a b"); err == nil {
		t.Error("CreateBatch accepted a name with a space")
	}
}

func TestBatchesOldestFirst(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	for _, name := range []string{"zeta", "alpha", "mid"} {
		if _, err := s.AddItems(ctx, name, "m.jsonl", songItems(name, 2)); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Second)
	}
	bs, err := s.Batches(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range bs {
		names = append(names, r.Name)
		if r.Total != 2 {
			t.Errorf("%s total = %d", r.Name, r.Total)
		}
	}
	if strings.Join(names, ",") != "zeta,alpha,mid" {
		t.Errorf("batches = %v, want creation order", names)
	}
}

func TestAddItemsRunFindsDuplicates(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	a2 := songItem("a", 2)
	a2.Spec.Inputs[0].URL = "https://example.com/other.mp3" // same id, other content
	k := songItem("k-0123456789abcdef", 4)
	k.DerivedID = true
	k5 := k
	k5.Origin = "songs.jsonl:5"
	// Within one chunk, and across calls (chunks, manifests) of the same run.
	res, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1), a2, songItem("b", 3), k, k5}, AddRun("run1"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3 || res.Existing != 0 || len(res.Refused) != 0 {
		t.Fatalf("first chunk: %+v, want 3 new", res)
	}
	more := songItem("b", 1)
	more.Origin = "more.jsonl:1"
	res2, err := s.AddItems(ctx, "b1", "more.jsonl", []Item{more, songItem("c", 2)}, AddRun("run1"))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Added != 1 || res2.Existing != 0 {
		t.Fatalf("second chunk: %+v, want 1 new", res2)
	}
	var got []string
	for _, d := range append(res.Duplicates, res2.Duplicates...) {
		got = append(got, d.LineError().Error())
	}
	if want := []string{
		`songs.jsonl:2: id: duplicate id "a" in this batch (first at songs.jsonl:1)`,
		`songs.jsonl:5: line: same item as an earlier line (derived id "k-0123456789abcdef") (first at songs.jsonl:4)`,
		`more.jsonl:1: id: duplicate id "b" in this batch (first at songs.jsonl:3)`,
	}; !slices.Equal(got, want) {
		t.Errorf("duplicates:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	rec, err := s.Item(ctx, "b1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Origin != "songs.jsonl:1" || rec.Spec.Inputs[0].URL != "https://example.com/in/a.mp3" {
		t.Errorf("duplicate line touched the item: %+v", rec)
	}
	checkCounts(t, s, "b1", map[State]int64{StatePending: 4})

	// Another run (a repeat, or a concurrent one) finds existing items, not
	// duplicates, and then its own duplicate lines again.
	res, err = s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1), a2, songItem("d", 6)}, AddRun("run2"))
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1 || res.Existing != 1 || len(res.Duplicates) != 1 || res.Duplicates[0].Origin != "songs.jsonl:2" {
		t.Fatalf("second run: %+v, want 1 new, 1 existing, line 2 a duplicate", res)
	}
	// Without a run, every stored id is existing, as before.
	res, err = s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1), a2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 0 || res.Existing != 2 || len(res.Duplicates) != 0 {
		t.Fatalf("no run: %+v, want 2 existing", res)
	}
}

// A batch begun by an earlier release keeps its first items in a sorted set
// (Keys.BatchItems); items added now go to the list (Keys.BatchOrder), the old ones
// are still found as existing, and Items walks both in seq order.
func TestItemsOfABatchBegunWithTheSortedSet(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	first := songItems("a", 3)
	if _, err := s.AddItems(ctx, "b1", "one.jsonl", first); err != nil {
		t.Fatal(err)
	}
	// As the earlier release left it: the ids in the sorted set, scored by seq.
	ids, err := b.rdb.LRange(ctx, b.keys.BatchOrder("b1"), 0, -1).Result()
	if err != nil || len(ids) != 3 {
		t.Fatalf("order list %v, %v", ids, err)
	}
	for i, id := range ids {
		if err := b.rdb.ZAdd(ctx, b.keys.BatchItems("b1"), redis.Z{Score: float64(i + 1), Member: id}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.rdb.Del(ctx, b.keys.BatchOrder("b1")).Err(); err != nil {
		t.Fatal(err)
	}
	res, err := s.AddItems(ctx, "b1", "two.jsonl", append(songItems("a", 2), songItems("z", 2)...))
	if err != nil || res.Added != 2 || res.Existing != 2 {
		t.Fatalf("AddItems = %+v, %v; want 2 added, 2 existing", res, err)
	}
	var got []string
	if err := s.Items(ctx, "b1", nil, func(r ItemRecord) error {
		got = append(got, fmt.Sprintf("%s:%d", r.ID, r.Seq))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := "a000000:1 a000001:2 a000002:3 z000000:4 z000001:5"; strings.Join(got, " ") != want {
		t.Errorf("Items = %v, want %s", got, want)
	}
}
