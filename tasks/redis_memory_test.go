package tasks

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/redismem"
)

// memPatterns attribute the bench's keys (prefix "test") to the structures of
// docs/redis-memory.md, first match wins.
var memPatterns = []string{
	"asynq:{*}:t:*",       // asynq task hashes
	"asynq:{*}:pending",   // asynq pending lists
	"asynq:{*}:scheduled", // asynq schedules (polls, retries)
	"asynq:{*}:*",         // asynq's other keys of a queue
	"asynq:*",             // asynq's global keys (queues, servers)
	"{test}:item:*",
	"{test}:item-request:*",
	"{test}:batch-order:*",
	"{test}:group*",
	"{test}:*",
}

// Redis memory per item of a batch of songs: once enqueued (records and submit
// tasks), and once every item is final and its tasks are gone. The bounds (MEMORY
// USAGE of the keys) keep docs/redis-memory.md's figures from creeping back; SINGBATCH_MEM_ITEMS changes the
// batch's size (default 2000) and the breakdown is logged (go test -v -run
// TestRedisMemoryPerItem ./tasks/).
func TestRedisMemoryPerItem(t *testing.T) {
	n := 2000
	if s := os.Getenv("SINGBATCH_MEM_ITEMS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatal(err)
		}
	}
	b := newBundle(t, func(c *bundleConfig) {
		c.settings.GroupSize = 0 // the default: grouped customIds
		c.worker.Concurrency = 20
	})
	ctx := context.Background()
	path := b.benchSongs(n)
	before, err := redismem.UsedMemory(ctx, b.rdb)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Enqueue(ctx, b.store, b.queue, EnqueueOptions{Batch: "mem", Manifests: []string{path}, Format: manifest.FormatJSONL})
	if err != nil || res.Added != n || res.Queued != n {
		t.Fatalf("Enqueue: %+v, %v", res, err)
	}
	if per := b.memoryPerItem("enqueued", before, n); per > 560 {
		t.Errorf("enqueued: %.0f bytes per item in keys, want at most 560", per)
	}

	b.start()
	b.waitDone("mem", 5*time.Minute)
	// Wait until asynq has let go of every task (the last polls are deleted just after
	// their item is recorded).
	deadline := time.Now().Add(30 * time.Second)
	for {
		keys, err := b.rdb.Keys(ctx, "asynq:{*}:t:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d asynq tasks left, e.g. %s", len(keys), keys[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if per := b.memoryPerItem("finished", before, n); per > 640 {
		t.Errorf("finished: %.0f bytes per item in keys, want at most 640", per)
	}
}

// benchSongs writes a manifest of n songs like the bench's (bench/modes.go) and returns
// its path: url inputs of the same length as its https://cdn.example.com/N.mp3, served
// by the bundle's audio server.
func (b *bundle) benchSongs(n int) string {
	b.t.Helper()
	var sb strings.Builder
	for i := range n {
		fmt.Fprintf(&sb, `{"id":"s%07d","kind":"song","url":"%s/song.wav?%d","contentId":"repo"}`+"\n", i, b.audio.URL, i%10)
	}
	path := filepath.Join(b.t.TempDir(), "songs.jsonl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return path
}

// memoryPerItem logs used_memory's growth since before per item and the breakdown by
// memPatterns, and returns the breakdown's sum per item: what the keys hold, without
// what used_memory adds (the keyspace's table, clients' buffers), which is too much of
// a small run's growth to bound.
func (b *bundle) memoryPerItem(when string, before int64, n int) float64 {
	b.t.Helper()
	ctx := context.Background()
	after, err := redismem.UsedMemory(ctx, b.rdb)
	if err != nil {
		b.t.Fatal(err)
	}
	groups, err := redismem.Breakdown(ctx, b.rdb, 0, memPatterns...)
	if err != nil {
		b.t.Fatal(err)
	}
	var sum float64
	for _, g := range groups {
		b.t.Logf("  %6.1f B/item  %s", g.PerItem(n), g)
		sum += g.PerItem(n)
	}
	b.t.Logf("%s: used_memory +%d bytes, %.0f B/item; keys %.0f B/item", when, after-before, float64(after-before)/float64(n), sum)
	return sum
}
