package tasks

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// Enqueueing a manifest again once its training completed (the service now lists the
// model) finds the training in the batch instead of rejecting it as a name the service
// has; another batch's training of that name is still refused. Both with and without
// --strict.
func TestEnqueueAgainAfterItsTrainingCompleted(t *testing.T) {
	t.Parallel()
	w := newEnqueueWorld(t)
	ctx := t.Context()
	path := filepath.Join(w.dir, "voices.jsonl")
	line := `{"id":"t1","kind":"train","model":"voice_a","urls":["https://cdn.example.com/a.wav"]}` + "\n"
	if err := os.WriteFile(path, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Enqueue(ctx, w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{path}}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []batch.State{batch.StateSubmitting, batch.StateSubmitted, batch.StateCompleted} {
		if ok, _, err := w.store.Transition(ctx, "b", "t1", 1, nil, to, batch.Update{TrainedModel: "voice_a"}); !ok || err != nil {
			t.Fatalf("t1 to %s: %v %v", to, ok, err)
		}
	}
	service := NewServiceModels([]upstream.Model{{Name: "voice_a"}, {Name: "theirs_v1"}})
	for _, strict := range []bool{false, true} {
		var problems []string
		res, err := Enqueue(ctx, w.store, w.queue, EnqueueOptions{Batch: "b", Manifests: []string{path}, Strict: strict,
			ServiceModels: service, OnLineError: func(le *batch.LineError) { problems = append(problems, le.Error()) }})
		if err != nil || res.Rejected != 0 || res.Existing != 1 || len(problems) > 0 {
			t.Errorf("strict %v: enqueue again = %+v, %v, problems %q; want the training found in the batch", strict, res, err, problems)
		}
		res, _ = Enqueue(ctx, w.store, w.queue, EnqueueOptions{Batch: "other", Manifests: []string{path}, Strict: strict,
			ServiceModels: service})
		if res.Added != 0 || res.Refused != 1 {
			t.Errorf("strict %v: another batch's training of voice_a: %+v; want it refused", strict, res)
		}
	}
}
