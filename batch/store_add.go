package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/upstream"
)

// addChunkSize is how many items one AddItems round trip (one script call) carries:
// large enough that a 1 M-line manifest needs only 2000 round trips, small enough that
// one script never blocks Redis for long.
const addChunkSize = 500

// AddResult is what AddItems did.
type AddResult struct {
	Added    int       // new items, now pending with attempt 1
	Existing int       // ids already in the batch, left untouched
	Refused  []Refused // trainings not added because their model name is taken
	// Duplicates are items whose id this same run (AddRun) stored already, from an
	// earlier line: left alone, counted neither as added nor as existing.
	Duplicates []Duplicate
}

// Duplicate is a manifest line whose id an earlier line of the same run used.
type Duplicate struct {
	ID          string
	Origin      string // "FILE:LINE" of the duplicate line
	FirstOrigin string // "FILE:LINE" of the line that stored the id
	DerivedID   bool   // the id was derived from the line's content (Item.DerivedID)
}

// LineError reports the duplicate as the manifest reader does without
// WithoutDuplicateCheck, naming the first line too.
func (d Duplicate) LineError() *LineError {
	le := &LineError{File: d.Origin, Field: "id",
		Reason: fmt.Sprintf("duplicate id %q in this batch (first at %s)", d.ID, d.FirstOrigin)}
	if i := strings.LastIndexByte(d.Origin, ':'); i >= 0 {
		le.File = d.Origin[:i]
		le.Line, _ = strconv.Atoi(d.Origin[i+1:]) // origins are built as FILE:LINE
	}
	if d.DerivedID {
		le.Field = "line"
		le.Reason = fmt.Sprintf("same item as an earlier line (derived id %q) (first at %s)", d.ID, d.FirstOrigin)
	}
	return le
}

// AddOption changes what AddItems does.
type AddOption func(*addConfig)

type addConfig struct {
	run string
}

// AddRun marks the new items with the token of one enqueue run, which should be
// random and unique per run. An item id that the same token already stored is then a
// duplicate line of the run (AddResult.Duplicates), not an existing item: this finds
// duplicate ids in Redis rather than in the reader's memory. Items of other runs
// (earlier or concurrent ones) stay existing, and are only marked as read by this
// run: the item's "run" field holds the token of the last run that stored or read it,
// so that a manifest enqueued again reports its duplicate lines again. Two concurrent
// runs reading the same ids may take each other's mark: a duplicate line of one of them
// may then count as existing instead (it is still stored once, and its task queued
// once).
func AddRun(token string) AddOption {
	return func(c *addConfig) { c.run = token }
}

// Refused is an item AddItems did not add.
type Refused struct {
	ID     string
	Origin string // "FILE:LINE"
	Err    error  // a *ModelTakenError
}

// String is printable as is: "FILE:LINE: item ID: model: ...".
func (r Refused) String() string {
	return fmt.Sprintf("%s: item %s: %v", r.Origin, r.ID, r.Err)
}

// CreateBatch records a batch if it does not exist yet and reports whether it did not.
func (s *Store) CreateBatch(ctx context.Context, name string) (bool, error) {
	if err := ValidBatchName(name); err != nil {
		return false, err
	}
	now := s.nowMs()
	var added *redis.IntCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		added = p.SAdd(ctx, s.keys.Batches(), name) // 1 only for a new batch
		p.HSetNX(ctx, s.keys.Batch(name), "name", name)
		p.HSetNX(ctx, s.keys.Batch(name), "created", now)
		p.HSetNX(ctx, s.keys.Batch(name), "total", 0)
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("create batch %s: %w", name, err)
	}
	return added.Val() == 1, nil
}

// AddItems adds items read from manifest to a batch, creating the batch if needed.
//
// It is idempotent: an id already in the batch is counted as existing and neither
// re-added nor reset, so enqueueing the same manifest twice adds nothing, and a second
// manifest adds only its new ids (with AddRun, an id stored by the same run is a
// duplicate line instead, see AddRun). New items get the next seq numbers (manifest order),
// state pending, attempt 1, and the batch's pending counter grows with them.
//
// Items go to Redis in chunks of 500, one round trip each; each chunk is atomic, the
// whole call is not (a crash midway leaves the first chunks added, and re-running
// adds the rest). Item requests are stored without CustomID and Callback, in encoding
// v2 (jobspec_v2.go): in the item's hash when short, else under Keys.ItemRequest.
//
// A training registers its model as training, owned by that item. When the model name
// is already training or ready (another item, this batch or another, trains or trained
// it; or it is the built-in "default"), the item is not added and is listed in
// Refused for the caller to print: the service requires model names to be unique, and
// paying for a second training of the same name could only fail or overwrite. A model
// whose training failed may be trained again by a new item. Re-reading a manifest
// refuses the same items again, until their model's training fails.
//
// An invalid batch name or item (no id, unknown kind, training without model) fails
// the whole call before anything is written.
func (s *Store) AddItems(ctx context.Context, batch, manifest string, items []Item, opts ...AddOption) (AddResult, error) {
	var cfg addConfig
	for _, o := range opts {
		o(&cfg)
	}
	if err := ValidBatchName(batch); err != nil {
		return AddResult{}, err
	}
	if manifest == "" {
		return AddResult{}, errors.New("add items: manifest name required")
	}
	for _, it := range items {
		if err := checkItem(it); err != nil {
			return AddResult{}, err
		}
	}
	var res AddResult
	for start := 0; start == 0 || start < len(items); start += addChunkSize {
		end := min(start+addChunkSize, len(items))
		if err := s.addChunk(ctx, batch, manifest, cfg.run, items[start:end], &res); err != nil {
			return res, fmt.Errorf("add items of %s to batch %s: %w", manifest, batch, err)
		}
	}
	return res, nil
}

