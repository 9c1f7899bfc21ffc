package batch

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// A batch's cap and the account's daily cap are exact however many claim at once: of
// 60 racing claims under a cap of 10, exactly 10 win and the other 50 are parked.
func TestClaimCapsAreExactUnderRaces(t *testing.T) {
	t.Parallel()
	s, sb := setupStore(t)
	ctx := t.Context()
	for _, b := range []string{"b1", "b2"} {
		if _, err := s.AddItems(ctx, b, "songs.jsonl", songItems("s", 60)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetMaxJobs(ctx, "b1", 10); err != nil {
		t.Fatal(err)
	}
	race := func(batch string, caps ClaimCaps) map[ClaimOutcome]int {
		var mu sync.Mutex
		got := map[ClaimOutcome]int{}
		var wg sync.WaitGroup
		for i := range 60 {
			wg.Go(func() {
				o, _, err := s.Claim(ctx, batch, fmt.Sprintf("s%06d", i), 1, "cid", caps)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				got[o]++
				mu.Unlock()
			})
		}
		wg.Wait()
		return got
	}
	if got := race("b1", ClaimCaps{}); got[Claimed] != 10 || got[ParkedBatchCap] != 50 {
		t.Errorf("batch cap 10: %v", got)
	}
	b, err := s.Batch(ctx, "b1")
	if err != nil || b.Jobs != 10 || b.Parked != 50 || b.HeldBy != "batch" || b.Counts[StateSubmitting] != 10 {
		t.Errorf("batch after the race: jobs %d parked %d held by %q counts %v, %v", b.Jobs, b.Parked, b.HeldBy, b.Counts, err)
	}
	// The account's cap counts across batches: b1's 10 jobs are today's too.
	if got := race("b2", ClaimCaps{AccountPerDay: 25}); got[Claimed] != 15 || got[ParkedAccountCap] != 45 {
		t.Errorf("account cap 25 after 10: %v", got)
	}
	if n, err := s.AccountJobs(ctx, sb.clock.Now()); n != 25 || err != nil {
		t.Errorf("account jobs today = %d, %v; want 25", n, err)
	}
	// A refused CreateJob created nothing: its count is taken back.
	var claimed []ItemRecord
	if err := s.Items(ctx, "b2", []State{StateSubmitting}, func(it ItemRecord) error {
		claimed = append(claimed, it)
		return nil
	}); err != nil || len(claimed) != 15 {
		t.Fatalf("%d items submitting in b2, want 15 (%v)", len(claimed), err)
	}
	if err := s.RefundJob(ctx, claimed[0]); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.AccountJobs(ctx, sb.clock.Now()); n != 24 {
		t.Errorf("account jobs after a refund = %d, want 24", n)
	}
	if b, _ := s.Batch(ctx, "b2"); b.Jobs != 14 {
		t.Errorf("b2's jobs after a refund = %d, want 14", b.Jobs)
	}
	// Raising the cap hands the parked items back; those still over it park again.
	ids, err := s.Unpark(ctx, "b1")
	if err != nil || len(ids) != 50 {
		t.Fatalf("Unpark = %d ids, %v", len(ids), err)
	}
	if b, _ := s.Batch(ctx, "b1"); b.HeldBy != "" {
		t.Errorf("held by %q after unpark", b.HeldBy)
	}
}

// Pause parks, cancel tells the caller, and a check holds back as a claim would
// without claiming; an item at another attempt or state is not claimed.
func TestClaimHeedsPauseAndCancel(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", songItems("s", 3)); err != nil {
		t.Fatal(err)
	}
	if o, _, err := s.CheckHold(ctx, "b1", "s000001", 1, ClaimCaps{}); o != Claimed || err != nil {
		t.Errorf("check of a free item = %v, %v", o, err)
	}
	if b, _ := s.Batch(ctx, "b1"); b.Jobs != 0 || b.Counts[StatePending] != 3 {
		t.Errorf("a check claimed: jobs %d counts %v", b.Jobs, b.Counts)
	}
	if err := s.Pause(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if o, _, err := s.Claim(ctx, "b1", "s000001", 1, "c1", ClaimCaps{}); o != ParkedPaused || err != nil {
		t.Errorf("claim in a paused batch = %v, %v", o, err)
	}
	if err := s.Cancel(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	o, rec, err := s.Claim(ctx, "b1", "s000000", 1, "c2", ClaimCaps{})
	if o != Canceled || err != nil || rec.State != StatePending {
		t.Errorf("claim in a canceled batch = %v, state %s, %v", o, rec.State, err)
	}
	if err := s.Uncancel(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Resume(ctx, "b1"); err != nil {
		t.Fatal(err)
	}
	var claims atomic.Int32
	for range 2 {
		if o, rec, err := s.Claim(ctx, "b1", "s000002", 1, "c3", ClaimCaps{}); err != nil {
			t.Fatal(err)
		} else if o == Claimed {
			claims.Add(1)
			if rec.State != StateSubmitting || rec.CustomID != "c3" || rec.ClaimedAt.IsZero() {
				t.Errorf("claimed record: %+v", rec)
			}
		}
	}
	if claims.Load() != 1 {
		t.Errorf("%d claims of one item, want 1", claims.Load())
	}
	if o, _, err := s.Claim(ctx, "b1", "s000001", 2, "c1", ClaimCaps{}); o != NotClaimed || err != nil {
		t.Errorf("claim of another attempt = %v, %v", o, err)
	}
	if _, _, err := s.Claim(ctx, "b1", "nope", 1, "c", ClaimCaps{}); err == nil {
		t.Error("claim of an unknown item succeeded")
	}
}

// A parked item's record and report row say why it waits, until it is sent.
func TestParkedItemSaysWhy(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b", "songs.jsonl", songItems("s", 3)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMaxJobs(ctx, "b", 1); err != nil {
		t.Fatal(err)
	}
	claim := func(id string) ClaimOutcome {
		t.Helper()
		o, _, err := s.Claim(ctx, "b", id, 1, "c-"+id, ClaimCaps{})
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
	held := func(id string) string {
		t.Helper()
		rec, err := s.Item(ctx, "b", id)
		if err != nil {
			t.Fatal(err)
		}
		return NewReportRow(rec).Held
	}
	if o := claim("s000000"); o != Claimed || held("s000000") != "" {
		t.Fatalf("first claim %v, held %q", o, held("s000000"))
	}
	if o := claim("s000001"); o != ParkedBatchCap || held("s000001") != "batch cap" {
		t.Errorf("over the cap: %v, held %q", o, held("s000001"))
	}
	if err := s.Pause(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if o := claim("s000002"); o != ParkedPaused || held("s000002") != "paused" {
		t.Errorf("paused: %v, held %q", o, held("s000002"))
	}
	if _, err := s.Resume(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetMaxJobs(ctx, "b", 0); err != nil {
		t.Fatal(err)
	}
	if o := claim("s000001"); o != Claimed || held("s000001") != "" {
		t.Errorf("sent after the cap was lifted: %v, still held %q", o, held("s000001"))
	}
}
