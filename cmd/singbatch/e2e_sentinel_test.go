package main

import (
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Three worker processes on a Sentinel-watched Redis (a master, a replica, three
// sentinels; REDIS_URL=redis-sentinel://…). The master is killed mid-batch: the
// sentinels promote the replica, the workers follow it, and the batch finishes with
// every item completed by a job of its own, none paid twice.
func TestSentinelFailoverMidBatch(t *testing.T) {
	t.Parallel()
	const songs = 200
	set := redistest.StartSentinel(t)
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 51}, "UPSTREAM_RATE=50")
	b.useRedis(set.URL(), set.Client(t))
	b.enqueue("failover", b.songsManifest("failover", songs))
	for _, name := range []string{"w1", "w2", "w3"} {
		b.startWorker(name)
	}
	b.waitFor("failover", 60*time.Second, "a third done", func(r batch.BatchRecord) bool { return r.Finished() >= songs/3 })
	set.Master.Kill()
	killed := time.Now()
	// Tasks running at the failover come back when Asynq finds their lease expired
	// (its recoverer looks every minute), hence the long wait.
	rec := b.waitDone("failover", 240*time.Second)
	st := b.sim.Stats()
	t.Logf("done %v after the master's death: %v; %d jobs created", time.Since(killed).Round(time.Millisecond), rec.Counts, st.JobsCreated)
	if rec.Counts[batch.StateCompleted] != songs {
		t.Errorf("counts %v, want all %d completed", rec.Counts, songs)
	}
	if len(st.PaidTwice) > 0 || st.JobsCreated != songs {
		t.Errorf("%d jobs created for %d songs; paid twice under %v", st.JobsCreated, songs, st.PaidTwice)
	}
	owner := map[string]string{}
	if err := b.store.Items(t.Context(), "failover", nil, func(r batch.ItemRecord) error {
		if other, dup := owner[r.JobID]; dup {
			t.Errorf("%s and %s share job %s", r.ID, other, r.JobID)
		}
		owner[r.JobID] = r.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
