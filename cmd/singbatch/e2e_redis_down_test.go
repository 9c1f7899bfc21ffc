package main

import (
	"encoding/json"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream/sim"
)

// What tasks.waitForRedis logs (tasks/worker_redis_wait.go), and the most often it logs
// its wait: once at the first failed ping, then at most once per redisWaitMax.
const (
	redisWaitMsg     = "waiting for redis"
	redisBackMsg     = "redis is back: starting"
	redisWaitLogEach = 10 * time.Second
)

// A `singbatch worker` process started while Redis is down stays up and says it waits
// (once per redisWaitLogEach, not in a loop); once Redis is started on its port, a batch
// enqueued with the command line completes, each item by one job of its own. Then Redis
// is stopped and started again while the worker runs, and a second batch completes the
// same way. SIGTERM ends the worker with 0.
func TestWorkerStartsWithRedisDown(t *testing.T) {
	t.Parallel()
	const first, second = 5, 10
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 61}, "UPSTREAM_RATE=50")

	b.redis.Stop()
	w := b.startWorker("w1")
	started := time.Now()
	waits := waitLogLines(t, w, redisWaitMsg, 1, 20*time.Second)
	if ms := waits[0]; ms["level"] != "warn" || ms["error"] == nil || ms["error"] == "" {
		t.Errorf("the wait's log line lacks its level or error: %v", ms)
	}
	if d, ok := waits[0]["retryIn"].(float64); !ok || d <= 0 {
		t.Errorf("the wait's log line has no positive retryIn: %v", waits[0])
	}
	time.Sleep(time.Until(started.Add(3 * time.Second))) // Redis down a few seconds
	assertRunning(t, w, "with Redis down")
	down := time.Since(started)
	if n, limit := len(logLines(t, w, redisWaitMsg)), 1+int(down/redisWaitLogEach); n > limit {
		t.Errorf("%q logged %d times in %v; at most %d (once, then once per %v)", redisWaitMsg, n, down.Round(time.Millisecond), limit, redisWaitLogEach)
	}
	// Its stderr is its own JSON lines only (go-redis's plain-text "redis: … failed to
	// dial" lines are silenced in main), and few of them while the pings back off.
	logged := e2eTail(w.logFile, 1<<20)
	if raw := strings.Count(logged, "\n"); raw > 40 {
		t.Errorf("the worker wrote %d log lines in %v with Redis down: a loop?\n%s", raw, down.Round(time.Millisecond), e2eTail(w.logFile, 3000))
	}
	for line := range strings.Lines(logged) {
		if strings.HasSuffix(line, "\n") && !json.Valid([]byte(line)) {
			t.Errorf("a log line that is not JSON: %q", line)
		}
	}

	b.redis.Restart(t)
	if back := waitLogLines(t, w, redisBackMsg, 1, 20*time.Second); len(back) != 1 {
		t.Errorf("%q logged %d times, want once", redisBackMsg, len(back))
	}
	b.runCLI("enqueue", "--batch", "late", b.songsManifest("late", first))
	rec := b.waitDone("late", 30*time.Second)
	if rec.Counts[batch.StateCompleted] != first {
		t.Errorf("batch late: counts %v, want %d completed", rec.Counts, first)
	}
	assertOneJobEach(b, first, "late")
	t.Logf("batch late done %v after the worker's start", time.Since(started).Round(time.Millisecond))

	// Redis stopped (SIGTERM: its append-only file is flushed) and started again on its
	// port while the worker runs idle: its queues and store reconnect, and the next
	// batch completes, no job created twice. (Stopped while tasks are in flight, the
	// batch completes too, nothing lost or paid twice, but only after about two minutes:
	// see the note at the end of this file.)
	b.redis.Stop()
	time.Sleep(2 * time.Second)
	assertRunning(t, w, "with Redis stopped while it ran")
	b.redis.Restart(t)
	restarted := time.Now()
	b.runCLI("enqueue", "--batch", "again", b.songsManifest("again", second))
	rec = b.waitDone("again", 30*time.Second)
	t.Logf("batch again done %v after Redis restarted", time.Since(restarted).Round(time.Millisecond))
	if rec.Counts[batch.StateCompleted] != second {
		t.Errorf("batch again: counts %v, want %d completed", rec.Counts, second)
	}
	assertOneJobEach(b, first+second, "late", "again")

	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-w.done:
		if err != nil {
			t.Errorf("worker exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("worker did not exit within 20 s of SIGTERM") // the cleanup kills it
	}
	if len(logLines(t, w, "worker stopped")) != 1 {
		t.Error(`no "worker stopped" in the log`)
	}
	b.assertNoSecretInLogs()
}

// assertRunning fails the test unless the process is still running.
func assertRunning(t *testing.T, p *e2eProc, when string) {
	t.Helper()
	select {
	case err := <-p.done: // p.cmd.ProcessState is set now: the cleanup's stop returns
		t.Fatalf("%s exited %s: %v\n%s", p.name, when, err, e2eTail(p.logFile, 3000))
	default:
	}
}

// logLines are the process's JSON log lines whose msg is msg (every line with msg "").
func logLines(t *testing.T, p *e2eProc, msg string) []map[string]any {
	t.Helper()
	out, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	var lines []map[string]any
	for line := range strings.Lines(string(out)) {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			continue // a last line half written
		}
		if msg == "" || m["msg"] == msg {
			lines = append(lines, m)
		}
	}
	return lines
}

// waitLogLines waits until the process has logged msg at least n times.
func waitLogLines(t *testing.T, p *e2eProc, msg string, n int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if lines := logLines(t, p, msg); len(lines) >= n {
			return lines
		}
		assertRunning(t, p, "waiting for "+msg)
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log %q within %v:\n%s", p.name, msg, timeout, e2eTail(p.logFile, 3000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// assertOneJobEach checks that the simulator created total jobs, none paid twice, and
// that each item of the batches has its own, the only ones under its customId.
func assertOneJobEach(b *e2eBundle, total int, batches ...string) {
	t := b.t
	t.Helper()
	st := b.sim.Stats()
	if st.JobsCreated != total || len(st.PaidTwice) > 0 {
		t.Errorf("%d jobs created for %d items; paid twice under %v", st.JobsCreated, total, st.PaidTwice)
	}
	members, owner := map[string]int{}, map[string]string{}
	for _, name := range batches {
		if err := b.store.Items(t.Context(), name, nil, func(r batch.ItemRecord) error {
			members[r.CustomID]++
			if other, dup := owner[r.JobID]; dup || r.JobID == "" {
				t.Errorf("%s: job %q (also %s's)", r.ID, r.JobID, other)
			}
			owner[r.JobID] = r.ID
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for cid, n := range members {
		if st.JobsByCustomID[cid] != n {
			t.Errorf("customId %s: %d jobs at the simulator for %d items", cid, st.JobsByCustomID[cid], n)
		}
	}
}

// With Redis stopped while tasks are in flight (tried with 40 songs, Redis down 2 s),
// the batch takes about two minutes to complete, not seconds: the tasks whose end
// asynq could not record stay in their queue's active list until the recoverer finds
// their lease expired (30 s lease, 30 s allowed skew, a look every minute). asynq
// v0.26's syncer, which should record them once Redis is back, retries with the
// context of the first attempt, which processor.retry/markAsDone/… cancel as they
// return ("defer cancel()"), so every retry fails at once. Nothing is lost and nothing
// paid twice; it is only slow, hence not in this test (CI's budget).
