package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/tasks/limiter"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

var benchCreds = upstream.Credentials{
	SecretID:  upstream.NewSecret("AKIDbenchPolling"),
	SecretKey: upstream.NewSecret("bench-polling-s3cr3t"),
}

// world is one run's fresh Redis, simulator and rate-limited client.
type world struct {
	dir    string
	redis  *redisproc.Proc
	rdb    *redis.Client
	store  *batch.Store
	sim    *sim.Server
	api    *upstream.Client
	gate   *tasks.SubmitGate
	closed bool
}

func newWorld(ctx context.Context, o options, sc scenario) (*world, error) {
	w := &world{}
	var err error
	if w.dir, err = os.MkdirTemp("", "singbatch-bench-polling-"); err != nil {
		return nil, err
	}
	if w.redis, err = redisproc.Start(ctx, redisproc.Options{Dir: w.dir}); err != nil {
		w.close()
		return nil, err
	}
	w.rdb = redis.NewClient(&redis.Options{Addr: w.redis.Addr(), PoolSize: 64})
	keys := keyspace.Keys{Prefix: "bench"}
	w.store = batch.NewStore(w.rdb, keys, nil)
	jitter := o.jitter
	if jitter == 0 {
		jitter = -1 // the simulator's "none"
	}
	// Of a job's mean duration, a tenth is spent queued and the rest processing; the
	// per-second and per-epoch parts are made negligible.
	timing := sim.Timing{QueueDelay: sc.duration / 10, Jitter: jitter}
	if sc.train {
		timing.TrainBase, timing.TrainPerEpochMinute = sc.duration*9/10, time.Nanosecond
	} else {
		timing.GenerateBase, timing.GeneratePerAudioSecond = sc.duration*9/10, time.Nanosecond
	}
	if w.sim, err = sim.New(sim.Options{Credentials: benchCreds, TimeScale: sc.scale, Rate: int(o.rate), Timing: timing,
		SkipFetch: true, OutputDir: filepath.Join(w.dir, "out"), Seed: 7}); err != nil {
		w.close()
		return nil, err
	}
	lim, err := limiter.New(w.rdb, limiter.Options{Rate: o.rate, SubmitShare: o.submitShare,
		Keys: keys})
	if err != nil {
		w.close()
		return nil, err
	}
	w.gate = tasks.NewSubmitGate(lim)
	if w.api, err = upstream.New(upstream.Options{BaseURL: w.sim.URL(), Credentials: benchCreds, Timeout: 10 * time.Second,
		Gate: w.gate, HTTPClient: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}}); err != nil {
		w.close()
		return nil, err
	}
	return w, nil
}

func (w *world) close() {
	if w.sim != nil {
		_ = w.sim.Close()
	}
	if w.rdb != nil {
		_ = w.rdb.Close()
	}
	if w.redis != nil {
		w.redis.Stop()
	}
	_ = os.RemoveAll(w.dir)
}

// manifest writes the scenario's jobs as a manifest.
func (w *world) manifest(o options, sc scenario) (string, error) {
	var m strings.Builder
	for i := range o.jobs {
		if sc.train {
			fmt.Fprintf(&m, `{"id":"t%04d","kind":"train","model":"bench_%04d","urls":["https://cdn.example.com/v%d.wav"],"epochs":10}`+"\n", i, i, i)
		} else {
			fmt.Fprintf(&m, `{"id":"s%04d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"repo"}`+"\n", i, i)
		}
	}
	name := filepath.Join(w.dir, "bench.jsonl")
	return name, os.WriteFile(name, []byte(m.String()), 0o644)
}

// workerSettings are the defaults with their intervals scaled like the simulator's
// clock, and the variant's hint.
func workerSettings(sc scenario, v variant) tasks.Settings {
	scaled := func(d time.Duration) time.Duration { return time.Duration(float64(d) * sc.scale) }
	s := tasks.DefaultSettings()
	s.ReconcileDelay = time.Second // the simulator answers at once
	s.Poll.ProbeStart = scaled(s.Poll.ProbeStart)
	s.Poll.MinInterval = scaled(s.Poll.MinInterval)
	s.Poll.MaxInterval = scaled(s.Poll.MaxInterval)
	s.Poll.CallbackGrace = scaled(s.Poll.CallbackGrace)
	s.GroupSize = v.groupSize
	if v.hint > 0 {
		h := scaled(time.Duration(float64(sc.duration) * v.hint))
		s.Poll.HintSong, s.Poll.HintTrain = h, h
	}
	return s
}

