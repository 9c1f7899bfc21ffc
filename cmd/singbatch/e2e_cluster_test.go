package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/childproc"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The whole product on a Redis Cluster of three masters (REDIS_URL=redis-cluster://…):
// Asynq's queues and scripts, ours, and the limiter, with three worker processes and
// callbacks; a training with songs waiting for its model and songs on default; and
// the command line on the cluster: enqueue --max-jobs, pause, cancel, retry, resume,
// status and report.
func TestWholeProductOnRedisCluster(t *testing.T) {
	t.Parallel()
	const onModel, onDefault = 20, 40
	const items = 1 + onModel + onDefault
	cluster := redistest.StartCluster(t)
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 61}, "UPSTREAM_RATE=50")
	b.useRedis("redis-cluster://"+strings.Join(cluster.Addrs(), ","), cluster.Client(t))
	var m strings.Builder
	m.WriteString(`{"id":"t1","kind":"train","model":"voice_a","urls":["https://cdn.example.com/a.wav"],"epochs":1}` + "\n")
	for i := range onModel + onDefault {
		model := "default"
		if i < onModel {
			model = "voice_a"
		}
		fmt.Fprintf(&m, `{"id":"s-%04d","kind":"song","model":%q,"url":"https://cdn.example.com/%d.mp3","contentId":"repo1"}`+"\n", i, model, i)
	}
	manifest := filepath.Join(b.dir, "cluster.jsonl")
	if err := os.WriteFile(manifest, []byte(m.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	// One worker takes the callbacks (the others' jobs name it too), as behind a
	// load balancer with one member.
	addr, err := childproc.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	b.vars = append(b.vars, "CALLBACK_URL=http://"+addr, "CALLBACK_SECRET=cluster-callback-secret-0123456789abcdef", "HTTP_ADDR="+addr)
	// The cap leaves one item unsent: the training is always among the first 41 claims.
	b.runCLI("enqueue", "--batch", "cluster", "--max-jobs", fmt.Sprint(items-1), manifest)
	b.startWorker("w1")
	b.vars = append(b.vars, "HTTP_ADDR=127.0.0.1:0")
	b.startWorker("w2")
	b.startWorker("w3")
	rec := b.waitFor("cluster", 90*time.Second, "at its cap", func(r batch.BatchRecord) bool {
		return r.Counts[batch.StateCompleted] == items-1 && r.Parked == 1
	})
	if st := b.sim.Stats(); st.JobsCreated != items-1 || rec.Jobs != items-1 {
		t.Fatalf("cap %d: %d jobs created, %d counted", items-1, st.JobsCreated, rec.Jobs)
	}
	if out := b.runCLI("status", "--batch", "cluster"); !strings.Contains(out, "1 items held back: the batch's job cap") {
		t.Errorf("status at the cap:\n%s", out)
	}

	// Paused, the cap lifted: nothing is sent. Canceled: the last item ends canceled.
	b.runCLI("pause", "--batch", "cluster")
	b.runCLI("enqueue", "--batch", "cluster", "--max-jobs", "0", manifest)
	time.Sleep(1500 * time.Millisecond)
	if st := b.sim.Stats(); st.JobsCreated != items-1 {
		t.Fatalf("paused: %d jobs created, want still %d", st.JobsCreated, items-1)
	}
	b.runCLI("cancel", "--batch", "cluster")
	rec = b.waitDone("cluster", 30*time.Second)
	if rec.Counts[batch.StateCanceled] != 1 {
		t.Fatalf("after cancel: %v", rec.Counts)
	}
	// Retried and resumed, it completes.
	if out := b.runCLI("retry", "--batch", "cluster", "--state", "canceled"); !strings.Contains(out, "1 item retried") {
		t.Errorf("retry printed %q", out)
	}
	b.runCLI("resume", "--batch", "cluster")
	rec = b.waitDone("cluster", 30*time.Second)
	if rec.Counts[batch.StateCompleted] != items {
		t.Errorf("counts %v, want all %d completed", rec.Counts, items)
	}
	st := b.sim.Stats()
	if st.JobsCreated != items || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created, paid twice %v", st.JobsCreated, st.PaidTwice)
	}
	if st.Callbacks.Delivered < items/2 {
		t.Errorf("%d callbacks delivered; want most jobs' ends told by callback", st.Callbacks.Delivered)
	}
	n := 0
	for line := range strings.Lines(b.runCLI("report", "--batch", "cluster")) {
		var r batch.ReportRow
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.State != batch.StateCompleted || r.JobID == "" {
			t.Errorf("report line %q (%v)", line, err)
		}
		n++
	}
	if n != items {
		t.Errorf("report: %d lines, want %d", n, items)
	}
}
