package batch

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// statesChunk is how many items ItemStates reads per round trip.
const statesChunk = 500

// ItemState is the part of an item's record that says where it is: enough to decide
// whether its submit task is due, without reading the whole record.
type ItemState struct {
	Exists  bool // false: no such item in the batch (State and Attempt are zero)
	State   State
	Attempt int
}

// ItemStates returns the state and attempt of each of ids, in the same order: one
// HMGET per item, pipelined 500 to a round trip, where Item reads the whole record and
// request in a round trip per item. An item without a record is not an error: its
// ItemState has Exists false. Each chunk is read in one pipeline, not atomically with
// the others.
func (s *Store) ItemStates(ctx context.Context, batch string, ids []string) ([]ItemState, error) {
	out := make([]ItemState, len(ids))
	cmds := make([]*redis.SliceCmd, min(len(ids), statesChunk))
	for start := 0; start < len(ids); start += statesChunk {
		chunk := ids[start:min(start+statesChunk, len(ids))]
		if _, err := s.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, id := range chunk {
				cmds[i] = p.HMGet(ctx, s.keys.Item(batch, id), fieldState, fieldAttempt)
			}
			return nil
		}); err != nil {
			return nil, fmt.Errorf("item states of batch %s: %w", batch, err)
		}
		for i, id := range chunk {
			st, err := itemStateFrom(cmds[i].Val())
			if err != nil {
				return nil, fmt.Errorf("item record %s: %w", s.keys.Item(batch, id), err)
			}
			out[start+i] = st
		}
	}
	return out, nil
}

// itemStateFrom decodes HMGET state attempt: nil for a missing field, and both nil for
// a missing record.
func itemStateFrom(vals []any) (ItemState, error) {
	if len(vals) != 2 {
		return ItemState{}, fmt.Errorf("unexpected HMGET reply of %d values", len(vals))
	}
	state, hasState := vals[0].(string)
	attempt, hasAttempt := vals[1].(string)
	st := ItemState{Exists: hasState || hasAttempt, State: State(state)}
	if attempt != "" {
		n, err := strconv.Atoi(attempt)
		if err != nil {
			return ItemState{}, fmt.Errorf("field %s: %q is not an integer", fieldAttempt, attempt)
		}
		st.Attempt = n
	}
	return st, nil
}
