package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"

	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// The naive way is what the asynq wiki's rate-limiting recipe gives: each process has
// its own token bucket at the account's rate (golang.org/x/time/rate, burst of one
// second), a handler that finds no token returns a RateLimitError that asynq retries
// after up to a second without counting it as a failure; a created job is polled at a
// fixed interval until it ends, and the end is written to a Redis hash. Any other
// error (a song whose model is not trained yet, a throttled reply) is retried after the
// poll interval. It knows nothing of the other processes.
const (
	naiveQueue      = "naive"
	naiveCreateType = "naive:create"
	naivePollType   = "naive:poll"
	naiveDoneKey    = "naive:done" // item → "recorded unix ms,jobId"
)

type naiveTask struct {
	Item    string                     `json:"item"`
	Request *upstream.CreateJobRequest `json:"request,omitempty"`
	JobID   string                     `json:"jobId,omitempty"`
}

// naiveRateLimitError is the recipe's: retry in RetryIn, not a failure.
type naiveRateLimitError struct{ retryIn time.Duration }

func (e *naiveRateLimitError) Error() string { return "rate limited (this process's bucket)" }

// naiveWorker is the child process of the naive way.
func naiveWorker(ctx context.Context) error {
	r, err := envInt(envRate)
	if err != nil {
		return err
	}
	interval, err := envDuration(envInterval)
	if err != nil {
		return err
	}
	opt, err := asynq.ParseRedisURI(os.Getenv(envRedis))
	if err != nil {
		return err
	}
	api, err := upstream.New(upstream.Options{BaseURL: os.Getenv(envUpstream), Credentials: benchCreds,
		Timeout: 10 * time.Second, MaxAttempts: 1})
	if err != nil {
		return err
	}
	ropt, err := redis.ParseURL(os.Getenv(envRedis))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropt)
	defer rdb.Close()
	client := asynq.NewClientFromRedisClient(rdb)
	lim := rate.NewLimiter(rate.Limit(r), r)
	h := &naiveHandler{api: api, client: client, rdb: rdb, lim: lim, interval: interval}
	srv := asynq.NewServer(opt, asynq.Config{
		Concurrency: tasks.DefaultConcurrency,
		Queues:      map[string]int{naiveQueue: 1},
		IsFailure: func(err error) bool {
			var rl *naiveRateLimitError
			return !errors.As(err, &rl)
		},
		RetryDelayFunc: func(_ int, err error, _ *asynq.Task) time.Duration {
			var rl *naiveRateLimitError
			if errors.As(err, &rl) {
				return rl.retryIn
			}
			return interval
		},
		DelayedTaskCheckInterval: min(time.Second, max(interval/5, 50*time.Millisecond)),
		LogLevel:                 asynq.ErrorLevel,
	})
	mux := asynq.NewServeMux()
	mux.HandleFunc(naiveCreateType, h.create)
	mux.HandleFunc(naivePollType, h.poll)
	if err := srv.Start(mux); err != nil {
		return err
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

type naiveHandler struct {
	api      *upstream.Client
	client   *asynq.Client
	rdb      *redis.Client
	lim      *rate.Limiter
	interval time.Duration
}

func (h *naiveHandler) allow() error {
	if !h.lim.Allow() {
		return &naiveRateLimitError{retryIn: time.Duration(rand.Float64() * float64(time.Second))}
	}
	return nil
}

func (h *naiveHandler) create(ctx context.Context, t *asynq.Task) error {
	var p naiveTask
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	if err := h.allow(); err != nil {
		return err
	}
	job, err := h.api.CreateJob(ctx, p.Request)
	if err != nil {
		return err
	}
	return h.schedulePoll(ctx, naiveTask{Item: p.Item, JobID: job.ID})
}

func (h *naiveHandler) poll(ctx context.Context, t *asynq.Task) error {
	var p naiveTask
	if err := json.Unmarshal(t.Payload(), &p); err != nil {
		return fmt.Errorf("%w: %w", err, asynq.SkipRetry)
	}
	if err := h.allow(); err != nil {
		return err
	}
	job, err := h.api.GetJob(ctx, p.JobID)
	if err != nil {
		return err
	}
	if !job.State.Final() {
		return h.schedulePoll(ctx, p)
	}
	return h.rdb.HSet(ctx, naiveDoneKey, p.Item, strconv.FormatInt(time.Now().UnixMilli(), 10)+","+job.ID).Err()
}

func (h *naiveHandler) schedulePoll(ctx context.Context, p naiveTask) error {
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	_, err = h.client.EnqueueContext(ctx, asynq.NewTask(naivePollType, b), asynq.Queue(naiveQueue), asynq.ProcessIn(h.interval))
	return err
}

// runNaive enqueues the manifest's items as the naive way's tasks and runs procs of its
// processes until every item has its end recorded.
func (e *env) runNaive(ctx context.Context, procs, rateLimit int, mf func(dir string) (string, int, error)) (runResult, error) {
	s, err := e.newStack(ctx, e.simOptions(rateLimit))
	if err != nil {
		return runResult{}, err
	}
	defer s.close()
	path, n, err := mf(s.dir)
	if err != nil {
		return runResult{}, err
	}
	client := asynq.NewClientFromRedisClient(s.rdb)
	for it, err := range manifest.Read([]string{path}, nil, manifest.FormatAuto) {
		if err != nil {
			return runResult{}, err
		}
		req := it.Spec.Request(it.Kind, it.Model)
		b, err := json.Marshal(naiveTask{Item: it.ID, Request: &req})
		if err != nil {
			return runResult{}, err
		}
		if _, err := client.EnqueueContext(ctx, asynq.NewTask(naiveCreateType, b), asynq.Queue(naiveQueue), asynq.MaxRetry(1000)); err != nil {
			return runResult{}, err
		}
	}
	interval := time.Duration(float64(e.p.naivePoll) * e.p.timeScale)
	env := append(os.Environ(), roleEnv+"="+roleNaive, envRedis+"="+s.redis.URL(), envUpstream+"="+s.sim.URL(),
		fmt.Sprintf("%s=%d", envRate, rateLimit), envInterval+"="+interval.String())
	r := runResult{label: "the naive way", procs: procs, items: n}
	start := time.Now()
	for range procs {
		if _, err := s.start("naive", env, e.self); err != nil {
			return r, err
		}
	}
	for {
		got, err := s.rdb.HLen(ctx, naiveDoneKey).Result()
		if err == nil {
			r.finals = append(r.finals, finalAt{at: time.Since(start), n: int(got)})
			if int(got) >= n {
				break
			}
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("naive way not done (%d of %d): %w\n%s", got, n, ctx.Err(), s.logTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
	r.makespan = time.Since(start)
	r.cpu = s.stopProcs()
	all, err := s.rdb.HGetAll(ctx, naiveDoneKey).Result()
	if err != nil {
		return r, err
	}
	var finished []done
	for _, v := range all {
		ms, id, _ := strings.Cut(v, ",")
		t, err := strconv.ParseInt(ms, 10, 64)
		if err != nil {
			return r, err
		}
		finished = append(finished, done{jobID: id, recorded: time.UnixMilli(t)})
	}
	return r, s.measure(&r, start, finished, rateLimit)
}
