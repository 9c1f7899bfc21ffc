package batch

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/upstream"
)

// ModelStatus is where a model's training stands.
//
//	(none) ──► training ──► ready
//	  ▲            │
//	  │            ▼
//	  └──────── failed ──► training   (a new item, or singbatch retry, trains it again)
//
// The built-in model "default" is always ready and has no record.
type ModelStatus string

// Model states.
const (
	ModelUnknown  ModelStatus = ""         // no record: not trained by any batch here
	ModelTraining ModelStatus = "training" // an item of some batch trains it
	ModelReady    ModelStatus = "ready"    // usable
	ModelFailed   ModelStatus = "failed"   // its training failed; may be trained again
)

// ModelRecord is a model's record. Batch and Item name the item that trains (or
// trained) it; they are empty for models marked ready without one (SetModelReady).
type ModelRecord struct {
	Name      string
	State     ModelStatus
	Batch     string
	Item      string
	Error     string    // why its training failed
	UpdatedAt time.Time // last change
}

// ModelTakenError says a training cannot start: its model name is already training or
// trained, and the service wants model names unique.
type ModelTakenError struct {
	Model string
	State ModelStatus // ModelTraining or ModelReady
	Batch string      // who holds the name; empty for "default"
	Item  string
}

func (e *ModelTakenError) Error() string {
	if e.Batch == "" {
		return fmt.Sprintf("model: %q is already %s and cannot be trained again", e.Model, e.State)
	}
	verb := "being trained"
	if e.State == ModelReady {
		verb = "trained"
	}
	return fmt.Sprintf("model: %q is already %s by batch %s item %s; a model name can be trained once",
		e.Model, verb, e.Batch, e.Item)
}

// Waiter is an item waiting for a model's training to end.
type Waiter struct {
	Batch string
	ID    string
}

func modelFromHash(name string, h map[string]string) (ModelRecord, error) {
	if len(h) == 0 {
		return ModelRecord{Name: name, State: ModelUnknown}, nil
	}
	up, err := parseInt(h, fieldUpdatedAt)
	if err != nil {
		return ModelRecord{}, fmt.Errorf("model record %s: %w", name, err)
	}
	return ModelRecord{Name: name, State: ModelStatus(h["state"]), Batch: h["batch"], Item: h["item"],
		Error: h["error"], UpdatedAt: UnixMillis(up).Time()}, nil
}

// ModelState returns a model's record; a model without one has State ModelUnknown.
// "default" is always ready.
func (s *Store) ModelState(ctx context.Context, name string) (ModelRecord, error) {
	if name == upstream.DefaultModel {
		return ModelRecord{Name: name, State: ModelReady}, nil
	}
	h, err := s.rdb.HGetAll(ctx, s.keys.Model(name)).Result()
	if err != nil {
		return ModelRecord{}, fmt.Errorf("model %s: %w", name, err)
	}
	return modelFromHash(name, h)
}

