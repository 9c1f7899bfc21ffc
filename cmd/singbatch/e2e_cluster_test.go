package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The whole product on a Redis Cluster of three masters (REDIS_URL=redis-cluster://…):
// Asynq's queues and scripts, ours, and the limiter, with three worker processes.
func TestWholeProductOnRedisCluster(t *testing.T) {
	t.Parallel()
	const songs = 60
	cluster := redistest.StartCluster(t)
	url := "redis-cluster://" + strings.Join(cluster.Addrs(), ",")
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 61}, "UPSTREAM_RATE=50", "REDIS_URL="+url)
	rdb := cluster.Client(t)
	store := batch.NewStore(rdb, keyspace.Keys{Prefix: e2ePrefix}, nil)
	ctx := t.Context()
	res, err := tasks.Enqueue(ctx, store, asynq.NewClientFromRedisClient(rdb),
		tasks.EnqueueOptions{Batch: "cluster", Manifests: []string{b.songsManifest("cluster", songs)}})
	if err != nil || res.Added != songs {
		t.Fatalf("enqueue: %+v %v", res, err)
	}
	for _, name := range []string{"w1", "w2", "w3"} {
		b.startWorker(name)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		rec, err := store.Batch(rctx, "cluster")
		cancel()
		if err == nil && rec.Done() {
			if rec.Counts[batch.StateCompleted] != songs {
				t.Errorf("counts %v", rec.Counts)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done on the cluster: %v (%v)", rec.Counts, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if st := b.sim.Stats(); st.JobsCreated != songs || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created, paid twice %v", st.JobsCreated, st.PaidTwice)
	}
}
