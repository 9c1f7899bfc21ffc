package batch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// groupKeep is how long a group's records are kept: longer than any of its jobs runs.
const groupKeep = 7 * 24 * time.Hour

// Group is one submission group: items of one batch and class of work whose jobs share
// a customId, so that one ListJobs answers for all of them.
type Group struct {
	Seq    int64     // 1, 2, … within the batch and class
	Opened time.Time // on Redis's clock
}

// JoinGroup puts a request (its digest: two requests with the same digest cannot be
// told apart by their jobs) in the open group of a batch's class of work, opening a new
// one when that is full (size, or the ListCap if less), open for window already, or
// holds the same request.
func (s *Store) JoinGroup(ctx context.Context, batch, class, digest string, size int, window time.Duration) (Group, error) {
	r, err := s.joinGroup.Run(ctx, s.rdb, []string{s.keys.Group(batch, class), s.keys.ListCap()},
		digest, size, window.Milliseconds(), groupKeep.Milliseconds()).Int64Slice()
	if err != nil {
		return Group{}, fmt.Errorf("join a group of %s/%s: %w", batch, class, err)
	}
	if len(r) != 2 {
		return Group{}, fmt.Errorf("join a group of %s/%s: reply %v", batch, class, r)
	}
	return Group{Seq: r[0], Opened: time.UnixMilli(r[1])}, nil
}

// ClaimGroupJob records that a job listed under a group's customId is an attempt's
// (member: "ITEM:ATTEMPT"), unless it is another's already; it returns the job's owner.
// A job is thus never adopted by two items.
func (s *Store) ClaimGroupJob(ctx context.Context, customID, jobID, member string) (owner string, err error) {
	key := s.keys.GroupJobs(customID)
	pipe := s.rdb.TxPipeline()
	pipe.HSetNX(ctx, key, jobID, member)
	get := pipe.HGet(ctx, key, jobID)
	pipe.PExpire(ctx, key, groupKeep)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", fmt.Errorf("claim job %s of group %s: %w", jobID, customID, err)
	}
	return get.Val(), nil
}

// GroupJobOwners maps the jobs of a group recorded so far to their attempts.
func (s *Store) GroupJobOwners(ctx context.Context, customID string) (map[string]string, error) {
	m, err := s.rdb.HGetAll(ctx, s.keys.GroupJobs(customID)).Result()
	if err != nil {
		return nil, fmt.Errorf("jobs of group %s: %w", customID, err)
	}
	return m, nil
}

// ListCap is the most jobs the service was seen to return in one ListJobs answer that
// counted more; 0 when none was capped.
func (s *Store) ListCap(ctx context.Context) (int, error) {
	v, err := s.rdb.Get(ctx, s.keys.ListCap()).Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("list cap: %w", err)
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("list cap %q: %w", v, err)
	}
	return n, nil
}

// NoteListCap records a ListJobs answer of n jobs that counted more, keeping the least.
func (s *Store) NoteListCap(ctx context.Context, n int) error {
	cur, err := s.ListCap(ctx)
	if err != nil {
		return err
	}
	if cur > 0 && cur <= n {
		return nil
	}
	if err := s.rdb.Set(ctx, s.keys.ListCap(), n, 0).Err(); err != nil {
		return fmt.Errorf("note list cap: %w", err)
	}
	return nil
}

// GroupList is what ClaimGroupList decided for a member's poll.
type GroupList int

const (
	// GroupListRecorded: the member's attempt was recorded final (or replaced) since its
	// poll read it; it needs no list.
	GroupListRecorded GroupList = iota
	// GroupListClaimed: this poll lists the group now.
	GroupListClaimed
	// GroupListWait: another member's poll listed the group just now; the next list may
	// come after the returned wait.
	GroupListWait
)

// ClaimGroupList lets one poll list a group per every, in one round trip with the
// check that the asking member (item id of batch, at attempt) still waits for its
// job: a member recorded meanwhile (by a callback, or another member's list) must not
// take the group's next list from the others.
func (s *Store) ClaimGroupList(ctx context.Context, batch, id string, attempt int, customID string, every time.Duration) (GroupList, time.Duration, error) {
	keys := []string{s.keys.Item(batch, id), s.keys.Once("group-list:" + customID)}
	ms := max(every.Milliseconds(), 1)
	reply, err := s.claimGroupList.Run(ctx, s.rdb, keys, strconv.Itoa(attempt), ms).Int64Slice()
	if err != nil {
		return 0, 0, fmt.Errorf("claim a list of group %s: %w", customID, err)
	}
	switch {
	case len(reply) == 1 && reply[0] == int64(GroupListRecorded):
		return GroupListRecorded, 0, nil
	case len(reply) == 1 && reply[0] == int64(GroupListClaimed):
		return GroupListClaimed, 0, nil
	case len(reply) == 2 && reply[0] == int64(GroupListWait):
		return GroupListWait, max(time.Duration(reply[1])*time.Millisecond, time.Millisecond), nil
	}
	return 0, 0, fmt.Errorf("claim a list of group %s: unexpected script reply %v", customID, reply)
}
