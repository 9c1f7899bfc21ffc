package main

import (
	"context"
	"fmt"
	"net"

	"go.uber.org/zap"
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
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if err := cfg.requireCredentials(); err != nil {
		return err
	}
	log, err := a.logger()
	if err != nil {
		return err
	}
	w, err := newWorker(a, nil)
	if err != nil {
		return err
	}
	rdb, err := a.redis()
	if err != nil {
		return err
	}
	log.Info("worker started", zap.String("upstream", cfg.UpstreamURL), zap.Float64("rate", cfg.UpstreamRate),
		zap.Int("concurrency", cfg.WorkerConcurrency), zap.String("queues", cfg.Worker.Queues),
		zap.String("http", cfg.HTTPAddr), zap.Bool("callbacks", cfg.CallbackURL != ""))
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		if cfg.CallbackURL != "" {
			return fmt.Errorf("HTTP_ADDR: callbacks need the listener: %w", err)
		}
		// Health and metrics only: the worker is more use running without them.
		log.Warn("worker: no HTTP listener (health, metrics)", zap.Error(err))
		ln = nil
	}
	if err := runWorkerWithHTTP(ctx, w, rdb, ln); err != nil {
		return err
	}
	log.Info("worker stopped")
	return nil
}
