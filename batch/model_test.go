package batch

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"
)

// Many releasers may read the same waiters; each is released at least once, all are
// acknowledged in the end, and none is handed out while the model trains.
func TestWaitersReleasedUntilAcked(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{trainItem("t1", "alice", 1)}); err != nil {
		t.Fatal(err)
	}
	const waiters = 100
	var wg sync.WaitGroup
	for i := range waiters {
		wg.Go(func() {
			st, err := s.AddWaiter(ctx, "alice", "b2", fmt.Sprintf("s%03d", i))
			if err != nil || st != ModelTraining {
				t.Errorf("AddWaiter %d: %s, %v", i, st, err)
			}
		})
		// Releasers racing with the registrations while the model trains get nobody.
		wg.Go(func() {
			rec, ws, err := s.PendingWaiters(ctx, "alice", 10)
			if err != nil || len(ws) != 0 || rec.State != ModelTraining {
				t.Errorf("PendingWaiters while training: %+v %v %v", rec, ws, err)
			}
		})
	}
	wg.Wait()
	b.clock.Advance(time.Second)
	if st, err := s.AddWaiter(ctx, "alice", "b3", "late"); err != nil || st != ModelTraining {
		t.Fatalf("AddWaiter: %s %v", st, err)
	}
	if st, _ := s.AddWaiter(ctx, "alice", "b3", "late"); st != ModelTraining { // again: no duplicate
		t.Fatal(st)
	}
	if n := b.rdb.ZCard(ctx, b.keys.ModelWaiters("alice")).Val(); n != waiters+1 {
		t.Fatalf("%d waiters registered, want %d", n, waiters+1)
	}

	for _, to := range []State{StateSubmitting, StateSubmitted, StateCompleted} {
		if ok, _, err := s.Transition(ctx, "b1", "t1", 1, nil, to, Update{}); !ok || err != nil {
			t.Fatal(to, ok, err)
		}
	}
	// The model is ready: a newcomer is not registered, it goes on.
	if st, err := s.AddWaiter(ctx, "alice", "b3", "after"); err != nil || st != ModelReady {
		t.Fatalf("AddWaiter after ready: %s %v", st, err)
	}

	// Each releaser reads a page, "releases" it, acknowledges it, until none is left.
	var mu sync.Mutex
	released := map[Waiter]int{}
	for range 20 {
		wg.Go(func() {
			for {
				rec, ws, err := s.PendingWaiters(ctx, "alice", 7)
				if err != nil || rec.State != ModelReady {
					t.Errorf("PendingWaiters: %+v %v", rec, err)
					return
				}
				if len(ws) == 0 {
					return
				}
				mu.Lock()
				for _, w := range ws {
					released[w]++
				}
				mu.Unlock()
				if err := s.AckWaiters(ctx, rec, ws); err != nil {
					t.Errorf("AckWaiters: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(released) != waiters+1 {
		t.Errorf("%d waiters released, want %d", len(released), waiters+1)
	}
	for i := range waiters {
		if w := (Waiter{Batch: "b2", ID: fmt.Sprintf("s%03d", i)}); released[w] < 1 {
			t.Errorf("%v never released", w)
		}
	}
	if released[Waiter{Batch: "b3", ID: "late"}] < 1 || released[Waiter{Batch: "b3", ID: "after"}] != 0 {
		t.Errorf("released: %v", released)
	}
	if n := b.rdb.ZCard(ctx, b.keys.ModelWaiters("alice")).Val(); n != 0 {
		t.Errorf("%d waiters left after every releaser finished", n)
	}
}

// PendingWaiters reads in arrival order and removes nothing; AckWaiters removes exactly
// the waiters given.
func TestPendingWaitersInOrderUntilAcked(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{trainItem("t1", "alice", 1)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"c", "a", "b"} {
		if _, err := s.AddWaiter(ctx, "alice", "b1", id); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(time.Millisecond)
	}
	if _, err := s.SetModelFailed(ctx, "alice", "bad audio"); err != nil {
		t.Fatal(err)
	}
	for range 2 { // a crashed releaser's read changes nothing
		rec, ws, err := s.PendingWaiters(ctx, "alice", 2)
		if err != nil {
			t.Fatal(err)
		}
		want := []Waiter{{"b1", "c"}, {"b1", "a"}}
		if !slices.Equal(ws, want) || rec.State != ModelFailed || rec.Error != "bad audio" {
			t.Errorf("PendingWaiters = %+v %v, want failed, %v", rec, ws, want)
		}
	}
	rec, ws, _ := s.PendingWaiters(ctx, "alice", 2)
	if err := s.AckWaiters(ctx, rec, append(ws, Waiter{"b9", "never-registered"})); err != nil {
		t.Fatal(err)
	}
	if _, ws, _ := s.PendingWaiters(ctx, "alice", 100); !slices.Equal(ws, []Waiter{{"b1", "b"}}) {
		t.Errorf("after acknowledging c and a: %v, want b", ws)
	}
	if err := s.AckWaiters(ctx, rec, []Waiter{{"b1", "b"}}); err != nil {
		t.Fatal(err)
	}
	if _, ws, _ := s.PendingWaiters(ctx, "alice", 100); len(ws) != 0 {
		t.Errorf("after acknowledging all: %v", ws)
	}
	if _, _, err := s.PendingWaiters(ctx, "alice", 0); err == nil {
		t.Error("PendingWaiters accepted limit 0")
	}
	if _, ws, err := s.PendingWaiters(ctx, "default", 10); err != nil || len(ws) != 0 {
		t.Errorf("PendingWaiters(default) = %v %v", ws, err)
	}
}

// A releaser whose model trained again since it read the waiters removes none of them:
// a song released meanwhile may have registered again as the same member.
func TestAckWaitersAfterModelChanged(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{trainItem("t1", "alice", 1)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddWaiter(ctx, "alice", "b2", "s1"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Second)
	if ok, _, err := s.Transition(ctx, "b1", "t1", 1, nil, StateFailed, Update{Error: "bad audio"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	old, ws, err := s.PendingWaiters(ctx, "alice", 10)
	if err != nil || old.State != ModelFailed || len(ws) != 1 {
		t.Fatalf("PendingWaiters = %+v %v %v", old, ws, err)
	}

	// Trained again (singbatch retry), and s1, resubmitted, waits again.
	b.clock.Advance(time.Second)
	if ok, _, err := s.NewAttempt(ctx, "b1", "t1", StateFailed); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if st, err := s.AddWaiter(ctx, "alice", "b2", "s1"); err != nil || st != ModelTraining {
		t.Fatal(st, err)
	}
	if err := s.AckWaiters(ctx, old, ws); !errors.Is(err, ErrModelChanged) {
		t.Fatalf("AckWaiters with the old record = %v, want ErrModelChanged", err)
	}
	if _, ws, _ := s.PendingWaiters(ctx, "alice", 10); len(ws) != 0 {
		t.Errorf("released while training: %v", ws)
	}

	// Failed again at another time: the old record still cannot acknowledge, the new can.
	b.clock.Advance(time.Second)
	if ok, _, err := s.Transition(ctx, "b1", "t1", 2, nil, StateFailed, Update{Error: "still bad"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if err := s.AckWaiters(ctx, old, ws); !errors.Is(err, ErrModelChanged) {
		t.Errorf("AckWaiters with the old record = %v, want ErrModelChanged", err)
	}
	cur, ws, err := s.PendingWaiters(ctx, "alice", 10)
	if err != nil || cur.Error != "still bad" || !slices.Equal(ws, []Waiter{{"b2", "s1"}}) {
		t.Fatalf("PendingWaiters = %+v %v %v", cur, ws, err)
	}
	if err := s.AckWaiters(ctx, cur, ws); err != nil {
		t.Fatal(err)
	}
	if _, ws, _ := s.PendingWaiters(ctx, "alice", 10); len(ws) != 0 {
		t.Errorf("left after acknowledging: %v", ws)
	}
}

func TestModelStates(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()

	if m, err := s.ModelState(ctx, "default"); err != nil || m.State != ModelReady {
		t.Errorf("default = %+v %v", m, err)
	}
	if m, err := s.ModelState(ctx, "nobody"); err != nil || m.State != ModelUnknown {
		t.Errorf("unknown = %+v %v", m, err)
	}
	if st, err := s.AddWaiter(ctx, "nobody", "b1", "x"); err != nil || st != ModelUnknown {
		t.Errorf("AddWaiter(unknown) = %s %v", st, err)
	}
	if st, _ := s.AddWaiter(ctx, "default", "b1", "x"); st != ModelReady {
		t.Errorf("AddWaiter(default) = %s", st)
	}

	// Found by ListModels: ready, idempotently; a failure report cannot undo it.
	b.clock.Advance(time.Second)
	for i, want := range []bool{true, false} {
		if changed, err := s.SetModelReady(ctx, "carol"); err != nil || changed != want {
			t.Errorf("SetModelReady #%d = %v %v", i, changed, err)
		}
	}
	if changed, err := s.SetModelFailed(ctx, "carol", "late failure"); err != nil || changed {
		t.Errorf("SetModelFailed(ready) = %v %v", changed, err)
	}
	if m, _ := s.ModelState(ctx, "carol"); m.State != ModelReady || m.Error != "" || !m.UpdatedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("carol = %+v", m)
	}

	if _, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{trainItem("t1", "alice", 1)}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if changed, err := s.SetModelFailed(ctx, "alice", "boom"); err != nil || changed != want {
			t.Errorf("SetModelFailed #%d = %v %v", i, changed, err)
		}
	}
	if _, err := s.SetModelFailed(ctx, "default", "x"); err == nil {
		t.Error("default failed")
	}
	if _, err := s.SetModelReady(ctx, "bad name!"); err == nil {
		t.Error("SetModelReady accepted an invalid model name")
	}

	ms, err := s.Models(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, fmt.Sprintf("%s=%s(%s/%s)%s", m.Name, m.State, m.Batch, m.Item, m.Error))
	}
	want := []string{"alice=failed(b1/t1)boom", "carol=ready(/)"}
	if !slices.Equal(got, want) {
		t.Errorf("Models = %v, want %v", got, want)
	}
}
