package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Update is what a transition records besides the new state. Zero fields are left as
// they are; a new attempt (NewAttempt) is the only thing that clears them.
type Update struct {
	CustomID    string    // set on the way to submitting, before CreateJob is sent
	JobID       string    // the service's job id
	SubmittedAt time.Time // default: now, when moving to submitted
	StartedAt   time.Time // the job's timing.startedAt
	FinishedAt  time.Time // default: now, when moving to a final state

	SongName         string // generation result
	OutputRepository string // contentId of the repository holding the song
	OutputPath       string // destination + "/" + songName
	TrainedModel     string // training result
	Error            string // why the attempt failed; never a URL with a token or a credential
}

// Stored is u as an item of spec stores it: a song's output repository and path are
// left out when they are the spec's content id and destination + "/" + songName, which
// the record reads back in their place (about 70 bytes less per finished song,
// docs/redis-memory.md).
func (u Update) Stored(spec JobSpec) Update {
	if u.SongName == "" {
		return u
	}
	if u.OutputRepository == spec.ContentID {
		u.OutputRepository = ""
	}
	if u.OutputPath == SongPath(spec.Destination, u.SongName) {
		u.OutputPath = ""
	}
	return u
}

// SongPath is where a song named song lands in folder destination.
func SongPath(destination, song string) string {
	return strings.TrimSuffix(destination, "/") + "/" + song
}

func (u Update) pairs(to State, now time.Time) []any {
	if to == StateSubmitted && u.SubmittedAt.IsZero() {
		u.SubmittedAt = now
	}
	if to.Final() && u.FinishedAt.IsZero() {
		u.FinishedAt = now
	}
	out := []any{fieldUpdatedAt, msString(now)}
	add := func(field, v string) {
		if v != "" {
			out = append(out, field, v)
		}
	}
	addTime := func(field string, t time.Time) {
		if !t.IsZero() {
			out = append(out, field, msString(t))
		}
	}
	add(fieldCustomID, u.CustomID)
	add(fieldJobID, u.JobID)
	addTime(fieldSubmittedAt, u.SubmittedAt)
	addTime(fieldStartedAt, u.StartedAt)
	addTime(fieldFinishedAt, u.FinishedAt)
	add(fieldSongName, u.SongName)
	add(fieldOutputRepo, u.OutputRepository)
	add(fieldOutputPath, u.OutputPath)
	add(fieldTrainedModel, u.TrainedModel)
	add(fieldError, u.Error)
	return out
}

// Transition moves an item to state to, recording u, if and only if the item is still
// at the given attempt, is in one of the from states (nil: any), and CanMove allows
// the step. It reports whether this call made the change, and returns the item as it
// is after the call either way.
//
// The check, the change and the batch's counters move in one Lua script, so of any
// number of racing writers (a callback and a poller, two redeliveries of a task) only
// one records a final outcome, and no counter is ever counted twice. A stale writer —
// one holding an older attempt number after singbatch retry — is refused.
//
// When a training reaches completed its model becomes ready in the same step; when it
// reaches failed, the model it was training becomes failed with u.Error. The items
// waiting for it are then released with PendingWaiters and AckWaiters.
//
// ok is false also when this very call's first try moved the item but its reply was
// lost and the client retried. So follow-ups of a final outcome (releasing waiters,
// RecordDuration) should key on the returned record being final, not on ok alone:
// releasing is idempotent, whoever does it.
func (s *Store) Transition(ctx context.Context, batch, id string, attempt int, from []State, to State, u Update) (bool, ItemRecord, error) {
	if !to.Valid() {
		return false, ItemRecord{}, fmt.Errorf("transition %s/%s: unknown state %q", batch, id, to)
	}
	if attempt < 1 {
		return false, ItemRecord{}, fmt.Errorf("transition %s/%s: attempt %d: must be at least 1", batch, id, attempt)
	}
	if from == nil {
		from = States()
	}
	var leave []any
	for _, f := range from {
		if CanMove(f, to) {
			leave = append(leave, string(f))
		}
	}
	if len(leave) == 0 {
		return false, ItemRecord{}, fmt.Errorf("transition %s/%s: no state in %v can move to %s", batch, id, from, to)
	}
	now := s.clock()
	args := append([]any{strconv.Itoa(attempt), string(to), msString(now), u.Error, len(leave)}, leave...)
	args = append(args, u.pairs(to, now)...)
	ok, rec, err := s.runItemScript(ctx, s.transition, batch, id, args, s.keys.BatchSeries(batch))
	if err != nil {
		return false, ItemRecord{}, fmt.Errorf("transition %s/%s to %s: %w", batch, id, to, err)
	}
	return ok, rec, nil
}

