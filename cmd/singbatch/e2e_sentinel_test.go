package main

import (
	"context"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks"
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
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 51}, "UPSTREAM_RATE=50", "REDIS_URL="+set.URL())
	rdb := set.Client(t)
	store := batch.NewStore(rdb, keyspace.Keys{Prefix: e2ePrefix}, nil)
	ctx := t.Context()
	res, err := tasks.Enqueue(ctx, store, asynq.NewClientFromRedisClient(rdb),
		tasks.EnqueueOptions{Batch: "failover", Manifests: []string{b.songsManifest("failover", songs)}})
	if err != nil || res.Added != songs {
		t.Fatalf("enqueue: %+v %v", res, err)
	}
	for _, name := range []string{"w1", "w2", "w3"} {
		b.startWorker(name)
	}
	waitBatch := func(what string, timeout time.Duration, cond func(batch.BatchRecord) bool) batch.BatchRecord {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			rec, err := store.Batch(rctx, "failover")
			cancel()
			if err == nil && cond(rec) {
				return rec
			}
			if time.Now().After(deadline) {
				t.Fatalf("batch not %s within %v: %v (%v)", what, timeout, rec.Counts, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitBatch("a third done", 60*time.Second, func(r batch.BatchRecord) bool { return r.Finished() >= songs/3 })
	set.Master.Kill()
	killed := time.Now()
	// Tasks running at the failover come back when Asynq finds their lease expired
	// (its recoverer looks every minute), hence the long wait.
	rec := waitBatch("done", 240*time.Second, batch.BatchRecord.Done)
	st := b.sim.Stats()
	t.Logf("done %v after the master's death: %v; %d jobs created", time.Since(killed).Round(time.Millisecond), rec.Counts, st.JobsCreated)
	if rec.Counts[batch.StateCompleted] != songs {
		t.Errorf("counts %v, want all %d completed", rec.Counts, songs)
	}
	if len(st.PaidTwice) > 0 || st.JobsCreated != songs {
		t.Errorf("%d jobs created for %d songs; paid twice under %v", st.JobsCreated, songs, st.PaidTwice)
	}
	owner := map[string]string{}
	if err := store.Items(ctx, "failover", nil, func(r batch.ItemRecord) error {
		if other, dup := owner[r.JobID]; dup {
			t.Errorf("%s and %s share job %s", r.ID, other, r.JobID)
		}
		owner[r.JobID] = r.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}
