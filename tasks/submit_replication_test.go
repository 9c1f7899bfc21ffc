package tasks

import (
	"errors"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// A claim that no replica acknowledged in time sends no CreateJob: a failover could
// forget it and pay for the item again. The item stays claimed, and a later run, its
// claim then replicated (here: replication no longer required), reconciles and sends it.
func TestUnreplicatedClaimSendsNoCreateJob(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.addManifest("b", oneSong)
	strict := batch.NewStore(b.rdb, b.keys, nil)
	strict.SetReplication(batch.Replication{Replicas: 1, Timeout: 200 * time.Millisecond}) // this Redis has none
	deps := b.deps()
	deps.Store = strict
	h, err := NewHandlers(deps, b.cfg.settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(t.Context(), b.submitTask("b", "s1")); !errors.Is(err, batch.ErrNotReplicated) {
		t.Fatalf("ProcessTask = %v, want ErrNotReplicated", err)
	}
	if st := b.sim.Stats(); st.Requests != 0 {
		t.Fatalf("%d requests reached the service, want none", st.Requests)
	}
	if r := b.item("b", "s1"); r.State != batch.StateSubmitting || r.JobID != "" {
		t.Fatalf("item %s job %q, want still claimed, without a job", r.State, r.JobID)
	}
	b.enqueueAll("b")
	b.start()
	done := b.waitDone("b", 30*time.Second)
	if st := b.sim.Stats(); done.Counts[batch.StateCompleted] != 1 || st.JobsCreated != 1 {
		t.Errorf("after the retry: %v, %d jobs created; want 1 completed with one job", done.Counts, st.JobsCreated)
	}
}
