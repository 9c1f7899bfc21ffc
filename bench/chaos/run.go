package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/gomod"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// profile is what one chaos run does.
type profile struct {
	Items     int        // trainings, songs on them and songs on default: 2 %, 48 %, 50 %
	Workers   int        // worker processes
	Rate      int        // UPSTREAM_RATE and the simulator's limit, req/s
	Kills     int        // SIGKILLs of a random worker, each restarted
	Forged    int        // forged callbacks from a stranger
	Faults    sim.Faults // the simulator's, all at once
	TimeScale float64
	Timeout   time.Duration // the run gives up after it
	Seed      uint64
	Log       io.Writer // progress; nil: none
}

// fullProfile is the issue's: 2,000 items, three workers, 20 kills, 50 forged callbacks.
func fullProfile() profile {
	return profile{Items: 2000, Workers: 3, Rate: 50, Kills: 20, Forged: 50, Faults: faults(), TimeScale: 0.01,
		Timeout: 20 * time.Minute, Seed: 1}
}

// shortProfile is CI's: the same faults on 150 items, with 3 kills. Lost answers and
// hangs are five times likelier, so that so few calls surely meet some.
func shortProfile() profile {
	f := faults()
	f.LoseCreate, f.Hang = 0.05, 0.04
	return profile{Items: 150, Workers: 3, Rate: 50, Kills: 3, Forged: 10, Faults: f, TimeScale: 0.01,
		Timeout: 5 * time.Minute, Seed: 2}
}

// faults are the simulator's faults during a run, all at once.
func faults() sim.Faults {
	return sim.Faults{InternalError: 0.05, Hang: 0.02, HangFor: 20 * time.Second, LoseCreate: 0.01,
		CallbackDrop: 0.10, CallbackDuplicate: 0.10, CallbackDelay: 0.10, CallbackDelayFor: 3 * time.Second}
}

// chaosCreds are the simulated account's.
var chaosCreds = upstream.Credentials{SecretID: upstream.NewSecret("AKIDchaos"), SecretKey: upstream.NewSecret("chaos-key-s3cr3t")}

const (
	chaosPrefix = "chaos"
	chaosBatch  = "chaos"
	// callbackSecret signs the callback URLs; the forger does not know it.
	callbackSecret = "chaos-callback-secret-0123456789abcdef"
)

// run is one chaos run: it returns what it measured.
type run struct {
	p       profile
	dir     string
	bin     string
	redis   *redisproc.Proc
	rdb     *redis.Client
	store   *batch.Store
	sim     *sim.Server
	proxy   *balancer
	rng     *rand.Rand
	mu      sync.Mutex
	workers []*worker
	events  result // counts of what was done to it
}

// execute builds the binary, starts everything, runs the load under faults and
// compares the outcome with the simulator's truth.
func execute(ctx context.Context, p profile) (res result, err error) {
	r := &run{p: p, rng: rand.New(rand.NewPCG(p.Seed, 7))}
	if r.dir, err = os.MkdirTemp("", "singbatch-chaos-"); err != nil {
		return res, err
	}
	defer os.RemoveAll(r.dir)
	defer r.stopAll()
	if err := r.setUp(ctx); err != nil {
		return res, err
	}
	manifest, err := r.writeManifest()
	if err != nil {
		return res, err
	}
	start := time.Now()
	if out, err := r.cli(ctx, "enqueue", "--batch", chaosBatch, manifest); err != nil {
		return res, fmt.Errorf("enqueue: %w\n%s", err, out)
	}
	for i := range p.Workers {
		if err := r.startWorker(i); err != nil {
			return res, err
		}
	}
	chaosCtx, stopChaos := context.WithCancel(ctx)
	var chaos sync.WaitGroup
	chaos.Go(func() { r.disturb(chaosCtx) })
	done, err := r.waitDone(ctx, start)
	stopChaos()
	chaos.Wait()
	if err != nil {
		return res, err
	}
	r.mu.Lock()
	res = r.events
	r.mu.Unlock()
	res.Makespan = done.Sub(start)
	return r.compare(ctx, res)
}

// setUp starts Redis (AOF), the simulator and the callback balancer, and builds the binary.
func (r *run) setUp(ctx context.Context) error {
	r.bin = filepath.Join(r.dir, "singbatch")
	build := exec.CommandContext(ctx, "go", "build", "-o", r.bin, "./cmd/singbatch")
	build.Dir = gomod.Root()
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	if err := os.MkdirAll(filepath.Join(r.dir, "redis"), 0o755); err != nil {
		return err
	}
	var err error
	if r.redis, err = redisproc.Start(ctx, redisproc.Options{Dir: filepath.Join(r.dir, "redis"), AOF: true}); err != nil {
		return err
	}
	r.rdb = redis.NewClient(&redis.Options{Addr: r.redis.Addr()})
	r.store = batch.NewStore(r.rdb, keyspace.Keys{Prefix: chaosPrefix}, nil)
	if r.proxy, err = newBalancer(); err != nil {
		return err
	}
	r.sim, err = sim.New(sim.Options{Credentials: chaosCreds, TimeScale: r.p.TimeScale, SkipFetch: true,
		Seed: r.p.Seed, Rate: r.p.Rate, Faults: r.p.Faults, OutputDir: filepath.Join(r.dir, "out")})
	return err
}

