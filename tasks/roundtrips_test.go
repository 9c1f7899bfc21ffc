package tasks

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/redistest"
)

// Redis round trips per finished job, on instant jobs with the default settings
// (grouped polling) and an unlimited limiter, as section 6 of docs/BENCHMARKS.md runs
// them: each round trip is a system call on both sides, and they were most of a job's
// cost. The breakdown by caller is logged (go test -v -run TestRedisRoundTripsPerJob
// ./tasks/). The bound is loose (how often a job is polled depends on timing); it
// catches a round trip added per job, not noise. Measured 2026-12-04 on 2,000 jobs:
// 30.3 before the limiter's attempt became one script and the group's list claim
// took its member's check along, 22.2 after; asynq's own dequeue, ack and schedule
// scripts are about 7 of them.
func TestRedisRoundTripsPerJob(t *testing.T) {
	const n = 1000
	b := newBundle(t, func(c *bundleConfig) {
		c.settings = DefaultSettings()
		c.sim.TimeScale = 1e-6
		c.rate = 1_000_000
		c.worker.Concurrency = DefaultConcurrency
		c.worker.TaskCheckInterval = 0
		c.worker.DelayedTaskCheckInterval = 50 * time.Millisecond
		// Scaled as the bench's workers are (bench/worker_env.go).
		s := &c.settings
		s.ReconcileDelay = time.Second
		// The simulator scales a job's timeout with its clock: an hour would be 3.6 ms,
		// less than a job takes to fetch its input under the race detector.
		s.DefaultJobTimeout = 10_000 * time.Hour
		s.TimeoutGrace, s.NotFoundGrace = time.Second, time.Second
		s.RetryBase, s.RetryCap = 50*time.Millisecond, time.Second
		s.Poll.ProbeStart, s.Poll.MinInterval, s.Poll.ShortWait = 10*time.Millisecond, 10*time.Millisecond, 10*time.Millisecond
		s.Poll.MaxInterval, s.Poll.CallbackGrace = time.Second, 100*time.Millisecond
	})
	path := b.benchSongs(n)
	if _, err := Enqueue(t.Context(), b.store, b.queue, EnqueueOptions{Batch: "rt", Manifests: []string{path}, Format: manifest.FormatJSONL}); err != nil {
		t.Fatal(err)
	}
	hook := &redistest.RoundTrips{}
	b.rdb.AddHook(hook)
	b.start()
	rec := b.waitDone("rt", 2*time.Minute)
	if rec.Counts[batch.StateCompleted] != n {
		t.Fatalf("counts %v, want %d completed", rec.Counts, n)
	}

	bySite := map[string]int{}
	trips := hook.Take()
	for _, rt := range trips {
		command := rt.Commands
		if strings.HasPrefix(command, "[") {
			command = "pipeline"
		}
		bySite[rt.Caller+" ["+command+"]"]++
	}
	type site struct {
		name string
		n    int
	}
	var sites []site
	for k, v := range bySite {
		sites = append(sites, site{k, v})
	}
	total := len(trips)
	sort.Slice(sites, func(i, j int) bool { return sites[i].n > sites[j].n })
	perJob := float64(total) / n
	t.Logf("%d jobs: %d round trips, %.2f per job", n, total, perJob)
	for _, s := range sites {
		if s.n*100 >= n {
			t.Logf("%6.2f  %s", float64(s.n)/n, s.name)
		}
	}
	if perJob > 28 {
		t.Errorf("%.1f Redis round trips per finished job, want at most 28", perJob)
	}
}
