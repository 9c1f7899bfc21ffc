package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/internal/testkit"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// An e2eBundle is one multi-process test's world: the singbatch binary built once into
// the test's folder, a private redis-server, an in-process simulator, and `singbatch
// worker` processes started from the binary against both.

var e2eCreds = upstream.Credentials{
	SecretID:  upstream.NewSecret("AKIDe2eTest"),
	SecretKey: upstream.NewSecret("e2eKey-s3cr3t"),
}

const e2ePrefix = "e2e"

type e2eBundle struct {
	t       *testing.T
	bin     string
	dir     string
	redis   *redistest.Server
	rdb     *redis.Client
	store   *batch.Store
	queue   redis.UniversalClient // where enqueue puts tasks: rdb, or the Redis of useRedis
	sim     *sim.Server
	vars    []string // the workers' environment
	workers []*e2eProc
}

// newE2E builds the binary and starts Redis and the simulator; vars are added to the
// workers' environment (after the defaults, so they win).
func newE2E(t *testing.T, simOpts sim.Options, vars ...string) *e2eBundle {
	t.Helper()
	if testing.Short() {
		t.Skip("multi-process test: skipped with -short")
	}
	b := &e2eBundle{t: t, dir: t.TempDir()}
	b.bin = filepath.Join(b.dir, "singbatch")
	start := time.Now()
	build := exec.Command("go", "build", "-o", b.bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("go build: %v", time.Since(start).Round(time.Millisecond))
	simOpts.Credentials = e2eCreds
	kit := testkit.New(t, testkit.Options{Prefix: e2ePrefix, AOF: true, Sim: simOpts})
	b.redis, b.rdb, b.store, b.sim = kit.Redis, kit.RDB, kit.Store, kit.Sim
	b.queue = b.rdb
	srv := kit.Sim

	b.vars = append([]string{
		"REDIS_URL=" + b.redis.URL(), "REDIS_PREFIX=" + e2ePrefix,
		"UPSTREAM_URL=" + srv.URL(), "UPSTREAM_SECRET_ID=" + e2eCreds.SecretID.Reveal(),
		"UPSTREAM_SECRET_KEY=" + e2eCreds.SecretKey.Reveal(), "UPSTREAM_TIMEOUT=5s",
		// Timings for a simulator at TimeScale 0.01 (a 3-minute song takes about 0.5 s).
		"RECONCILE_DELAY=1s", "POLL_PROBE_START=100ms", "POLL_MIN_INTERVAL=100ms", "POLL_MAX_INTERVAL=2s",
		"RETRY_BASE=50ms", "RETRY_CAP=1s", "SHUTDOWN_TIMEOUT=5s", "POLL_NOT_FOUND_GRACE=30s",
		"WORKER_CONCURRENCY=20", "LOG_FORMAT=json", "LOG_LEVEL=info", "HTTP_ADDR=127.0.0.1:0",
	}, vars...)
	t.Cleanup(func() {
		if t.Failed() {
			for _, w := range b.workers {
				t.Logf("--- %s (tail):\n%s", w.name, e2eTail(w.logFile, 3000))
			}
		}
	})
	return b
}

// songsManifest writes n songs on the default model; with SkipFetch their URLs are
// never fetched.
func (b *e2eBundle) songsManifest(name string, n int) string {
	b.t.Helper()
	var s strings.Builder
	for i := range n {
		fmt.Fprintf(&s, `{"id":"s-%04d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"repo1"}`+"\n", i, i)
	}
	p := filepath.Join(b.dir, name+".jsonl")
	if err := os.WriteFile(p, []byte(s.String()), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// enqueue reads a manifest into a batch and queues its items, as `singbatch enqueue`.
func (b *e2eBundle) enqueue(batchName, manifest string) {
	b.t.Helper()
	res, err := tasks.Enqueue(b.t.Context(), b.store, asynq.NewClientFromRedisClient(b.queue),
		tasks.EnqueueOptions{Batch: batchName, Manifests: []string{manifest}, Strict: true})
	if err != nil || res.Queued != res.Added || res.Added == 0 {
		b.t.Fatalf("enqueue: %+v %v", res, err)
	}
}

// useRedis points the workers (REDIS_URL=url) and the bundle's store and enqueue at
// another Redis than the bundle's own: a Sentinel set, a cluster. rdb is a client of it.
func (b *e2eBundle) useRedis(url string, rdb redis.UniversalClient) {
	b.vars = append(b.vars, "REDIS_URL="+url) // the last value wins in a process environment
	b.store = batch.NewStore(rdb, keyspace.Keys{Prefix: e2ePrefix}, nil)
	b.queue = rdb
}

// e2eProc is one `singbatch worker` process.
type e2eProc struct {
	name    string
	cmd     *exec.Cmd
	logFile string
	done    chan error
}

// startWorker starts a worker process; it is stopped (SIGTERM) when the test ends.
func (b *e2eBundle) startWorker(name string) *e2eProc {
	b.t.Helper()
	return b.startProc(name, "worker")
}

// startSimProcess serves the simulator from the built binary, in a process of its own
// (not race-instrumented, unlike the test), and points the workers at it: the
// arrival times it measures then carry no delay of the test process. It returns the
// simulator's base URL.
func (b *e2eBundle) startSimProcess(args ...string) string {
	b.t.Helper()
	p := b.startProc("sim", append([]string{"sim", "--addr", "127.0.0.1:0", "--output-dir", b.t.TempDir()}, args...)...)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		out, _ := os.ReadFile(p.logFile)
		for _, line := range strings.Split(string(out), "\n") {
			if rest, ok := strings.CutPrefix(line, "singbatch sim: serving "); ok {
				url, _, _ := strings.Cut(rest, " ")
				b.vars = append(b.vars, "UPSTREAM_URL="+url) // the last value wins in a process environment
				return url
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b.t.Fatalf("singbatch sim did not start:\n%s", e2eTail(p.logFile, 2000))
	return ""
}

// simProcessStats reads a simulator process's statistics from its /sim/stats.
func (b *e2eBundle) simProcessStats(url string) sim.Stats {
	b.t.Helper()
	resp, err := http.Get(url + sim.StatsPath)
	if err != nil {
		b.t.Fatalf("simulator stats: %v", err)
	}
	defer resp.Body.Close()
	var st sim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.t.Fatalf("simulator stats: %v", err)
	}
	return st
}

// startProc starts the built binary with args, its output in NAME.log.
func (b *e2eBundle) startProc(name string, args ...string) *e2eProc {
	b.t.Helper()
	p := &e2eProc{name: name, logFile: filepath.Join(b.dir, name+".log"), done: make(chan error, 1)}
	logf, err := os.OpenFile(p.logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	p.cmd = exec.Command(b.bin, args...)
	p.cmd.Env = b.vars
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	dieWithParent(p.cmd) // a worker must not outlive a test binary that dies
	if err := p.cmd.Start(); err != nil {
		_ = logf.Close()
		b.t.Fatalf("start %s: %v", name, err)
	}
	go func() { // owned by p: ends when the process does
		p.done <- p.cmd.Wait()
		_ = logf.Close()
	}()
	b.workers = append(b.workers, p)
	b.t.Cleanup(func() { p.stop(b.t) })
	return p
}

// stop ends the process gracefully, or kills it after a while.
func (p *e2eProc) stop(t *testing.T) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("%s exited with %v", p.name, err)
		}
	case <-time.After(20 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
		t.Errorf("%s did not stop within 20 s of SIGTERM", p.name)
	}
}

// kill ends the process abruptly, as a crash would.
func (p *e2eProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitDone waits until every item of the batch is final.
func (b *e2eBundle) waitDone(batchName string, timeout time.Duration) batch.BatchRecord {
	b.t.Helper()
	return b.waitFor(batchName, timeout, "done", batch.BatchRecord.Done)
}

// waitFor waits until cond holds for the batch record.
func (b *e2eBundle) waitFor(batchName string, timeout time.Duration, what string, cond func(batch.BatchRecord) bool) batch.BatchRecord {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.t.Context(), timeout)
	defer cancel()
	for {
		rec, err := b.store.Batch(ctx, batchName)
		if err == nil && cond(rec) {
			return rec
		}
		select {
		case <-ctx.Done():
			b.t.Fatalf("batch %s not %s within %v: %v (%v)", batchName, what, timeout, rec.Counts, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// assertNoSecretInLogs checks every worker's log for the credentials.
func (b *e2eBundle) assertNoSecretInLogs() {
	b.t.Helper()
	for _, w := range b.workers {
		log, err := os.ReadFile(w.logFile)
		if err != nil {
			b.t.Fatal(err)
		}
		if len(log) == 0 {
			b.t.Errorf("%s logged nothing", w.name)
		}
		for _, secret := range []string{e2eCreds.SecretID.Reveal(), e2eCreds.SecretKey.Reveal()} {
			if strings.Contains(string(log), secret) {
				b.t.Errorf("%s's log contains a credential", w.name)
			}
		}
	}
}

// e2eTail is the end of a file, for failure logs.
func e2eTail(name string, n int) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return err.Error()
	}
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