func checkItem(it Item) error {
	switch {
	case it.ID == "":
		return fmt.Errorf("%s: id: required", it.Origin)
	case it.Kind != KindSong && it.Kind != KindTrain:
		return fmt.Errorf("%s: kind: must be %q or %q, not %q", it.Origin, KindSong, KindTrain, it.Kind)
	case it.Kind == KindTrain && it.Model == "":
		return fmt.Errorf("%s: model: required for a training", it.Origin)
	}
	return nil
}

func (s *Store) addChunk(ctx context.Context, batch, manifest, run string, items []Item, res *AddResult) error {
	send := make([]Item, 0, len(items))
	var refused []Refused
	for _, it := range items {
		if it.Kind == KindTrain && it.Model == upstream.DefaultModel {
			refused = append(refused, Refused{ID: it.ID, Origin: it.Origin,
				Err: &ModelTakenError{Model: it.Model, State: ModelReady}})
			continue
		}
		send = append(send, it)
	}
	keys := make([]string, 6, 6+2*len(send)+4)
	keys[0], keys[1], keys[2] = s.keys.Batches(), s.keys.Batch(batch), s.keys.BatchCounts(batch)
	keys[3], keys[4], keys[5] = s.keys.BatchOrder(batch), s.keys.BatchManifests(batch), s.keys.Models()
	for _, it := range send {
		keys = append(keys, s.keys.Item(batch, it.ID))
	}
	for _, it := range send {
		keys = append(keys, s.keys.ItemRequest(batch, it.ID))
	}
	modelIdx := map[string]int{} // model name -> 1-based KEYS index
	args := make([]any, 0, 6+6*len(send))
	args = append(args, batch, s.nowMs(), manifest, len(send), len(items)-len(send), run)
	for _, it := range send {
		body, err := encodeSpecV2(it.ID, it.Spec)
		if err != nil {
			return fmt.Errorf("%s: %w", it.Origin, err)
		}
		mk := 0
		if it.Kind == KindTrain {
			if mk = modelIdx[it.Model]; mk == 0 {
				keys = append(keys, s.keys.Model(it.Model))
				mk = len(keys)
				modelIdx[it.Model] = mk
			}
		}
		args = append(args, it.ID, string(it.Kind), it.Model, it.Origin, string(body), mk)
	}
	reply, err := s.addItems.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return err
	}
	added, existing, more, dups, err := parseAddReply(reply, send)
	if err != nil {
		return err
	}
	res.Duplicates = append(res.Duplicates, dups...)
	res.Added += added
	res.Existing += existing
	// Report refusals in manifest order.
	pos := make(map[string]int, len(items))
	for i := len(items) - 1; i >= 0; i-- {
		pos[items[i].ID] = i
	}
	refused = append(refused, more...)
	sort.SliceStable(refused, func(i, j int) bool { return pos[refused[i].ID] < pos[refused[j].ID] })
	res.Refused = append(res.Refused, refused...)
	return nil
}

// parseAddReply decodes add_items.lua's {added, existing, {refusal fields...},
// {duplicate index, first origin, ...}}; sent are the items the script got.
func parseAddReply(reply []any, sent []Item) (added, existing int, refused []Refused, dups []Duplicate, err error) {
	if len(reply) != 4 {
		return 0, 0, nil, nil, fmt.Errorf("unexpected add_items reply of %d elements", len(reply))
	}
	a, ok1 := reply[0].(int64)
	e, ok2 := reply[1].(int64)
	list, ok3 := reply[2].([]any)
	dlist, ok4 := reply[3].([]any)
	if !ok1 || !ok2 || !ok3 || !ok4 || len(list)%6 != 0 || len(dlist)%2 != 0 {
		return 0, 0, nil, nil, fmt.Errorf("unexpected add_items reply %v", reply)
	}
	str := func(v any) string { s, _ := v.(string); return s }
	for i := 0; i < len(list); i += 6 {
		refused = append(refused, Refused{ID: str(list[i]), Origin: str(list[i+1]), Err: &ModelTakenError{
			Model: str(list[i+2]), State: ModelStatus(str(list[i+3])), Batch: str(list[i+4]), Item: str(list[i+5]),
		}})
	}
	for i := 0; i < len(dlist); i += 2 {
		idx, ok := dlist[i].(int64)
		if !ok || idx < 0 || int(idx) >= len(sent) {
			return 0, 0, nil, nil, fmt.Errorf("unexpected add_items duplicate %v", dlist[i])
		}
		it := sent[idx]
		dups = append(dups, Duplicate{ID: it.ID, Origin: it.Origin, FirstOrigin: str(dlist[i+1]), DerivedID: it.DerivedID})
	}
	return int(a), int(e), refused, dups, nil
}