// NewAttempt starts the next attempt of an item that is in state onlyFrom, which must
// be final (singbatch retry uses StateFailed): the item goes back to pending with
// attempt+1, its customId, job id, timings (but enqueuedAt, now) and result are
// cleared, and the counters follow, in one step. It reports whether this call did it
// (false: the item is in another state, e.g. a concurrent retry won) and returns the
// item as it is after the call.
//
// A training takes its model name back (state training) — unless another item trains
// it now or it is ready: then nothing changes and the error is a *ModelTakenError,
// returned with the item's record.
func (s *Store) NewAttempt(ctx context.Context, batch, id string, onlyFrom State) (bool, ItemRecord, error) {
	if !onlyFrom.Final() {
		return false, ItemRecord{}, fmt.Errorf("new attempt of %s/%s: only from a final state, not %q", batch, id, onlyFrom)
	}
	ok, rec, err := s.runItemScript(ctx, s.newAttempt, batch, id, []any{string(onlyFrom), s.nowMs()})
	if err != nil {
		return false, rec, fmt.Errorf("new attempt of %s/%s: %w", batch, id, err)
	}
	return ok, rec, nil
}

// runItemScript runs transition.lua or new_attempt.lua, with the item's keys, the
// batch counts, then extra (the script's own), then the model's. A training's model is
// only known inside the script; when it needs the model's keys it says so (-1) and is
// run again with them, so every key a script touches is declared. The model of an
// item never changes, so the second run sees the same one.
func (s *Store) runItemScript(ctx context.Context, sc *redis.Script, batch, id string, args []any, extra ...string) (bool, ItemRecord, error) {
	keys := append([]string{s.keys.Item(batch, id), s.keys.ItemRequest(batch, id), s.keys.BatchCounts(batch)}, extra...)
	for try := 0; ; try++ {
		reply, err := sc.Run(ctx, s.rdb, keys, args...).Slice()
		if err != nil {
			return false, ItemRecord{}, err
		}
		code, _ := reply[0].(int64)
		switch {
		case code == -1 && try == 0 && len(reply) == 2:
			model, _ := reply[1].(string)
			keys = append(keys, s.keys.Model(model), s.keys.Models())
			continue
		case code == -2:
			return false, ItemRecord{}, ErrItemNotFound
		case code == -3 && len(reply) == 4:
			str := func(v any) string { s, _ := v.(string); return s }
			rec, err := s.Item(ctx, batch, id)
			if err != nil {
				return false, ItemRecord{}, err
			}
			return false, rec, &ModelTakenError{Model: rec.Model, State: ModelStatus(str(reply[1])),
				Batch: str(reply[2]), Item: str(reply[3])}
		case (code == 0 || code == 1) && len(reply) == 3:
			h, err := pairsToMap(reply[1])
			if err != nil {
				return false, ItemRecord{}, err
			}
			req, _ := reply[2].(string)
			rec, err := s.itemRecord(ctx, keys[0], h, req)
			if err != nil {
				return false, ItemRecord{}, err
			}
			return code == 1, rec, nil
		}
		return false, ItemRecord{}, fmt.Errorf("unexpected script reply %v", reply)
	}
}

// ErrNoClaimTime means an item's claim was recorded without its Redis time (by an older
// version): the caller falls back to the record's own times.
var ErrNoClaimTime = errors.New("claim recorded without its time")

// ClaimAge is how long ago an attempt of an item was claimed (moved to submitting), on
// Redis's clock: workers' clocks may disagree, and a worker whose clock runs ahead
// must not judge a fresh claim stale and create its job a second time.
func (s *Store) ClaimAge(ctx context.Context, batch, id string, attempt int) (time.Duration, error) {
	ms, err := s.claimAge.Run(ctx, s.rdb, []string{s.keys.Item(batch, id)}, strconv.Itoa(attempt)).Int64()
	if err != nil {
		return 0, fmt.Errorf("claim age of %s/%s: %w", batch, id, err)
	}
	switch ms {
	case -2:
		return 0, fmt.Errorf("claim age of %s/%s attempt %d: %w", batch, id, attempt, ErrItemNotFound)
	case -1:
		return 0, fmt.Errorf("claim age of %s/%s: %w", batch, id, ErrNoClaimTime)
	}
	return time.Duration(ms) * time.Millisecond, nil
}
