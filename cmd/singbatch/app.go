package main

import (
	"errors"

	"github.com/redis/go-redis/v9"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// app is what a command uses beyond its flags: the configuration and what is opened
// from it, each built on first use so that a command opens only what it needs, and
// closed together by Close. A command parses its flags before it asks for anything,
// so that a bad flag or --help is answered whatever the environment holds.
type app struct {
	e env

	cfg     *config
	cfgErr  error
	log     *zap.Logger
	rdb     redis.UniversalClient
	batches *batch.Store
	gate    *tasks.SubmitGate
	api     *upstream.Client

	// limiterLog and upstreamLog, when set before first use, are the loggers of the
	// limiter and the upstream client; nil: the command's logger.
	limiterLog, upstreamLog *zap.Logger

	closers []func() error // what was opened, closed in reverse order
}

func newApp(e env) *app { return &app{e: e} }

// config is the environment's configuration, read on first use.
func (a *app) config() (config, error) {
	if a.cfg == nil && a.cfgErr == nil {
		cfg, err := loadConfig(a.e)
		a.cfg, a.cfgErr = &cfg, err
	}
	if a.cfgErr != nil {
		return config{}, a.cfgErr
	}
	return *a.cfg, nil
}

// adjust changes the configuration before what depends on the changed settings is
// opened: `run` points it at the Redis and the simulator it started.
func (a *app) adjust(change func(*config)) error {
	if _, err := a.config(); err != nil {
		return err
	}
	change(a.cfg)
	return nil
}

// logger is the command's logger on stderr (LOG_LEVEL, LOG_FORMAT), unless useLogger
// gave another.
func (a *app) logger() (*zap.Logger, error) {
	if a.log != nil {
		return a.log, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	log, err := newLogger(cfg, a.e.stderr)
	if err != nil {
		return nil, err
	}
	a.log = log
	a.onClose(func() error { _ = log.Sync(); return nil }) // stderr may not sync
	return log, nil
}

// useLogger makes log the command's logger; its owner syncs it.
func (a *app) useLogger(log *zap.Logger) { a.log = log }

// partLog is a part's own logger when set, else the command's.
func (a *app) partLog(own *zap.Logger) (*zap.Logger, error) {
	if own != nil {
		return own, nil
	}
	return a.logger()
}

func (a *app) onClose(f func() error) { a.closers = append(a.closers, f) }

// Close closes what the app opened, last opened first.
func (a *app) Close() error {
	var errs []error
	for i := len(a.closers) - 1; i >= 0; i-- {
		errs = append(errs, a.closers[i]())
	}
	a.closers = nil
	return errors.Join(errs...)
}
