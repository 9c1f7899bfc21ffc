package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// workerCommand runs the asynq server until SIGTERM/SIGINT.
func workerCommand() command {
	return command{name: "worker", summary: "process the queues: submit items, poll their jobs, record results", run: runWorker}
}

func runWorker(ctx context.Context, e env, args []string) error {
	fs := newFlagSet(e, "worker", "\n\nSettings come from the environment (docs/worker.md). SIGTERM or SIGINT stops it\ngracefully within SHUTDOWN_TIMEOUT; unfinished tasks go back to their queue.")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("worker: unexpected argument %q", fs.Arg(0))}
	}
	cfg, err := loadConfig(e)
	if err != nil {
		return err
	}
	if err := cfg.requireCredentials(); err != nil {
		return err
	}
	log, err := newLogger(cfg, e.stderr)
	if err != nil {
		return err
	}
	defer func() { _ = log.Sync() }()
	rdb, err := cfg.redisClient()
	if err != nil {
		return fmt.Errorf("configuration: %w", err)
	}
	defer func() { _ = rdb.Close() }()
	w, err := cfg.newWorker(rdb, log, nil)
	if err != nil {
		return err
	}
	log.Info("worker started", zap.String("upstream", cfg.UpstreamURL), zap.Float64("rate", cfg.UpstreamRate),
		zap.Int("concurrency", cfg.WorkerConcurrency), zap.String("queues", cfg.Worker.Queues))
	if err := w.Run(ctx); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}

// newWorker wires a tasks.Worker from the configuration: the store and the account-wide
// limiter on rdb, the upstream client behind the limiter, the queues and timings. tune,
// when not nil, adjusts the options and settings last (`singbatch run` shortens the
// queue checks for a fast simulator). The caller closes rdb after Run returns.
func (c config) newWorker(rdb redis.UniversalClient, log *zap.Logger, tune func(*tasks.WorkerOptions, *tasks.Settings)) (*tasks.Worker, error) {
	keys := keyspace.Keys{Prefix: c.RedisPrefix}
	if err := keys.Validate(); err != nil {
		return nil, fmt.Errorf("configuration: REDIS_PREFIX: %w", err)
	}
	queues, err := tasks.ParseQueues(c.Worker.Queues)
	if err != nil {
		return nil, fmt.Errorf("configuration: WORKER_QUEUES: %w", err)
	}
	if c.WorkerConcurrency < 1 {
		return nil, fmt.Errorf("configuration: WORKER_CONCURRENCY: must be at least 1, not %d", c.WorkerConcurrency)
	}
	if c.PollConcurrency < 1 {
		return nil, fmt.Errorf("configuration: WORKER_POLL_CONCURRENCY: must be at least 1, not %d", c.PollConcurrency)
	}
	gateway, err := c.gatewayKey()
	if err != nil {
		return nil, err
	}
	limiter, err := c.newLimiter(rdb, keys, log)
	if err != nil {
		return nil, err
	}
	gate := tasks.NewSubmitGate(limiter)
	api, err := upstream.New(upstream.Options{
		BaseURL:     c.UpstreamURL,
		Credentials: upstream.Credentials{SecretID: c.SecretID, SecretKey: c.SecretKey},
		Timeout:     c.UpstreamTimeout,
		Gate:        gate,
		Logger:      log,
		Gateway:     gateway,
	})
	if err != nil {
		return nil, fmt.Errorf("configuration: %w", err)
	}
	opts := tasks.WorkerOptions{
		Redis:           rdb,
		Concurrency:     c.WorkerConcurrency,
		PollConcurrency: c.PollConcurrency,
		Queues:          queues,
		ShutdownTimeout: c.ShutdownTimeout,
		Logger:          log,

		DelayedTaskCheckInterval: c.DelayedCheck,
	}
	settings := c.Worker.settings()
	if tune != nil {
		tune(&opts, &settings)
	}
	w, err := tasks.NewWorker(opts, tasks.HandlerDeps{
		Store: batch.NewStore(rdb, keys, nil),
		API:   api,
		Gate:  gate,
	}, settings)
	if err != nil {
		return nil, fmt.Errorf("configuration: worker settings: %w", err)
	}
	return w, nil
}

// gatewayKey is the optional API-gateway key pair: both settings or neither.
func (c config) gatewayKey() (*upstream.GatewayKey, error) {
	switch {
	case c.GatewayKeyID == "" && c.GatewayKeySecret.IsZero():
		return nil, nil
	case c.GatewayKeyID == "" || c.GatewayKeySecret.IsZero():
		return nil, errors.New("configuration: UPSTREAM_GATEWAY_KEY_ID and UPSTREAM_GATEWAY_KEY_SECRET: set both or neither")
	}
	return &upstream.GatewayKey{KeyID: c.GatewayKeyID, Secret: c.GatewayKeySecret, Source: c.GatewaySource}, nil
}

// settings converts the environment's worker settings.
func (w workerSettings) settings() tasks.Settings {
	return tasks.Settings{
		ReconcileDelay:    w.ReconcileDelay,
		DefaultJobTimeout: w.DefaultJobTimeout,
		TimeoutGrace:      w.TimeoutGrace,
		NotFoundGrace:     w.PollNotFoundGrace,
		ModelCacheTTL:     w.ModelCacheTTL,
		RetryBase:         w.RetryBase,
		RetryCap:          w.RetryCap,
		Poll: tasks.PollTiming{
			HintSong:        w.PollHintSong,
			HintTrain:       w.PollHintTrain,
			FirstQuantile:   w.PollFirstQuantile,
			Scouts:          w.PollScouts,
			ProbeStart:      w.PollProbeStart,
			ProbeGrowth:     w.PollProbeGrowth,
			BackoffFraction: w.PollBackoffFraction,
			MinInterval:     w.PollMinInterval,
			MaxInterval:     w.PollMaxInterval,
			ShortWait:       w.PollShortWait,
		},
	}
}
