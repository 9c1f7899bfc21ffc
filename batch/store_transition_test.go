package batch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestTransitionRaceHasOneWinner(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", songItems("s", 10)); err != nil {
		t.Fatal(err)
	}
	const id = "s000003"
	if ok, _, err := s.Transition(ctx, "b1", id, 1, nil, StateSubmitted, Update{JobID: "job-1"}); !ok || err != nil {
		t.Fatalf("submit: %v %v", ok, err)
	}

	var (
		wins   atomic.Int32
		winner atomic.Value // State
		wg     sync.WaitGroup
		stop   = make(chan struct{})
		bad    atomic.Value // string: a moment the counters did not add up
	)
	// A reader checks, while the writers race, that the counters always add up.
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
			}
			b, err := s.Batch(ctx, "b1")
			if err != nil {
				bad.Store(err.Error())
				return
			}
			var sum int64
			for _, n := range b.Counts {
				sum += n
			}
			if sum != b.Total {
				bad.Store(fmt.Sprintf("counts %v sum to %d, total %d", b.Counts, sum, b.Total))
			}
		}
	}()
	for g := range 50 {
		wg.Go(func() {
			to, u := StateCompleted, Update{SongName: "out.mp3", OutputRepository: "repo1", OutputPath: "/out/s000003/out.mp3"}
			if g%2 == 1 {
				to, u = StateFailed, Update{Error: fmt.Sprintf("writer %d", g)}
			}
			ok, rec, err := s.Transition(ctx, "b1", id, 1, []State{StateSubmitted}, to, u)
			if err != nil {
				t.Errorf("writer %d: %v", g, err)
				return
			}
			if !rec.State.Final() {
				t.Errorf("writer %d: record after the call is %s", g, rec.State)
			}
			if ok {
				wins.Add(1)
				winner.Store(to)
			}
		})
	}
	wg.Wait()
	close(stop)
	<-readerDone
	if v := bad.Load(); v != nil {
		t.Error(v)
	}
	if wins.Load() != 1 {
		t.Fatalf("%d writers won, want exactly 1", wins.Load())
	}
	rec, err := s.Item(ctx, "b1", id)
	if err != nil {
		t.Fatal(err)
	}
	w := winner.Load().(State)
	if rec.State != w {
		t.Errorf("item is %s, the winner wrote %s", rec.State, w)
	}
	if w == StateCompleted && (rec.Error != "" || rec.SongName != "out.mp3") ||
		w == StateFailed && (rec.SongName != "" || !strings.HasPrefix(rec.Error, "writer ")) {
		t.Errorf("record mixes outcomes: %+v", rec)
	}
	checkCounts(t, s, "b1", map[State]int64{StatePending: 9, w: 1})
}

