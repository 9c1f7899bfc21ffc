package main

import (
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The whole product on a Redis Cluster of three masters (REDIS_URL=redis-cluster://…):
// Asynq's queues and scripts, ours, and the limiter, with three worker processes.
func TestWholeProductOnRedisCluster(t *testing.T) {
	t.Parallel()
	const songs = 60
	cluster := redistest.StartCluster(t)
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 61}, "UPSTREAM_RATE=50")
	b.useRedis("redis-cluster://"+strings.Join(cluster.Addrs(), ","), cluster.Client(t))
	b.enqueue("cluster", b.songsManifest("cluster", songs))
	for _, name := range []string{"w1", "w2", "w3"} {
		b.startWorker(name)
	}
	rec := b.waitDone("cluster", 90*time.Second)
	if rec.Counts[batch.StateCompleted] != songs {
		t.Errorf("counts %v, want all %d completed", rec.Counts, songs)
	}
	if st := b.sim.Stats(); st.JobsCreated != songs || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created, paid twice %v", st.JobsCreated, st.PaidTwice)
	}
}
