package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/internal/redismem"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream/sim"
)

const (
	noopQueue = "noop"
	noopType  = "noop"
	// instantScale makes a 3-minute song take 46 µs at the simulator.
	instantScale = 1e-6
	// unlimitedRate is UPSTREAM_RATE for a simulator without a limit.
	unlimitedRate = 1_000_000
)

// overheadSection is singbatch's throughput against a bare asynq server's, and against
// the floor's (floor.go).
type overheadSection struct {
	jobs      int
	singbatch time.Duration // wall time of the worker process, start to the last item final
	cpu       time.Duration // the worker process's CPU time
	bare      time.Duration // the no-op server's, start to the last task processed
	bareCPU   time.Duration
	floor     floorRun
	// redisBytes is Redis's used_memory once every item was final, over the empty
	// server's: what a finished batch keeps.
	redisBytes int64
}

func (o overheadSection) jobsPerSec() float64  { return float64(o.jobs) / o.singbatch.Seconds() }
func (o overheadSection) tasksPerSec() float64 { return float64(o.jobs) / o.bare.Seconds() }
func (o overheadSection) floorPerSec() float64 { return float64(o.jobs) / o.floor.wall.Seconds() }

// overhead measures finished jobs/s of one worker process against an instant, unlimited
// simulator, tasks/s of a bare asynq server whose handler does nothing, on the same
// number of tasks, concurrency and Redis, and finished jobs/s of the floor against
// another such simulator.
func (e *env) overhead(ctx context.Context, rep *report) error {
	n := e.p.overheadJobs
	sec := &overheadSection{jobs: n}
	instant := sim.Options{TimeScale: instantScale, Seed: 7}
	e.logf("  singbatch, %d instant jobs ...", n)
	s, err := e.newStack(ctx, instant)
	if err != nil {
		return err
	}
	defer s.close()
	path, _, err := songsManifest(n)(s.dir)
	if err != nil {
		return err
	}
	empty, err := redismem.UsedMemory(ctx, s.rdb)
	if err != nil {
		return err
	}
	if err := s.enqueue(ctx, unlimitedRate, path); err != nil {
		return err
	}
	start := time.Now()
	if err := s.startWorkers(1, instantScale, unlimitedRate, mode{}); err != nil {
		return err
	}
	_, end, err := s.waitBatch(ctx, start, n)
	if err != nil {
		return err
	}
	sec.singbatch = end.Sub(start)
	sec.cpu = s.stopProcs()
	mem, err := redismem.UsedMemory(ctx, s.rdb)
	if err != nil {
		return err
	}
	sec.redisBytes = mem - empty
	e.logf("    %.0f jobs/s, %v CPU/job", sec.jobsPerSec(), (sec.cpu / time.Duration(n)).Round(time.Microsecond))

	e.logf("  bare asynq no-op, %d tasks ...", n)
	if sec.bare, sec.bareCPU, err = e.runNoop(ctx, s, n); err != nil {
		return err
	}
	e.logf("    %.0f tasks/s, %v CPU/task", sec.tasksPerSec(), (sec.bareCPU / time.Duration(n)).Round(time.Microsecond))

	e.logf("  the floor, bare asynq CreateJob → GetJob, %d instant jobs ...", n)
	if sec.floor, err = e.runFloor(ctx, instant, n); err != nil {
		return fmt.Errorf("the floor: %w", err)
	}
	e.logf("    %.0f jobs/s, %v CPU/job, %.2f GetJob/job", sec.floorPerSec(),
		(sec.floor.cpu / time.Duration(n)).Round(time.Microsecond), float64(sec.floor.gets)/float64(n))
	rep.overhead = sec
	return nil
}

// runNoop enqueues n tasks on a fresh Redis and runs the no-op server on them.
func (e *env) runNoop(ctx context.Context, s *stack, n int) (time.Duration, time.Duration, error) {
	dir, err := os.MkdirTemp(e.dir, "noop-")
	if err != nil {
		return 0, 0, err
	}
	srv, err := redisproc.Start(ctx, redisproc.Options{Dir: dir})
	if err != nil {
		return 0, 0, err
	}
	defer srv.Stop()
	opt := asynq.RedisClientOpt{Addr: srv.Addr()}
	client := asynq.NewClient(opt)
	defer client.Close()
	for i := range n {
		t := asynq.NewTask(noopType, []byte(`{"batch":"bench","item":"s`+strconv.Itoa(i)+`","attempt":1}`))
		if _, err := client.EnqueueContext(ctx, t, asynq.Queue(noopQueue)); err != nil {
			return 0, 0, err
		}
	}
	insp := asynq.NewInspector(opt)
	defer insp.Close()
	env := append(os.Environ(), roleEnv+"="+roleNoop, envRedis+"="+srv.URL())
	start := time.Now()
	if _, err := s.start("noop", env, e.self); err != nil {
		return 0, 0, err
	}
	for {
		info, err := insp.GetQueueInfo(noopQueue)
		if err == nil && info.ProcessedTotal >= n {
			break
		}
		select {
		case <-ctx.Done():
			return 0, 0, fmt.Errorf("no-op server not done: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	wall := time.Since(start)
	return wall, s.stopProcs(), nil
}

// noopWorker is the bare asynq server: the worker's concurrency, a handler that does nothing.
func noopWorker(ctx context.Context) error {
	opt, err := asynq.ParseRedisURI(os.Getenv(envRedis))
	if err != nil {
		return err
	}
	srv := asynq.NewServer(opt, asynq.Config{Concurrency: tasks.DefaultConcurrency,
		Queues: map[string]int{noopQueue: 1}, LogLevel: asynq.ErrorLevel})
	mux := asynq.NewServeMux()
	mux.HandleFunc(noopType, func(context.Context, *asynq.Task) error { return nil })
	if err := srv.Start(mux); err != nil {
		return err
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