func TestTransitionGuards(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1)}); err != nil {
		t.Fatal(err)
	}
	step := func(attempt int, from []State, to State, u Update) (bool, ItemRecord) {
		t.Helper()
		ok, rec, err := s.Transition(ctx, "b1", "a", attempt, from, to, u)
		if err != nil {
			t.Fatalf("transition to %s: %v", to, err)
		}
		return ok, rec
	}
	if ok, rec := step(2, nil, StateSubmitting, Update{}); ok || rec.State != StatePending {
		t.Errorf("a future attempt moved the item: %v %s", ok, rec.State)
	}
	if ok, _ := step(1, []State{StateWaiting}, StateSubmitting, Update{}); ok {
		t.Error("moved from a state not in the from-list")
	}
	b.clock.Advance(time.Second)
	if ok, rec := step(1, []State{StatePending}, StateSubmitting, Update{CustomID: "sb-a-1"}); !ok || rec.CustomID != "sb-a-1" {
		t.Errorf("pending -> submitting: %v %+v", ok, rec)
	}
	if ok, _, err := s.Transition(ctx, "b1", "a", 1, nil, StatePending, Update{}); ok || err == nil {
		t.Errorf("to pending, where no state can move: %v %v; want an error", ok, err)
	}
	if ok, _ := step(1, []State{StateSubmitting, StatePending}, StateWaiting, Update{}); ok {
		t.Error("moved backwards")
	}
	if ok, _ := step(1, nil, StateSubmitting, Update{}); ok {
		t.Error("moved to the same state")
	}
	b.clock.Advance(time.Second)
	ok, rec := step(1, []State{StateSubmitting}, StateSubmitted, Update{JobID: "job-9"})
	if !ok || rec.JobID != "job-9" || rec.CustomID != "sb-a-1" || !rec.SubmittedAt.Equal(t0.Add(2*time.Second)) {
		t.Errorf("submitting -> submitted: %v %+v", ok, rec)
	}
	started := t0.Add(3 * time.Second)
	b.clock.Advance(time.Minute)
	ok, rec = step(1, []State{StateSubmitted}, StateCompleted, Update{StartedAt: started, SongName: "out.mp3",
		OutputRepository: "repo1", OutputPath: "/out/a/out.mp3"})
	if !ok || !rec.StartedAt.Equal(started) || !rec.FinishedAt.Equal(t0.Add(62*time.Second)) ||
		rec.OutputPath != "/out/a/out.mp3" || rec.OutputRepository != "repo1" || rec.SongName != "out.mp3" {
		t.Errorf("submitted -> completed: %v %+v", ok, rec)
	}
	if ok, _ := step(1, nil, StateFailed, Update{Error: "late"}); ok {
		t.Error("a final item moved again")
	}
	checkCounts(t, s, "b1", map[State]int64{StateCompleted: 1})

	if _, _, err := s.Transition(ctx, "b1", "nope", 1, nil, StateFailed, Update{}); !errors.Is(err, ErrItemNotFound) {
		t.Errorf("unknown item: err = %v, want ErrItemNotFound", err)
	}
	for name, call := range map[string]func() error{
		"unknown state": func() error { _, _, err := s.Transition(ctx, "b1", "a", 1, nil, "lost", Update{}); return err },
		"attempt 0":     func() error { _, _, err := s.Transition(ctx, "b1", "a", 0, nil, StateFailed, Update{}); return err },
		"no from can move": func() error {
			_, _, err := s.Transition(ctx, "b1", "a", 1, []State{StateCompleted}, StateFailed, Update{})
			return err
		},
	} {
		if err := call(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestNewAttempt(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{songItem("a", 1), songItem("b", 2)}); err != nil {
		t.Fatal(err)
	}
	if ok, _, err := s.NewAttempt(ctx, "b1", "a", StateFailed); ok || err != nil {
		t.Fatalf("retry of a pending item: %v %v", ok, err)
	}
	if _, _, err := s.NewAttempt(ctx, "b1", "a", StateSubmitted); err == nil {
		t.Error("NewAttempt from a non-final state: no error")
	}
	for _, to := range []State{StateSubmitting, StateSubmitted, StateFailed} {
		if ok, _, err := s.Transition(ctx, "b1", "a", 1, nil, to, Update{CustomID: "c1", JobID: "j1", Error: "boom"}); !ok || err != nil {
			t.Fatalf("to %s: %v %v", to, ok, err)
		}
	}
	b.clock.Advance(time.Hour)

	// Racing retries: one wins.
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			ok, _, err := s.NewAttempt(ctx, "b1", "a", StateFailed)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d retries won, want 1", wins.Load())
	}
	rec, err := s.Item(ctx, "b1", "a")
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StatePending || rec.Attempt != 2 || rec.CustomID != "" || rec.JobID != "" || rec.Error != "" ||
		!rec.SubmittedAt.IsZero() || !rec.FinishedAt.IsZero() || !rec.EnqueuedAt.Equal(t0.Add(time.Hour)) || rec.Seq != 1 {
		t.Errorf("after retry: %+v", rec)
	}
	checkCounts(t, s, "b1", map[State]int64{StatePending: 2})

	// A writer of attempt 1 that wakes up late changes nothing.
	if ok, _, err := s.Transition(ctx, "b1", "a", 1, nil, StateSubmitting, Update{CustomID: "stale"}); ok || err != nil {
		t.Errorf("stale attempt: %v %v", ok, err)
	}
	if ok, rec, err := s.Transition(ctx, "b1", "a", 2, nil, StateSubmitting, Update{CustomID: "c2"}); !ok || err != nil || rec.CustomID != "c2" {
		t.Errorf("attempt 2: %v %v %+v", ok, err, rec)
	}
	if _, _, err := s.NewAttempt(ctx, "b1", "nope", StateFailed); !errors.Is(err, ErrItemNotFound) {
		t.Errorf("unknown item: %v", err)
	}
}

