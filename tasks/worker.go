package tasks

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of WorkerOptions.
const (
	DefaultConcurrency     = 20
	DefaultPollConcurrency = 50
	DefaultShutdownTimeout = 30 * time.Second
)

// pollTaskCheckInterval bounds how long an idle poll pool waits before looking at its
// queue again: one cheap Redis script per 100 ms per idle process.
const pollTaskCheckInterval = 100 * time.Millisecond

// WorkerOptions configure the asynq server of a Worker.
type WorkerOptions struct {
	// Redis holds the queues (and, through the handlers' store, the records). The Worker
	// shares the client and does not close it. Required.
	Redis redis.UniversalClient
	// Concurrency is how many submit tasks (queues train and songs) run at once in this
	// process; default 20.
	Concurrency int
	// PollConcurrency is how many poll tasks run at once in this process, in a pool of
	// their own: submissions waiting for the rate limit must never hold every slot while
	// results wait to be picked up. A poll mostly waits (for its due time, the limiter
	// or the service), so the pool is larger; default 50.
	PollConcurrency int
	// Queues are the queues served and their weights; default QueuePriorities(). The
	// poll queue's weight does not matter: it has its own pool.
	Queues map[string]int
	// ShutdownTimeout is how long Run waits, once its context ends, for running tasks;
	// tasks still running then are put back in their queue (nothing is lost: every
	// handler step is safe to repeat). Default 30 s.
	ShutdownTimeout time.Duration
	// TaskCheckInterval (how often empty queues are looked at) and
	// DelayedTaskCheckInterval (how often due polls and retries are moved to their
	// queue): asynq's defaults, 1 s and 5 s, when zero. Lower them for fast
	// simulations and tests.
	TaskCheckInterval        time.Duration
	DelayedTaskCheckInterval time.Duration
	// Logger receives the handlers' and asynq's logs; default zap.NewNop().
	Logger *zap.Logger
}

// Worker is an asynq server running the singbatch handlers: what `singbatch worker`,
// `singbatch run` and test binaries start with Run.
type Worker struct {
	srvs    []*asynq.Server // the submit pool and the poll pool, as served
	h       *Handlers
	rdb     redis.UniversalClient
	log     *zap.Logger
	started atomic.Bool
}

// NewWorker builds a Worker. deps.Enqueuer may be nil: the Worker then enqueues follow-up
// tasks through an asynq client on opts.Redis. deps.Logger defaults to opts.Logger.
func NewWorker(opts WorkerOptions, deps HandlerDeps, s Settings) (*Worker, error) {
	if opts.Redis == nil {
		return nil, errors.New("tasks: WorkerOptions.Redis is required")
	}
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if deps.Logger == nil {
		deps.Logger = opts.Logger
	}
	w := &Worker{}
	if deps.Enqueuer == nil {
		// On the shared client: nothing to close.
		deps.Enqueuer = asynq.NewClientFromRedisClient(opts.Redis)
	}
	if deps.Inspector == nil {
		// On the shared client: nothing to close.
		deps.Inspector = asynq.NewInspectorFromRedisClient(opts.Redis)
	}
	h, err := NewHandlers(deps, s)
	if err != nil {
		return nil, err
	}
	cfgs, err := h.ServerConfigs(opts)
	if err != nil {
		return nil, err
	}
	w.h, w.rdb, w.log = h, opts.Redis, opts.Logger
	for _, cfg := range cfgs {
		w.srvs = append(w.srvs, asynq.NewServerFromRedisClient(opts.Redis, cfg))
	}
	return w, nil
}

// Handlers returns the worker's handlers.
func (w *Worker) Handlers() *Handlers { return w.h }

// Run processes tasks until ctx ends, then shuts down gracefully within the shutdown
// timeout and returns. It first waits for Redis, however long (waitForRedis). A
// Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("tasks: a Worker runs once")
	}
	if err := waitForRedis(ctx, w.rdb, w.log); err != nil {
		return nil // stopped while waiting: nothing had started
	}
	var started []*asynq.Server
	defer func() {
		// Handlers run on their own base context, so that running tasks get the
		// shutdown timeout to finish; asynq cancels them (after requeueing) only past it.
		var wg sync.WaitGroup
		for _, srv := range started {
			wg.Go(srv.Shutdown)
		}
		wg.Wait()
	}()
	for _, srv := range w.srvs {
		if err := srv.Start(w.h.Mux()); err != nil {
			return fmt.Errorf("start worker: %w", err)
		}
		started = append(started, srv)
	}
	var watchers sync.WaitGroup
	defer watchers.Wait()
	watchers.Go(func() { w.h.watchBatches(ctx) })
	<-ctx.Done()
	return nil
}

// ServerConfigs are the asynq.Configs that run the handlers: one pool for the submit
// queues and one for the poll queue, of those opts.Queues serves. Each has the retry
// policy (RetryDelayFunc, IsFailure), the error log (ErrorHandler) and a zap logger for
// asynq itself.
func (h *Handlers) ServerConfigs(opts WorkerOptions) ([]asynq.Config, error) {
	if opts.Concurrency < 0 || opts.PollConcurrency < 0 || opts.ShutdownTimeout < 0 || opts.TaskCheckInterval < 0 || opts.DelayedTaskCheckInterval < 0 {
		return nil, errors.New("tasks: WorkerOptions must not be negative")
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.PollConcurrency == 0 {
		opts.PollConcurrency = DefaultPollConcurrency
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Queues == nil {
		opts.Queues = QueuePriorities()
	}
	if err := checkQueues(opts.Queues); err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	pool := func(concurrency int, queues map[string]int) asynq.Config {
		return asynq.Config{
			Concurrency:              concurrency,
			Queues:                   queues,
			ShutdownTimeout:          opts.ShutdownTimeout,
			TaskCheckInterval:        opts.TaskCheckInterval,
			DelayedTaskCheckInterval: opts.DelayedTaskCheckInterval,
			RetryDelayFunc:           h.retry.Delay,
			IsFailure:                IsFailure,
			ErrorHandler:             asynq.ErrorHandlerFunc(h.HandleError),
			Logger:                   newAsynqLogger(log),
			LogLevel:                 asynqLevel(log),
		}
	}
	submit := map[string]int{}
	for q, w := range opts.Queues {
		if q != QueuePoll {
			submit[q] = w
		}
	}
	var cfgs []asynq.Config
	if len(submit) > 0 {
		cfgs = append(cfgs, pool(opts.Concurrency, submit))
	}
	if _, ok := opts.Queues[QueuePoll]; ok {
		polls := pool(opts.PollConcurrency, map[string]int{QueuePoll: 1})
		// The poll pool is often idle between due polls, and an idle asynq pool looks
		// at its queues again only after 0.5–1.5 × this: a poll brought forward or just
		// due would wait that long.
		polls.TaskCheckInterval = min(cmp.Or(opts.TaskCheckInterval, time.Second), pollTaskCheckInterval)
		cfgs = append(cfgs, polls)
	}
	return cfgs, nil
}
