package main

import (
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// defaultConfig holds the defaults that belong to the libraries, taken from them so that
// each is written once; the environment is parsed on top of it. The command's own
// defaults (REDIS_URL, UPSTREAM_URL, UPSTREAM_RATE, …) are the struct's envDefault tags.
func defaultConfig() config {
	s := tasks.DefaultSettings()
	return config{
		RedisPrefix:       keyspace.DefaultPrefix,
		UpstreamTimeout:   upstream.DefaultTimeout,
		GatewaySource:     upstream.DefaultGatewaySource,
		WorkerConcurrency: tasks.DefaultConcurrency,
		PollConcurrency:   tasks.DefaultPollConcurrency,
		ShutdownTimeout:   tasks.DefaultShutdownTimeout,
		Worker: workerSettings{
			ReconcileDelay:      s.ReconcileDelay,
			DefaultJobTimeout:   s.DefaultJobTimeout,
			TimeoutGrace:        s.TimeoutGrace,
			ModelCacheTTL:       s.ModelCacheTTL,
			RetryBase:           s.RetryBase,
			RetryCap:            s.RetryCap,
			PollFirstQuantile:   s.Poll.FirstQuantile,
			PollScouts:          s.Poll.Scouts,
			PollProbeStart:      s.Poll.ProbeStart,
			PollProbeGrowth:     s.Poll.ProbeGrowth,
			PollBackoffFraction: s.Poll.BackoffFraction,
			PollMinInterval:     s.Poll.MinInterval,
			PollMaxInterval:     s.Poll.MaxInterval,
			PollShortWait:       s.Poll.ShortWait,
			PollNotFoundGrace:   s.NotFoundGrace,
			CallbackPollGrace:   s.Poll.CallbackGrace,
			PollGroupSize:       s.GroupSize,
		},
	}
}