// finished is one job's end as the service saw it and as recorded.
type finished struct {
	jobID    string
	recorded time.Time
}

func runOnce(ctx context.Context, o options, sc scenario, v variant) (runResult, error) {
	w, err := newWorld(ctx, o, sc)
	if err != nil {
		return runResult{}, err
	}
	defer w.close()
	manifest, err := w.manifest(o, sc)
	if err != nil {
		return runResult{}, err
	}
	start := time.Now()
	var done []finished
	if v.naive {
		done, err = runNaive(ctx, w, manifest, time.Second)
	} else {
		done, err = runWorker(ctx, w, manifest, workerSettings(sc, v), o.jobs, v)
	}
	if err != nil {
		return runResult{}, err
	}
	makespan := time.Since(start)
	return w.measure(sc, v, done, makespan)
}

// runWorker enqueues the manifest and runs one worker with the production defaults of
// Asynq's checks until every item is final.
func runWorker(ctx context.Context, w *world, manifest string, settings tasks.Settings, n int, v variant) ([]finished, error) {
	deps := tasks.HandlerDeps{Store: w.store, API: w.api, Gate: w.gate}
	var ln net.Listener
	if v.callbacks {
		var err error
		if ln, deps.Callbacks, err = w.callbackListener(v.drop); err != nil {
			return nil, err
		}
		defer ln.Close()
	}
	wk, err := tasks.NewWorker(tasks.WorkerOptions{Redis: w.rdb, DelayedTaskCheckInterval: time.Second, ShutdownTimeout: 5 * time.Second},
		deps, settings)
	if err != nil {
		return nil, err
	}
	if ln != nil {
		defer serveCallbacks(ln, wk.Handlers())()
	}
	wctx, cancel := context.WithCancel(ctx)
	stopped := make(chan error, 1)
	go func() { stopped <- wk.Run(wctx) }()
	defer func() {
		cancel()
		<-stopped
	}()
	if _, err := tasks.Enqueue(ctx, w.store, asynq.NewClientFromRedisClient(w.rdb),
		tasks.EnqueueOptions{Batch: "bench", Manifests: []string{manifest}}); err != nil {
		return nil, err
	}
	for {
		r, err := w.store.Batch(ctx, "bench")
		if err != nil {
			return nil, err
		}
		if r.Done() {
			if r.Counts[batch.StateCompleted] != int64(n) {
				return nil, fmt.Errorf("batch ended with %v", r.Counts)
			}
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	var out []finished
	err = w.store.Items(ctx, "bench", nil, func(rec batch.ItemRecord) error {
		out = append(out, finished{jobID: rec.JobID, recorded: rec.UpdatedAt})
		return nil
	})
	return out, err
}

// measure turns a run into figures, in simulated time.
func (w *world) measure(sc scenario, v variant, done []finished, makespan time.Duration) (runResult, error) {
	sim := func(d time.Duration) time.Duration { return time.Duration(float64(d) / sc.scale) }
	r := runResult{v: v, jobs: len(done), makespan: sim(makespan)}
	var lags, real []time.Duration
	var shares []float64
	for _, f := range done {
		j, ok := w.sim.Job(f.jobID)
		if !ok || j.State != upstream.StateCompleted {
			return r, fmt.Errorf("job %s: not completed at the simulator", f.jobID)
		}
		lag := f.recorded.Sub(j.Timing.CompletedAt.Time())
		lags = append(lags, sim(lag))
		real = append(real, lag)
		shares = append(shares, float64(lag)/float64(j.Timing.CompletedAt.Time().Sub(j.Timing.CreatedAt.Time())))
	}
	if len(lags) == 0 {
		return r, errors.New("no job finished")
	}
	slices.Sort(lags)
	slices.Sort(real)
	slices.Sort(shares)
	r.lagReal = real[len(real)/2]
	r.lagP50, r.lagP95 = lags[len(lags)/2], lags[(len(lags)*95+99)/100-1]
	r.shareP95 = shares[(len(shares)*95+99)/100-1]
	st := w.sim.Stats()
	for _, outcomes := range st.Calls {
		for _, n := range outcomes {
			r.calls += n
		}
	}
	r.maxRate, r.throttle = st.MaxRequestsPerSecond, st.Throttled
	return r, nil
}
