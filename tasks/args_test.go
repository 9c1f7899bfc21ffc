package tasks

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
)

func TestRegisterDecodesThePayloadItsKindNames(t *testing.T) {
	t.Parallel()
	var got []PollPayload
	mux := asynq.NewServeMux()
	register(mux, WorkFunc[PollPayload](func(_ context.Context, p PollPayload) error {
		got = append(got, p)
		return nil
	}))
	want := PollPayload{ItemRef: ItemRef{Batch: "b", Item: "s1", Attempt: 2}, JobID: "j1", Poll: 3}
	task, err := NewPollTask(want, 0)
	if err != nil {
		t.Fatal(err)
	}
	if task.Type() != TypePoll {
		t.Errorf("task type %q, want %q", task.Type(), TypePoll)
	}
	if err := mux.ProcessTask(t.Context(), task); err != nil || len(got) != 1 || got[0] != want {
		t.Fatalf("ProcessTask = %v, worked %+v; want %+v", err, got, want)
	}
	err = mux.ProcessTask(t.Context(), asynq.NewTask(TypePoll, []byte(`{"jobId":`)))
	if !errors.Is(err, asynq.SkipRetry) || len(got) != 1 {
		t.Errorf("malformed payload: %v, worked %d times; want SkipRetry and no work", err, len(got))
	}
	if err := mux.ProcessTask(t.Context(), asynq.NewTask(TypeSubmit, []byte(`{}`))); err == nil {
		t.Error("a kind with no handler was worked")
	}
}

// A submit task carries its reference in the compact form, and old JSON payloads still
// decode; the task id is short and the same for the same attempt only.
func TestSubmitPayloadCompact(t *testing.T) {
	for _, ref := range []ItemRef{{Batch: "b", Item: "s1", Attempt: 1}, {Batch: "bench.x-1", Item: "a:b/c{d", Attempt: 12}} {
		task, err := NewSubmitTask(ref, batch.KindSong, batch.PriorityNormal)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := SubmitRef(task.Payload()); err != nil || got != ref {
			t.Errorf("SubmitRef(%q) = %+v, %v; want %+v", task.Payload(), got, err, ref)
		}
		old, _ := json.Marshal(SubmitPayload{ItemRef: ref})
		if got, err := SubmitRef(old); err != nil || got != ref {
			t.Errorf("SubmitRef(%s) = %+v, %v; want %+v", old, got, err, ref)
		}
		id := SubmitTaskID(ref)
		next := ref
		next.Attempt++
		if len(id) != 12 || id == SubmitTaskID(next) || id != SubmitTaskID(ref) {
			t.Errorf("SubmitTaskID(%+v) = %q, next attempt's %q", ref, id, SubmitTaskID(next))
		}
	}
	for _, bad := range []string{"b", ":s1", "b:", "b/0:s1", "b/x:s1"} {
		if _, err := SubmitRef([]byte(bad)); err == nil {
			t.Errorf("SubmitRef(%q) = nil error", bad)
		}
	}
}
