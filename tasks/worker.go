package tasks

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"
)

// Defaults of WorkerOptions.
const (
	DefaultConcurrency     = 20
	DefaultShutdownTimeout = 30 * time.Second
)

// WorkerOptions configure the asynq server of a Worker.
type WorkerOptions struct {
	// Redis holds the queues (and, through the handlers' store, the records). The Worker
	// shares the client and does not close it. Required.
	Redis redis.UniversalClient
	// Concurrency is how many tasks run at once in this process; default 20.
	Concurrency int
	// Queues are the queues served and their weights; default QueuePriorities().
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
	srv     *asynq.Server
	h       *Handlers
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
	cfg, err := h.ServerConfig(opts)
	if err != nil {
		return nil, err
	}
	w.h = h
	w.srv = asynq.NewServerFromRedisClient(opts.Redis, cfg)
	return w, nil
}

// Handlers returns the worker's handlers.
func (w *Worker) Handlers() *Handlers { return w.h }

// Run processes tasks until ctx ends, then shuts down gracefully within the shutdown
// timeout and returns. A Worker runs once.
func (w *Worker) Run(ctx context.Context) error {
	if !w.started.CompareAndSwap(false, true) {
		return errors.New("tasks: a Worker runs once")
	}
	if err := w.srv.Start(w.h.Mux()); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	<-ctx.Done()
	// Handlers run on their own base context, so that running tasks get the shutdown
	// timeout to finish; asynq cancels them (after requeueing) only past it.
	w.srv.Shutdown()
	return nil
}

// ServerConfig is the asynq.Config that runs the handlers: concurrency, queues, the
// retry policy (RetryDelayFunc, IsFailure), the error log (ErrorHandler) and a zap
// logger for asynq itself.
func (h *Handlers) ServerConfig(opts WorkerOptions) (asynq.Config, error) {
	if opts.Concurrency < 0 || opts.ShutdownTimeout < 0 || opts.TaskCheckInterval < 0 || opts.DelayedTaskCheckInterval < 0 {
		return asynq.Config{}, errors.New("tasks: WorkerOptions must not be negative")
	}
	if opts.Concurrency == 0 {
		opts.Concurrency = DefaultConcurrency
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = DefaultShutdownTimeout
	}
	if opts.Queues == nil {
		opts.Queues = QueuePriorities()
	}
	if err := checkQueues(opts.Queues); err != nil {
		return asynq.Config{}, err
	}
	log := opts.Logger
	if log == nil {
		log = zap.NewNop()
	}
	return asynq.Config{
		Concurrency:              opts.Concurrency,
		Queues:                   opts.Queues,
		ShutdownTimeout:          opts.ShutdownTimeout,
		TaskCheckInterval:        opts.TaskCheckInterval,
		DelayedTaskCheckInterval: opts.DelayedTaskCheckInterval,
		RetryDelayFunc:           h.retry.Delay,
		IsFailure:                IsFailure,
		ErrorHandler:             asynq.ErrorHandlerFunc(h.HandleError),
		Logger:                   newAsynqLogger(log),
		LogLevel:                 asynqLevel(log),
	}, nil
}
