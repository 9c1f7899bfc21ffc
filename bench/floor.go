package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The floor is the least a finished job can cost through asynq: a task that sends
// CreateJob and queues a poll task, which sends GetJob and queues itself again until
// the job is final. No singbatch code runs in it but the upstream client: no records,
// no limiter, no groups, no learned schedule.
const (
	floorCreateQueue = "floor-create"
	floorPollQueue   = "floor-poll"
	floorCreateType  = "floor:create"
	floorPollType    = "floor:poll"
	// floorRepoll is the wait of a poll that found its job not final. Asynq keeps
	// scheduled times in whole seconds, so in effect it is due at the next move of due
	// tasks (floorDelayedCheck).
	floorRepoll = 10 * time.Millisecond
	// floorDelayedCheck is the worker's WORKER_DELAYED_CHECK_INTERVAL at instantScale
	// (workerEnv: a second scaled, at least 50 ms).
	floorDelayedCheck = 50 * time.Millisecond
	// floorPollCheck is the TaskCheckInterval tasks.ServerConfigs gives the worker's
	// poll pool.
	floorPollCheck = 100 * time.Millisecond
)

// floorRun is what one run of the floor measured.
type floorRun struct {
	wall time.Duration // the floor's process, start to both queues empty
	cpu  time.Duration // its CPU time
	gets int           // GetJob calls the simulator answered
}

// runFloor runs the floor on n songs, on its own fresh Redis and a simulator of opts.
func (e *env) runFloor(ctx context.Context, opts sim.Options, n int) (floorRun, error) {
	var r floorRun
	s, err := e.newStack(ctx, opts)
	if err != nil {
		return r, err
	}
	defer s.close()
	path, _, err := songsManifest(n)(s.dir)
	if err != nil {
		return r, err
	}
	// The requests singbatch would send for the same manifest, its customId aside, are
	// carried in the tasks: reading them from anywhere else would cost more.
	client := asynq.NewClientFromRedisClient(s.rdb)
	for it, err := range manifest.Read([]string{path}, nil, manifest.FormatAuto) {
		if err != nil {
			return r, err
		}
		req := it.Spec.Request(it.Kind, it.Model)
		b, err := json.Marshal(req)
		if err != nil {
			return r, err
		}
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(floorCreateType, b), asynq.Queue(floorCreateQueue)); err != nil {
			return r, fmt.Errorf("enqueue: %w", err)
		}
	}
	insp := asynq.NewInspectorFromRedisClient(s.rdb)
	env := append(os.Environ(), roleEnv+"="+roleFloor, envRedis+"="+s.redis.URL(), envUpstream+"="+s.sim.URL())
	start := time.Now()
	if _, err := s.start("floor", env, e.self); err != nil {
		return r, err
	}
	for {
		done, err := floorDrained(insp)
		if err != nil {
			return r, fmt.Errorf("%w\n%s", err, s.logTail())
		}
		if done {
			break
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("not done: %w\n%s", ctx.Err(), s.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
	r.wall = time.Since(start)
	r.cpu = s.stopProcs()
	return r, floorCheck(s.sim, n, &r)
}

// floorDrained tells whether both queues are empty. Creates are read first: a create
// queues its poll before it is acked, so once they are gone every poll is queued.
func floorDrained(insp *asynq.Inspector) (bool, error) {
	for _, q := range []string{floorCreateQueue, floorPollQueue} {
		info, err := insp.GetQueueInfo(q)
		if err != nil {
			return false, nil // the poll queue before its first task, or a blip: read again
		}
		if info.Archived > 0 {
			return false, fmt.Errorf("%d tasks of %s failed for good", info.Archived, q)
		}
		if info.Size > 0 {
			return false, nil
		}
	}
	return true, nil
}

// floorCheck requires what the simulator saw to be n jobs, each final, and counts the
// GetJob calls into r.
func floorCheck(srv *sim.Server, n int, r *floorRun) error {
	st := srv.Stats()
	for _, c := range st.Calls[upstream.ActionGetJob] {
		r.gets += c
	}
	if st.JobsCreated != n {
		return fmt.Errorf("created %d jobs for %d songs", st.JobsCreated, n)
	}
	for _, j := range srv.Jobs() {
		if !j.State.Final() {
			return fmt.Errorf("job %s is %s, not final", j.ID, j.State)
		}
	}
	return nil
}

// floorWorker is the floor's process: the worker's two pools, tasks.DefaultConcurrency
// creates and tasks.DefaultPollConcurrency polls at once, on one Redis client.
func floorWorker(ctx context.Context) error {
	ropt, err := redis.ParseURL(os.Getenv(envRedis))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	api, err := upstream.New(upstream.Options{BaseURL: os.Getenv(envUpstream), Credentials: benchCreds, Timeout: 10 * time.Second})
	if err != nil {
		return err
	}
	h := &floorHandler{api: api, client: asynq.NewClientFromRedisClient(rdb)}
	mux := asynq.NewServeMux()
	mux.HandleFunc(floorCreateType, h.create)
	mux.HandleFunc(floorPollType, h.poll)
	logErr := asynq.ErrorHandlerFunc(func(_ context.Context, t *asynq.Task, err error) {
		fmt.Fprintln(os.Stderr, t.Type()+":", err)
	})
	pools := []asynq.Config{
		{Concurrency: tasks.DefaultConcurrency, Queues: map[string]int{floorCreateQueue: 1}},
		{Concurrency: tasks.DefaultPollConcurrency, Queues: map[string]int{floorPollQueue: 1}, TaskCheckInterval: floorPollCheck},
	}
	var started []*asynq.Server
	defer func() {
		for _, srv := range started {
			srv.Shutdown()
		}
	}()
	for _, cfg := range pools {
		cfg.DelayedTaskCheckInterval, cfg.ErrorHandler, cfg.LogLevel = floorDelayedCheck, logErr, asynq.ErrorLevel
		srv := asynq.NewServerFromRedisClient(rdb, cfg)
		if err := srv.Start(mux); err != nil {
			return err
		}
		started = append(started, srv)
	}
	<-ctx.Done()
	return nil
}

type floorHandler struct {
	api    *upstream.Client
	client *asynq.Client
}

// create sends CreateJob and queues the job's first poll at once (ProcessIn 0): at
// instantScale the job is final some 50 µs after it is created, so the first GetJob
// nearly always finds it so, and a delay would add only the wait for asynq's move of
// due tasks. singbatch too queues a poll due within the second at once (enqueuePoll).
func (h *floorHandler) create(ctx context.Context, t *asynq.Task) error {
	var req upstream.CreateJobRequest
	if err := json.Unmarshal(t.Payload(), &req); err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	job, err := h.api.CreateJob(ctx, &req)
	if err != nil {
		return err
	}
	return h.queuePoll(ctx, job.ID, 0)
}

// poll sends GetJob; a job not final is polled again floorRepoll later.
func (h *floorHandler) poll(ctx context.Context, t *asynq.Task) error {
	job, err := h.api.GetJob(ctx, string(t.Payload()))
	if err != nil {
		return err
	}
	if job.State.Final() {
		return nil
	}
	return h.queuePoll(ctx, job.ID, floorRepoll)
}

func (h *floorHandler) queuePoll(ctx context.Context, jobID string, in time.Duration) error {
	_, err := h.client.EnqueueContext(ctx, asynq.NewTask(floorPollType, []byte(jobID)), asynq.Queue(floorPollQueue), asynq.ProcessIn(in))
	if err != nil {
		return fmt.Errorf("queue the poll of %s: %w", jobID, err)
	}
	return nil
}