func TestTrainingOutcomeSetsModel(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "train.jsonl", []Item{trainItem("t1", "alice", 1), trainItem("t2", "bob", 2)}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []State{StateSubmitting, StateSubmitted} {
		for _, id := range []string{"t1", "t2"} {
			if ok, _, err := s.Transition(ctx, "b1", id, 1, nil, to, Update{}); !ok || err != nil {
				t.Fatalf("%s to %s: %v %v", id, to, ok, err)
			}
		}
	}
	if ok, _, err := s.Transition(ctx, "b1", "t1", 1, nil, StateCompleted, Update{TrainedModel: "alice"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _, err := s.Transition(ctx, "b1", "t2", 1, nil, StateFailed, Update{Error: "too short"}); !ok || err != nil {
		t.Fatal(ok, err)
	}
	alice, _ := s.ModelState(ctx, "alice")
	bob, _ := s.ModelState(ctx, "bob")
	if alice.State != ModelReady || alice.Batch != "b1" || alice.Item != "t1" {
		t.Errorf("alice = %+v, want ready", alice)
	}
	if bob.State != ModelFailed || bob.Error != "too short" {
		t.Errorf("bob = %+v, want failed: too short", bob)
	}

	// Retrying the failed training takes the model back; a completed one cannot be
	// retried, its model is ready.
	if ok, _, err := s.NewAttempt(ctx, "b1", "t2", StateFailed); !ok || err != nil {
		t.Fatalf("retry t2: %v %v", ok, err)
	}
	bob, _ = s.ModelState(ctx, "bob")
	if bob.State != ModelTraining || bob.Error != "" || bob.Item != "t2" {
		t.Errorf("bob after retry = %+v", bob)
	}
	ok, rec, err := s.NewAttempt(ctx, "b1", "t1", StateCompleted)
	var taken *ModelTakenError
	if ok || !errors.As(err, &taken) || taken.State != ModelReady || rec.State != StateCompleted {
		t.Errorf("retry of a trained model: %v %v %+v", ok, err, rec)
	}
	checkCounts(t, s, "b1", map[State]int64{StateCompleted: 1, StatePending: 1})
}

// Many writers push many items through random paths at once; the counters must match
// the items' states exactly at the end.
func TestCountersMatchStatesUnderRaces(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	const items = 30
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", songItems("s", items)); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range 200 {
				id := fmt.Sprintf("s%06d", r.IntN(items))
				all := States()
				to := all[1+r.IntN(len(all)-1)]
				if _, _, err := s.Transition(ctx, "b1", id, 1, nil, to, Update{}); err != nil {
					t.Error(err)
					return
				}
				if r.IntN(10) == 0 {
					if _, _, err := s.NewAttempt(ctx, "b1", id, StateFailed); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	tally := map[State]int64{}
	if err := s.Items(ctx, "b1", nil, func(r ItemRecord) error { tally[r.State]++; return nil }); err != nil {
		t.Fatal(err)
	}
	checkCounts(t, s, "b1", tally)
}

// Update.Stored leaves out a song's output repository and path when its spec gives
// them; the record reads them back, and ones that differ are stored.
func TestStoredUpdateLeavesOutWhatTheSpecGives(t *testing.T) {
	t.Parallel()
	s, b := setupStore(t)
	ctx := t.Context()
	a, c := songItem("a", 1), songItem("c", 2)
	if _, err := s.AddItems(ctx, "b1", "songs.jsonl", []Item{a, c}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		it         Item
		repo, path string
		stored     bool
	}{
		{a, "repo1", "/out/a/out.mp3", false},
		{c, "elsewhere", "/else/c/out.mp3", true},
	} {
		u := Update{SongName: "out.mp3", OutputRepository: tc.repo, OutputPath: tc.path}.Stored(tc.it.Spec)
		ok, rec, err := s.Transition(ctx, "b1", tc.it.ID, 1, nil, StateCompleted, u)
		if err != nil || !ok || rec.OutputRepository != tc.repo || rec.OutputPath != tc.path {
			t.Errorf("%s: %v %v; repo %q path %q, want %q %q", tc.it.ID, ok, err, rec.OutputRepository, rec.OutputPath, tc.repo, tc.path)
		}
		n, err := b.rdb.HExists(ctx, b.keys.Item("b1", tc.it.ID), fieldOutputPath).Result()
		if err != nil || n != tc.stored {
			t.Errorf("%s: outputPath stored %v (%v), want %v", tc.it.ID, n, err, tc.stored)
		}
		if rec, err = s.Item(ctx, "b1", tc.it.ID); err != nil || rec.OutputRepository != tc.repo || rec.OutputPath != tc.path {
			t.Errorf("%s read: repo %q path %q (%v)", tc.it.ID, rec.OutputRepository, rec.OutputPath, err)
		}
	}
}
