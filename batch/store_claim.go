package batch

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Claim outcomes: what Store.Claim did with an item about to be sent.
type ClaimOutcome int

const (
	// NotClaimed: the item is not at that attempt, or not pending or waiting any more.
	NotClaimed ClaimOutcome = iota
	// Claimed: the item is submitting, and counted as one job of its batch and day.
	Claimed
	// ParkedPaused: its batch is paused; the item waits in the batch's parked set.
	ParkedPaused
	// Canceled: its batch is canceled; the caller records the item canceled.
	Canceled
	// ParkedBatchCap: its batch created its --max-jobs; the item waits, parked.
	ParkedBatchCap
	// ParkedAccountCap: the account created ACCOUNT_MAX_JOBS_PER_DAY today; parked.
	ParkedAccountCap
)

// Held reports whether the batch holds the item back (parked or canceled).
func (o ClaimOutcome) Held() bool { return o >= ParkedPaused }

// String names the outcome for logs.
func (o ClaimOutcome) String() string {
	switch o {
	case Claimed:
		return "claimed"
	case ParkedPaused:
		return "parked: batch paused"
	case Canceled:
		return "canceled: batch canceled"
	case ParkedBatchCap:
		return "parked: the batch's job cap is reached"
	case ParkedAccountCap:
		return "parked: the account's daily job cap is reached"
	}
	return "not claimed"
}

// ClaimCaps are the limits a claim checks besides its batch's own.
type ClaimCaps struct {
	AccountPerDay int64 // jobs the account may create per UTC day; 0: no cap
}

// accountDayTTL keeps a day's counter past its day, for status to read yesterday's.
const accountDayTTL = 48 * time.Hour

// Claim moves a pending or waiting item at attempt to submitting with customID, as
// Transition would, unless its batch holds it back: paused or over a cap, the item is
// parked instead (TakeParked hands it back); canceled, nothing changes and the caller
// records it canceled. The checks, the claim and the counts of jobs (the batch's and
// the day's) are one script, so no job is ever created past a cap or after a pause
// or cancel was recorded, however many workers claim at once.
func (s *Store) Claim(ctx context.Context, batch, id string, attempt int, customID string, caps ClaimCaps) (ClaimOutcome, ItemRecord, error) {
	o, rec, _, err := s.claim(ctx, batch, id, attempt, "claim", caps,
		fieldCustomID, customID, fieldUpdatedAt, s.nowMs())
	return o, rec, err
}

// CheckHold is Claim without the claim: whether the batch would hold the item back
// (and parks it if so), so that a submission does not wait for a rate-limit token for
// an item that cannot be sent. It also returns the batch's priority, which the
// submission waits for its token at.
func (s *Store) CheckHold(ctx context.Context, batch, id string, attempt int, caps ClaimCaps) (ClaimOutcome, Priority, error) {
	o, _, p, err := s.claim(ctx, batch, id, attempt, "check", caps)
	return o, p, err
}

func (s *Store) claim(ctx context.Context, batch, id string, attempt int, mode string, caps ClaimCaps, pairs ...any) (ClaimOutcome, ItemRecord, Priority, error) {
	keys := []string{s.keys.Item(batch, id), s.keys.ItemRequest(batch, id), s.keys.BatchCounts(batch),
		s.keys.Batch(batch), s.keys.BatchParked(batch), s.keys.AccountJobs(UTCDay(s.clock()))}
	args := append([]any{strconv.Itoa(attempt), caps.AccountPerDay, int64(accountDayTTL / time.Second), mode}, pairs...)
	reply, err := s.claimScript.Run(ctx, s.rdb, keys, args...).Slice()
	if err != nil {
		return NotClaimed, ItemRecord{}, PriorityNormal, fmt.Errorf("claim %s/%s: %w", batch, id, err)
	}
	code, _ := reply[0].(int64)
	if code == -2 {
		return NotClaimed, ItemRecord{}, PriorityNormal, fmt.Errorf("claim %s/%s: %w", batch, id, ErrItemNotFound)
	}
	if len(reply) != 4 || code < 0 || code > int64(ParkedAccountCap) {
		return NotClaimed, ItemRecord{}, PriorityNormal, fmt.Errorf("claim %s/%s: unexpected script reply %v", batch, id, reply)
	}
	h, err := pairsToMap(reply[1])
	if err != nil {
		return NotClaimed, ItemRecord{}, PriorityNormal, fmt.Errorf("claim %s/%s: %w", batch, id, err)
	}
	req, _ := reply[2].(string)
	rec, err := s.itemRecord(ctx, keys[0], h, req)
	if err != nil {
		return NotClaimed, ItemRecord{}, PriorityNormal, fmt.Errorf("claim %s/%s: %w", batch, id, err)
	}
	prio, _ := reply[3].(string)
	return ClaimOutcome(code), rec, priorityField(prio), nil
}

// RefundJob takes back the count of a claim whose CreateJob was refused for good (no
// job exists), so that a cap counts only jobs that may have been created. The refusal
// comes within the claim's budget (seconds), so today's counter is the claim's, but
// for a claim made just before midnight (UTC).
func (s *Store) RefundJob(ctx context.Context, rec ItemRecord) error {
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.HIncrBy(ctx, s.keys.Batch(rec.Batch), "jobs", -1)
		p.Decr(ctx, s.keys.AccountJobs(UTCDay(s.clock())))
		return nil
	})
	if err != nil {
		return fmt.Errorf("refund the job count of %s/%s: %w", rec.Batch, rec.ID, err)
	}
	return nil
}

// AccountJobs is how many jobs the account created on t's UTC day.
func (s *Store) AccountJobs(ctx context.Context, t time.Time) (int64, error) {
	n, err := s.rdb.Get(ctx, s.keys.AccountJobs(UTCDay(t))).Int64()
	if ignoreNil(err) != nil {
		return 0, fmt.Errorf("account jobs of %s: %w", UTCDay(t), err)
	}
	return n, nil
}

// UTCDay names t's day in UTC, as the account's daily counters do.
func UTCDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }
