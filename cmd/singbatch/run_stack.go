package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// runner is one `singbatch run`: what it started, in the order it stops them (reversed).
type runner struct {
	e     env
	cfg   config // REDIS_URL and, with --sim, UPSTREAM_* point at what the run started
	f     runFlags
	start time.Time

	dir     runDir
	logFile *os.File
	log     *zap.Logger
	redis   *redisproc.Proc
	rdb     redis.UniversalClient
	store   *batch.Store
	files   *fileServer
	sim     *sim.Server
	// manifests are what is enqueued: the files given, or copies with the placeholder
	// replaced; shownAs maps a copy back to the file given, for messages.
	manifests []string
	shownAs   map[string]string

	workerStop context.CancelFunc
	workerDone chan error
}

// setUp prepares the working folder and starts Redis, and with --sim the file server
// and the simulator.
func (r *runner) setUp(ctx context.Context) error {
	var err error
	if r.dir, err = prepareRunDir(r.f.dir, r.f.sim); err != nil {
		return err
	}
	if r.logFile, err = os.OpenFile(r.dir.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return fmt.Errorf("run: log file: %w", err)
	}
	// The terminal shows the progress; the processes' logs go to the file.
	if r.log, err = newLogger(r.cfg, r.logFile); err != nil {
		return err
	}
	r.log = r.log.With(zap.String("command", "run"))
	r.printf("singbatch run: working folder %s (log: %s)\n", r.dir.root, r.dir.log)

	if r.redis, err = redisproc.Start(ctx, redisproc.Options{Dir: r.dir.redis, AOF: true}); err != nil {
		if errors.Is(err, redisproc.ErrNotInstalled) {
			return fmt.Errorf("run: %w", err)
		}
		return fmt.Errorf("run: start redis-server (its log: %s/redis.log): %w", r.dir.redis, err)
	}
	r.cfg.RedisURL = r.redis.URL()
	if r.store, r.rdb, err = openStore(r.cfg); err != nil {
		return err
	}
	r.printf("redis-server  %s  (data: %s, append-only file)\n", r.redis.URL(), r.dir.redis)

	r.manifests, r.shownAs = r.f.files, map[string]string{}
	if r.f.sim {
		return r.startSim()
	}
	return nil
}

// startSim serves the manifests' folders, rewrites the manifests that use the
// placeholder, and starts the simulator with credentials of its own.
func (r *runner) startSim() error {
	var err error
	if r.files, err = startFileServer(r.log.Named("files")); err != nil {
		return err
	}
	r.manifests, r.shownAs, err = r.files.rewrite(r.f.files, r.dir.manifests)
	if err != nil {
		return err
	}
	for _, line := range r.files.served() {
		r.printf("audio files   %s\n", line)
	}
	creds, err := generatedCredentials()
	if err != nil {
		return err
	}
	rate := int(math.Ceil(r.cfg.UpstreamRate)) // the simulator enforces the account's rate too
	if r.sim, err = sim.New(sim.Options{
		Credentials: creds,
		Seed:        1,
		TimeScale:   r.f.timeScale,
		Rate:        rate,
		OutputDir:   r.dir.outputs,
		Logger:      r.log.Named("sim"),
	}); err != nil {
		return fmt.Errorf("run: simulator: %w", err)
	}
	r.cfg.UpstreamURL = r.sim.URL()
	r.cfg.SecretID, r.cfg.SecretKey = creds.SecretID, creds.SecretKey
	r.cfg.GatewayKeyID, r.cfg.GatewayKeySecret = "", upstream.Secret{}
	r.printf("simulator     %s  (time scale %g, %d requests/s, outputs: %s)\n", r.sim.URL(), r.f.timeScale, rate, r.dir.outputs)
	return nil
}

// generatedCredentials are random credentials shared by the simulator and the client of
// one run; they are never shown.
func generatedCredentials() (upstream.Credentials, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return upstream.Credentials{}, fmt.Errorf("run: generate simulator credentials: %w", err)
	}
	return upstream.Credentials{
		SecretID:  upstream.NewSecret("AKIDsim" + hex.EncodeToString(b[:8])),
		SecretKey: upstream.NewSecret(hex.EncodeToString(b[8:])),
	}, nil
}

