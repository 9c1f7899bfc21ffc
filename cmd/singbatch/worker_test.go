package main

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// workerSim starts a time-scaled simulator accepting the test credentials and returns
// the environment that points the worker at it.
func workerSim(t *testing.T) (*sim.Server, []string) {
	t.Helper()
	srv, err := sim.New(sim.Options{
		Credentials: upstream.Credentials{SecretID: upstream.NewSecret("AKIDcli"), SecretKey: upstream.NewSecret("cliKey-s3cr3t")},
		TimeScale:   0.001,
		OutputDir:   t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv, []string{
		"UPSTREAM_URL=" + srv.URL(), "UPSTREAM_SECRET_ID=AKIDcli", "UPSTREAM_SECRET_KEY=cliKey-s3cr3t",
		"UPSTREAM_RATE=50", "RECONCILE_DELAY=300ms", "POLL_PROBE_START=20ms", "POLL_MIN_INTERVAL=20ms",
		"POLL_MAX_INTERVAL=200ms", "RETRY_BASE=20ms", "RETRY_CAP=300ms", "SHUTDOWN_TIMEOUT=5s",
		"WORKER_QUEUES=poll=2,songs=1,train=1", "LOG_LEVEL=info", "HTTP_ADDR=127.0.0.1:0",
	}
}

// addSongs records n songs on the default model in a batch and enqueues their tasks.
func (b *cliBundle) addSongs(name string, ids ...string) {
	b.t.Helper()
	ctx := b.t.Context()
	items := make([]batch.Item, len(ids))
	for i, id := range ids {
		items[i] = batch.Item{ID: id, Kind: batch.KindSong, Model: upstream.DefaultModel, Origin: "m.jsonl:" + id,
			Spec: batch.JobSpec{Inputs: []batch.Input{{Text: "la la"}}, ContentID: "repo1", Destination: "/singbatch/" + id}}
	}
	if _, err := b.store.AddItems(ctx, name, "m.jsonl", items); err != nil {
		b.t.Fatal(err)
	}
	q := asynq.NewClientFromRedisClient(b.rdb)
	for _, id := range ids {
		task, err := tasks.NewSubmitTask(tasks.ItemRef{Batch: name, Item: id, Attempt: 1}, batch.KindSong, batch.PriorityNormal)
		if err != nil {
			b.t.Fatal(err)
		}
		if _, err := q.Enqueue(task); err != nil {
			b.t.Fatal(err)
		}
	}
}

// `singbatch worker` processes the queues until its context ends (SIGTERM/SIGINT in
// main), then stops within SHUTDOWN_TIMEOUT and returns nil.
func TestWorkerCommand(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	b := newCLI(t, vars...)
	b.addSongs("w", "s1", "s2")

	var stderr syncBuffer
	stop := b.startWorkerCommand(&stderr)
	b.waitCompleted("w", 2, &stderr)
	stop()
	if st := srv.Stats(); st.JobsCreated != 2 || len(st.PaidTwice) > 0 {
		t.Errorf("jobs created %d, duplicates %v", st.JobsCreated, st.PaidTwice)
	}
	logs := stderr.String()
	for _, want := range []string{"worker started", "item completed", "worker stopped"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "cliKey-s3cr3t") {
		t.Error("the secret key reached the log")
	}
}

func TestWorkerCommandConfiguration(t *testing.T) {
	t.Parallel()
	_, vars := workerSim(t)
	for _, c := range []struct {
		name string
		vars []string
		want string
	}{
		{"no credentials", []string{"UPSTREAM_SECRET_KEY="}, "UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY are required"},
		{"bad queues", []string{"WORKER_QUEUES=poll=1,song=2"}, "WORKER_QUEUES"},
		{"half a gateway key", []string{"UPSTREAM_GATEWAY_KEY_ID=kid"}, "set both or neither"},
		{"bad poll timing", []string{"POLL_PROBE_GROWTH=0.5"}, "ProbeGrowth"},
		{"bad duration", []string{"RECONCILE_DELAY=soon"}, `"soon"`},
		{"callbacks without secret", []string{"CALLBACK_URL=https://h/sb"}, "CALLBACK_SECRET: must be at least 32 bytes"},
		{"short callback secret", []string{"CALLBACK_URL=https://h/sb", "CALLBACK_SECRET=short"}, "CALLBACK_SECRET"},
		{"secret without URL", []string{"CALLBACK_SECRET=" + strings.Repeat("s", 32)}, "CALLBACK_URL is not"},
		{"relative callback URL", []string{"CALLBACK_URL=/sb", "CALLBACK_SECRET=" + strings.Repeat("s", 32)}, "CALLBACK_URL"},
		{"notify secret not whsec_", []string{"NOTIFY_SECRET=plain-S3CR3T-0123456789abcdef"}, `NOTIFY_SECRET: must be "whsec_"`},
		{"short notify key", []string{"NOTIFY_SECRET=whsec_" + base64.StdEncoding.EncodeToString([]byte("S3CR3T-short"))}, "NOTIFY_SECRET: a key of 12 bytes"},
		{"negative account cap", []string{"ACCOUNT_MAX_JOBS_PER_DAY=-1"}, "AccountMaxJobsPerDay -1"},
	} {
		b := newCLI(t, append(append([]string{}, vars...), c.vars...)...)
		_, _, err := b.run(t.Context(), "", "worker")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %q", c.name, err, c.want)
		} else if strings.Contains(err.Error(), "S3CR3T") {
			t.Errorf("%s: the error shows the secret: %v", c.name, err)
		}
	}
	b := newCLI(t, vars...)
	if _, _, err := b.run(t.Context(), "", "worker", "extra"); !errors.As(err, new(usageError)) {
		t.Errorf("an extra argument: %v, want a usage error", err)
	}
}

// startWorkerCommand runs `singbatch worker` in-process; stop ends it and checks that it
// stopped cleanly.
func (b *cliBundle) startWorkerCommand(stderr *syncBuffer) (stop func()) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dispatch(ctx, b.env("", &syncBuffer{}, stderr), []string{"worker"}) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					b.t.Errorf("worker: %v", err)
				}
			case <-time.After(15 * time.Second):
				b.t.Fatal("worker did not stop after its context ended")
			}
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// waitCompleted waits until every item of the batch is final and checks that n completed.
func (b *cliBundle) waitCompleted(name string, n int64, stderr *syncBuffer) {
	b.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		rec, err := b.store.Batch(b.t.Context(), name)
		if err != nil {
			b.t.Fatal(err)
		}
		if rec.Done() {
			if rec.Counts[batch.StateCompleted] != n {
				b.t.Errorf("counts %v, want %d completed", rec.Counts, n)
			}
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("batch not done: %v\n%s", rec.Counts, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
