package tasks

import (
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// A worker started while Redis is down waits for it, and then works: no exit for an
// orchestrator to restart in a loop.
func TestWorkerWaitsForRedisAtStart(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.redis.Stop()
	b.start()
	time.Sleep(4 * time.Second) // longer than a ping with go-redis's own retries: some fail
	b.redis.Restart(t)
	b.addManifest("late", songsManifest("s", 3))
	b.enqueueAll("late")
	if rec := b.waitDone("late", 30*time.Second); rec.Counts[batch.StateCompleted] != 3 {
		t.Errorf("counts %v, want 3 completed", rec.Counts)
	}
	if b.logs.FilterMessage("waiting for redis").Len() == 0 {
		t.Error("the wait was not logged")
	}
}