// Models returns every model record, by name. "default" has no record and is not listed.
func (s *Store) Models(ctx context.Context) ([]ModelRecord, error) {
	names, err := s.rdb.SMembers(ctx, s.keys.Models()).Result()
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	sort.Strings(names)
	cmds := make([]*redis.MapStringStringCmd, len(names))
	if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, n := range names {
			cmds[i] = p.HGetAll(ctx, s.keys.Model(n))
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	out := make([]ModelRecord, 0, len(names))
	for i, n := range names {
		m, err := modelFromHash(n, cmds[i].Val())
		if err != nil {
			return nil, err
		}
		if m.State != ModelUnknown {
			out = append(out, m)
		}
	}
	return out, nil
}

// SetModelReady marks a model ready, whatever its record said (the service has it),
// and reports whether that changed anything. Idempotent. A training item reaching
// completed already does this in the same step (Transition); this is for models found
// otherwise, e.g. by ListModels.
func (s *Store) SetModelReady(ctx context.Context, name string) (bool, error) {
	if name == upstream.DefaultModel {
		return false, nil
	}
	return s.setModelState(ctx, name, ModelReady, "")
}

// SetModelFailed marks a training model failed with a reason and reports whether that
// changed anything. Only a training model (or one without record) can fail: a ready
// model stays ready. Idempotent.
func (s *Store) SetModelFailed(ctx context.Context, name, reason string) (bool, error) {
	if name == upstream.DefaultModel {
		return false, errors.New("model default: the built-in model cannot fail")
	}
	return s.setModelState(ctx, name, ModelFailed, reason)
}

func (s *Store) setModelState(ctx context.Context, name string, to ModelStatus, reason string) (bool, error) {
	if err := upstream.ValidModelName(name); err != nil {
		return false, fmt.Errorf("model %q: %w", name, err)
	}
	n, err := s.setModel.Run(ctx, s.rdb, []string{s.keys.Model(name), s.keys.Models()},
		name, string(to), reason, s.nowMs()).Int()
	if err != nil {
		return false, fmt.Errorf("set model %s %s: %w", name, to, err)
	}
	return n == 1, nil
}

// AddWaiter registers an item as waiting for a model, but only while the model is
// training; it returns the model's state either way. When it is not ModelTraining
// the item was not registered and the caller goes on (submit, or fail the item).
//
// The check and the registration are one step, so a waiter can never slip in after
// the releaser's PendingWaiters. Register first, then move the item to waiting: a crash
// in between leaves a pending item that is also a waiter, which is harmless (whoever
// comes first submits it; Transition's guards stop the other).
func (s *Store) AddWaiter(ctx context.Context, model, batch, id string) (ModelStatus, error) {
	return s.addWaiterIf(ctx, model, batch, id, false)
}

// AddWaiterUnknown is AddWaiter that also registers the item while the model has no
// record at all: a song read before the line that trains its model, which a later
// chunk of its enqueue run may still bring. The releaser at the end of that run (or
// the training's, should it come) resubmits it.
func (s *Store) AddWaiterUnknown(ctx context.Context, model, batch, id string) (ModelStatus, error) {
	return s.addWaiterIf(ctx, model, batch, id, true)
}

func (s *Store) addWaiterIf(ctx context.Context, model, batch, id string, unknownToo bool) (ModelStatus, error) {
	if model == upstream.DefaultModel {
		return ModelReady, nil
	}
	if err := ValidBatchName(batch); err != nil {
		return "", err
	}
	unknown := "0"
	if unknownToo {
		unknown = "1"
	}
	st, err := s.addWaiter.Run(ctx, s.rdb, []string{s.keys.Model(model), s.keys.ModelWaiters(model)},
		batch+":"+id, s.nowMs(), unknown).Text()
	if err != nil {
		return "", fmt.Errorf("wait for model %s: item %s/%s: %w", model, batch, id, err)
	}
	return ModelStatus(st), nil
}

// ErrModelChanged says AckWaiters removed nothing: the model's record is no longer the
// one the waiters were read with (it trains again, or changed state). Read them again.
var ErrModelChanged = errors.New("model changed since its waiters were read")

// PendingWaiters returns the oldest items waiting for a model, at most limit, in the
// order they started waiting, together with the model's record read in the same step;
// but only once the model is no longer training (ready or failed): while it trains the
// list is empty.
//
// It removes nothing. The releaser resubmits them, then removes them with AckWaiters,
// so a crash in between leaves them registered for the next releaser (a redelivered
// poll). Concurrent releasers may so get the same waiters: releasing must be idempotent.
func (s *Store) PendingWaiters(ctx context.Context, model string, limit int) (ModelRecord, []Waiter, error) {
	if model == upstream.DefaultModel {
		return ModelRecord{Name: model, State: ModelReady}, nil, nil
	}
	if limit < 1 {
		return ModelRecord{}, nil, fmt.Errorf("waiters of model %s: limit %d: must be at least 1", model, limit)
	}
	reply, err := s.pendingWaiters.Run(ctx, s.rdb, []string{s.keys.Model(model), s.keys.ModelWaiters(model)}, limit).Slice()
	if err != nil {
		return ModelRecord{}, nil, fmt.Errorf("waiters of model %s: %w", model, err)
	}
	if len(reply) != 2 {
		return ModelRecord{}, nil, fmt.Errorf("waiters of model %s: unexpected reply %v", model, reply)
	}
	h, err := pairsToMap(reply[0])
	if err != nil {
		return ModelRecord{}, nil, fmt.Errorf("waiters of model %s: %w", model, err)
	}
	rec, err := modelFromHash(model, h)
	if err != nil {
		return ModelRecord{}, nil, err
	}
	members, _ := reply[1].([]any)
	ws := make([]Waiter, 0, len(members))
	for _, m := range members {
		str, _ := m.(string)
		b, id, _ := strings.Cut(str, ":") // batch names hold no ':'
		ws = append(ws, Waiter{Batch: b, ID: id})
	}
	return rec, ws, nil
}

// AckWaiters removes exactly the waiters ws of model m.Name once they are released, if
// the model's record is still m as PendingWaiters returned it (same state and last
// change). Otherwise it removes nothing and returns ErrModelChanged: once the model
// trains again, a released song may have registered anew as the same member, and
// removing it would leave it waiting for good. Waiters not registered are ignored.
func (s *Store) AckWaiters(ctx context.Context, m ModelRecord, ws []Waiter) error {
	if m.Name == upstream.DefaultModel || len(ws) == 0 {
		return nil
	}
	updated := ""
	if m.State != ModelUnknown {
		updated = msString(m.UpdatedAt)
	}
	args := make([]any, 0, 2+len(ws))
	args = append(args, string(m.State), updated)
	for _, w := range ws {
		args = append(args, w.Batch+":"+w.ID)
	}
	n, err := s.ackWaiters.Run(ctx, s.rdb, []string{s.keys.Model(m.Name), s.keys.ModelWaiters(m.Name)}, args...).Int()
	if err != nil {
		return fmt.Errorf("acknowledge %d waiters of model %s: %w", len(ws), m.Name, err)
	}
	if n < 0 {
		return fmt.Errorf("acknowledge %d waiters of model %s (%s): %w", len(ws), m.Name, m.State, ErrModelChanged)
	}
	return nil
}