// enqueue reads the manifests into the batch, all or nothing (--strict): a run is
// meant to be started again after fixing a manifest, not to carry on half of it.
func (r *runner) enqueue(ctx context.Context) error {
	q := asynq.NewClientFromRedisClient(r.rdb) // shares rdb: nothing of its own to close
	res, err := tasks.Enqueue(ctx, r.store, q, tasks.EnqueueOptions{
		Batch:     r.f.batch,
		Manifests: r.manifests,
		Strict:    true,
		TempDir:   r.dir.root,
		OnLineError: func(le *batch.LineError) {
			shown := *le
			if orig, ok := r.shownAs[le.File]; ok {
				shown.File = orig
			}
			fmt.Fprintln(r.e.stderr, shown.Error())
		},
		OnRefused: func(rf batch.Refused) { fmt.Fprintln(r.e.stderr, rf.String()) },
	})
	r.printf("%s\n", enqueueSummary(r.f.batch, res))
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := rejectedError(r.f.batch, res.Rejected, res.Refused); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if res.Added+res.Existing == 0 {
		return fmt.Errorf("run: batch %s: the manifests hold no items", r.f.batch)
	}
	return nil
}

// startWorker runs an in-process worker until stopWorker.
func (r *runner) startWorker() {
	ctx, cancel := context.WithCancel(context.Background())
	r.workerStop, r.workerDone = cancel, make(chan error, 1)
	w, err := r.newWorker()
	if err != nil {
		r.workerDone <- err
		return
	}
	go func() { r.workerDone <- w.Run(ctx) }() // owned by r: stopWorker ends it
}

// stopWorker ends the worker gracefully (running tasks get SHUTDOWN_TIMEOUT) and waits.
func (r *runner) stopWorker() error {
	if r.workerStop == nil {
		return nil
	}
	r.workerStop()
	err := <-r.workerDone
	r.workerStop = nil
	if err != nil {
		return fmt.Errorf("run: worker: %w", err)
	}
	return nil
}

// newWorker wires the worker as `singbatch worker` does (config.newWorker). With --sim
// its timings are scaled like the simulator's.
func (r *runner) newWorker() (*tasks.Worker, error) {
	var tune func(*tasks.WorkerOptions, *tasks.Settings)
	if r.f.sim {
		tune = func(o *tasks.WorkerOptions, s *tasks.Settings) {
			*s = runSimSettings(r.f.timeScale)
			// Scheduled polls fall due milliseconds apart at this scale.
			o.TaskCheckInterval, o.DelayedTaskCheckInterval = 50*time.Millisecond, 100*time.Millisecond
		}
	}
	return r.cfg.newWorker(r.rdb, r.log.Named("worker"), tune)
}

// runSimSettings are the handlers' settings for the simulator at a time scale: the
// defaults, their intervals scaled like the simulator's durations. Nothing is taken
// from the simulator's timing model: the worker learns the jobs' durations as it does
// from the service.
func runSimSettings(scale float64) tasks.Settings {
	sc := func(d, least time.Duration) time.Duration { return max(time.Duration(float64(d)*scale), least) }
	s := tasks.DefaultSettings()
	s.ReconcileDelay = time.Second // the simulator answers at once
	// DefaultJobTimeout stays: every CreateJob carries it, and the simulator scales it
	// with its own clock; scaled here too, it would be scaled twice (6 h → 2 s there),
	// shorter than the demo's training.
	s.TimeoutGrace = sc(s.TimeoutGrace, time.Second)
	s.NotFoundGrace = sc(s.NotFoundGrace, time.Second)
	s.RetryBase = sc(s.RetryBase, 50*time.Millisecond)
	s.RetryCap = sc(s.RetryCap, time.Second)
	s.Poll.ProbeStart = sc(s.Poll.ProbeStart, 10*time.Millisecond)
	s.Poll.MinInterval = sc(s.Poll.MinInterval, 10*time.Millisecond)
	s.Poll.MaxInterval = sc(s.Poll.MaxInterval, time.Second)
	return s
}

// stop ends whatever is still running, in reverse order of start.
func (r *runner) stop() {
	if err := r.stopWorker(); err != nil && r.log != nil {
		r.log.Error("worker stopped with an error", zap.Error(err))
	}
	if r.sim != nil {
		if err := r.sim.Close(); err != nil {
			r.log.Warn("simulator close", zap.Error(err))
		}
	}
	if r.files != nil {
		r.files.close()
	}
	if r.rdb != nil {
		_ = r.rdb.Close() // nothing is written through it any more
	}
	if r.redis != nil {
		r.redis.Stop() // SIGTERM: redis-server flushes its append-only file and exits
	}
	if r.log != nil {
		_ = r.log.Sync()
	}
	if r.logFile != nil {
		_ = r.logFile.Close()
	}
}

func (r *runner) printf(format string, args ...any) {
	fmt.Fprintf(r.e.stdout, format, args...)
}
