package tasks

import (
	"context"
	"errors"
	"testing"

	"github.com/hibiken/asynq"
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
