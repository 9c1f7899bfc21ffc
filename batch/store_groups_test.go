package batch

import (
	"testing"
	"time"
)

// One poll lists a group per interval: the first claims it, the others are told how
// long until they may, and once that has passed the next one claims it again. A member
// whose attempt was recorded final, or replaced, needs no list and takes none.
func TestClaimGroupList(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1), songItem("b", 2), songItem("c", 3)}); err != nil {
		t.Fatal(err)
	}
	const every = 300 * time.Millisecond
	claim := func(id string, attempt int, customID string) (GroupList, time.Duration) {
		t.Helper()
		got, wait, err := s.ClaimGroupList(ctx, "b1", id, attempt, customID, every)
		if err != nil {
			t.Fatal(err)
		}
		return got, wait
	}
	if got, wait := claim("a", 1, "g1"); got != GroupListClaimed || wait != 0 {
		t.Fatalf("first claim = %v, %v; want it claimed", got, wait)
	}
	got, wait := claim("b", 1, "g1")
	if got != GroupListWait || wait <= 0 || wait > every {
		t.Fatalf("second claim = %v, %v; want a wait in (0, %v]", got, wait, every)
	}
	if got, _ := claim("b", 1, "g2"); got != GroupListClaimed {
		t.Fatalf("another group's claim = %v; want it claimed", got)
	}
	// Recorded meanwhile, or not this attempt: no list, and the group's marker is left
	// alone (g3 is still free for the next member).
	if ok, _, err := s.Transition(ctx, "b1", "c", 1, nil, StateFailed, Update{Error: "x"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if got, _ := claim("c", 1, "g3"); got != GroupListRecorded {
		t.Fatalf("claim of a final member = %v; want recorded", got)
	}
	if got, _ := claim("a", 2, "g3"); got != GroupListRecorded {
		t.Fatalf("claim of another attempt = %v; want recorded", got)
	}
	if got, _ := claim("a", 1, "g3"); got != GroupListClaimed {
		t.Fatalf("g3 after refused claims = %v; want it free", got)
	}
	time.Sleep(wait + 20*time.Millisecond)
	if got, _ := claim("b", 1, "g1"); got != GroupListClaimed {
		t.Fatalf("claim after the wait = %v; want it claimed", got)
	}
}
