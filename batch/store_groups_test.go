package batch

import (
	"testing"
	"time"
)

// One poll lists a group per interval: the first claims it, the others are told how
// long until they may, and once that has passed the next one claims it again.
func TestClaimGroupList(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	const every = 300 * time.Millisecond
	if ok, wait, err := s.ClaimGroupList(ctx, "g1", every); err != nil || !ok || wait != 0 {
		t.Fatalf("first claim = %v, %v, %v; want it claimed", ok, wait, err)
	}
	ok, wait, err := s.ClaimGroupList(ctx, "g1", every)
	if err != nil || ok || wait <= 0 || wait > every {
		t.Fatalf("second claim = %v, %v, %v; want refused with a wait in (0, %v]", ok, wait, err, every)
	}
	if ok, _, err := s.ClaimGroupList(ctx, "g2", every); err != nil || !ok {
		t.Fatalf("another group's claim = %v, %v; want it claimed", ok, err)
	}
	time.Sleep(wait + 20*time.Millisecond)
	if ok, _, err := s.ClaimGroupList(ctx, "g1", every); err != nil || !ok {
		t.Fatalf("claim after the wait = %v, %v; want it claimed", ok, err)
	}
}
