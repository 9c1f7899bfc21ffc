package batch

import (
	"context"
	_ "embed" // Lua script
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

//go:embed mark_ended.lua
var markEndedLua string

var markEnded = redis.NewScript(markEndedLua)

// MarkEnded records when a batch's last item became final, if it is so now, and
// reports whether this call recorded it: of the workers that see the end, exactly one
// is first, and sends the batch's notification. ended is zero while the batch has
// items not final. New items or a retry reopen the batch (Reopen).
func (s *Store) MarkEnded(ctx context.Context, name string) (ended time.Time, first bool, err error) {
	reply, err := markEnded.Run(ctx, s.rdb, []string{s.keys.Batch(name), s.keys.BatchCounts(name)}, s.nowMs()).Slice()
	if err != nil {
		return time.Time{}, false, fmt.Errorf("batch %s: mark its end: %w", name, err)
	}
	if len(reply) != 2 {
		return time.Time{}, false, fmt.Errorf("batch %s: mark its end: unexpected reply %v", name, reply)
	}
	code, _ := reply[0].(int64)
	at, _ := reply[1].(string)
	if at == "" {
		return time.Time{}, false, nil
	}
	ms, err := strconv.ParseInt(at, 10, 64)
	if err != nil {
		return time.Time{}, false, fmt.Errorf("batch %s: endedAt %q is not an integer", name, at)
	}
	return UnixMillis(ms).Time(), code == 1, nil
}

// Reopen forgets a batch's end: it has items not final again (added, or retried), and
// its next end is a new one, with a notification of its own.
func (s *Store) Reopen(ctx context.Context, name string) error {
	if err := s.rdb.HDel(ctx, s.keys.Batch(name), "endedAt").Err(); err != nil {
		return fmt.Errorf("batch %s: reopen: %w", name, err)
	}
	return nil
}

// SetNotify records where a batch's end is announced, sealed (the URL may hold a
// token: it is never stored in the clear); "" removes it.
func (s *Store) SetNotify(ctx context.Context, name, sealed string) error {
	return s.setBatchFlag(ctx, name, "set the notification of", "notify", sealed)
}

// MarkNotified records that the notification webhookID was delivered.
func (s *Store) MarkNotified(ctx context.Context, name, webhookID string) error {
	if err := s.rdb.HSet(ctx, s.keys.Batch(name), "notified", webhookID).Err(); err != nil {
		return fmt.Errorf("batch %s: record its notification: %w", name, err)
	}
	return nil
}
