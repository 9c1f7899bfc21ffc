package main

import (
	"fmt"

	"github.com/singbatch/singbatch/tasks"
)

// newWorker wires a tasks.Worker from the app: the store and the account-wide limiter
// on its Redis client, the upstream client behind the limiter, the queues and timings.
// tune, when not nil, adjusts the options and settings last (`singbatch run` shortens
// the queue checks for a fast simulator). The app's Close comes after Run returns.
func newWorker(a *app, tune func(*tasks.WorkerOptions, *tasks.Settings)) (*tasks.Worker, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	log, err := a.logger()
	if err != nil {
		return nil, err
	}
	rdb, err := a.redis()
	if err != nil {
		return nil, err
	}
	store, err := a.store()
	if err != nil {
		return nil, err
	}
	queues, err := tasks.ParseQueues(cfg.Worker.Queues)
	if err != nil {
		return nil, fmt.Errorf("configuration: WORKER_QUEUES: %w", err)
	}
	if cfg.WorkerConcurrency < 1 {
		return nil, fmt.Errorf("configuration: WORKER_CONCURRENCY: must be at least 1, not %d", cfg.WorkerConcurrency)
	}
	if cfg.PollConcurrency < 1 {
		return nil, fmt.Errorf("configuration: WORKER_POLL_CONCURRENCY: must be at least 1, not %d", cfg.PollConcurrency)
	}
	api, err := a.upstream()
	if err != nil {
		return nil, err
	}
	gate, err := a.submitGate()
	if err != nil {
		return nil, err
	}
	opts := tasks.WorkerOptions{
		Redis:           rdb,
		Concurrency:     cfg.WorkerConcurrency,
		PollConcurrency: cfg.PollConcurrency,
		Queues:          queues,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Logger:          log,

		DelayedTaskCheckInterval: cfg.DelayedCheck,
	}
	settings := cfg.Worker.settings()
	if tune != nil {
		tune(&opts, &settings)
	}
	notify, err := cfg.notifySecret()
	if err != nil {
		return nil, err
	}
	callbacks, err := cfg.callbacks()
	if err != nil {
		return nil, err
	}
	w, err := tasks.NewWorker(opts, tasks.HandlerDeps{Store: store, API: api, Gate: gate, Callbacks: callbacks, Notify: notify}, settings)
	if err != nil {
		return nil, fmt.Errorf("configuration: worker settings: %w", err)
	}
	return w, nil
}

// settings converts the environment's worker settings.
func (w workerSettings) settings() tasks.Settings {
	return tasks.Settings{
		ReconcileDelay:       w.ReconcileDelay,
		DefaultJobTimeout:    w.DefaultJobTimeout,
		TimeoutGrace:         w.TimeoutGrace,
		NotFoundGrace:        w.PollNotFoundGrace,
		ModelCacheTTL:        w.ModelCacheTTL,
		RetryBase:            w.RetryBase,
		RetryCap:             w.RetryCap,
		GroupSize:            w.PollGroupSize,
		AccountMaxJobsPerDay: w.AccountMaxJobsDay,
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
			CallbackGrace:   w.CallbackPollGrace,
		},
	}
}
