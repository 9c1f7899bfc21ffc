package tasks_test

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
)

// ExampleEnqueue reads a manifest into a batch on a private redis-server and queues a
// submit task per item; the bad line is reported and skipped. Enqueueing the same
// manifest again adds nothing and queues nothing: it is safe to repeat.
func ExampleEnqueue() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "singbatch-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	srv, err := redisproc.Start(ctx, redisproc.Options{Dir: dir})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Stop()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rdb.Close()
	store := batch.NewStore(rdb, keyspace.Keys{}, nil)
	queue := asynq.NewClientFromRedisClient(rdb)

	const jsonl = `{"id":"alice","kind":"train","model":"alice_v1","urls":["https://example.com/a1.wav"]}
{"id":"s-001","kind":"song","url":"https://example.com/1.mp3","model":"alice_v1","contentId":"repo1"}
{"id":"s-002","kind":"song","contentId":"repo1"}
`
	for run := 1; run <= 2; run++ {
		res, err := tasks.Enqueue(ctx, store, queue, tasks.EnqueueOptions{
			Batch: "demo", Manifests: []string{"-"}, Stdin: strings.NewReader(jsonl), Format: manifest.FormatJSONL,
			OnLineError: func(le *batch.LineError) { fmt.Println("  skipped", le) },
		})
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("run %d: %d added, %d already there, %d rejected, %d tasks queued\n",
			run, res.Added, res.Existing, res.Rejected, res.Queued)
	}
	// Output:
	//   skipped stdin:3: url: a song needs one input: url, text or source
	// run 1: 2 added, 0 already there, 1 rejected, 2 tasks queued
	//   skipped stdin:3: url: a song needs one input: url, text or source
	// run 2: 0 added, 2 already there, 1 rejected, 0 tasks queued
}