// writeManifest writes the load: trainings, songs on their models, songs on default.
func (r *run) writeManifest() (string, error) {
	var b strings.Builder
	trainings := r.trainings()
	onModels := r.p.Items * 48 / 100
	for t := range trainings {
		fmt.Fprintf(&b, `{"id":%q,"kind":"train","model":"voice_%03d","urls":["https://cdn.example.com/voice/%d.wav"],"epochs":2}`+"\n", r.itemID(t), t, t)
	}
	for i := range r.p.Items - trainings {
		model := "default"
		if i < onModels {
			model = fmt.Sprintf("voice_%03d", i%trainings)
		}
		fmt.Fprintf(&b, `{"id":%q,"kind":"song","model":%q,"url":"https://cdn.example.com/song/%d.mp3","contentId":"chaos"}`+"\n", r.itemID(trainings+i), model, i)
	}
	path := filepath.Join(r.dir, "chaos.jsonl")
	return path, os.WriteFile(path, []byte(b.String()), 0o644)
}

// trainings is how many of the items are trainings: the first ones.
func (r *run) trainings() int { return max(1, r.p.Items/50) }

// itemID is the id of the manifest's n-th item (from 0): t000… for the trainings,
// then s00000… for the songs.
func (r *run) itemID(n int) string {
	if t := r.trainings(); n >= t {
		return fmt.Sprintf("s%05d", n-t)
	}
	return fmt.Sprintf("t%03d", n)
}

// env is the workers' and the command line's environment.
func (r *run) env(httpAddr string) []string {
	return append(os.Environ(),
		"REDIS_URL="+r.redis.URL(), "REDIS_PREFIX="+chaosPrefix,
		"UPSTREAM_URL="+r.sim.URL(), "UPSTREAM_SECRET_ID="+chaosCreds.SecretID.Reveal(),
		"UPSTREAM_SECRET_KEY="+chaosCreds.SecretKey.Reveal(), "UPSTREAM_TIMEOUT=5s",
		fmt.Sprintf("UPSTREAM_RATE=%d", r.p.Rate),
		"CALLBACK_URL="+r.proxy.URL(), "CALLBACK_SECRET="+callbackSecret,
		// Times for a simulator at TimeScale 0.01, as `singbatch run --sim` scales them.
		"RECONCILE_DELAY=1s", "RETRY_BASE=50ms", "RETRY_CAP=2s", "SHUTDOWN_TIMEOUT=5s",
		"POLL_NOT_FOUND_GRACE=30s", "WORKER_CONCURRENCY=20", "LOG_FORMAT=json", "LOG_LEVEL=info",
		"HTTP_ADDR="+httpAddr)
}

// cli runs the binary once.
func (r *run) cli(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, r.bin, args...)
	cmd.Env = r.env("127.0.0.1:0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitDone waits until every item is final, or the profile's timeout.
func (r *run) waitDone(ctx context.Context, start time.Time) (time.Time, error) {
	deadline := start.Add(r.p.Timeout)
	last := time.Time{}
	for {
		b, err := r.store.Batch(ctx, chaosBatch)
		if err == nil && b.Done() {
			return time.Now(), nil
		}
		if time.Since(last) > 10*time.Second && err == nil {
			r.logf("%5.0fs  %d/%d final  %v", time.Since(start).Seconds(), b.Finished(), b.Total, b.Counts)
			last = time.Now()
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("not done after %v: %v (%v)", r.p.Timeout, b.Counts, err)
		}
		select {
		case <-ctx.Done():
			return time.Time{}, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (r *run) logf(format string, args ...any) {
	if r.p.Log != nil {
		fmt.Fprintf(r.p.Log, "chaos: "+format+"\n", args...)
	}
}

// stopAll ends the workers, the simulator, the balancer and Redis.
func (r *run) stopAll() {
	r.mu.Lock()
	n := len(r.workers)
	r.mu.Unlock()
	for i := range n {
		r.stopWorker(i, syscall.SIGTERM)
	}
	if r.sim != nil {
		_ = r.sim.Close()
	}
	if r.proxy != nil {
		r.proxy.Close()
	}
	if r.rdb != nil {
		_ = r.rdb.Close()
	}
	if r.redis != nil {
		r.redis.Stop()
	}
}
