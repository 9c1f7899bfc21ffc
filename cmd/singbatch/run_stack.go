package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/localstack"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// checkRun refuses, before anything is started or written, a run against the service
// without credentials, a missing manifest, and a manifest only --sim could serve.
func checkRun(a *app, f runFlags) error {
	cfg, err := a.config()
	if err != nil {
		return err
	}
	if !f.sim {
		if err := cfg.requireCredentials(); err != nil {
			return fmt.Errorf("run: %w (or use --sim to try the simulator)", err)
		}
	}
	for _, name := range f.files {
		if _, err := os.Stat(name); err != nil {
			return fmt.Errorf("run: manifest: %w", err)
		}
	}
	if !f.sim {
		return localstack.CheckNoPlaceholder(f.files)
	}
	return nil
}

// startStack starts the run's local stack and points the app at it: its Redis, with
// --sim its simulator, and its log file for the worker's logs.
func startStack(ctx context.Context, e env, a *app, f runFlags) (*localstack.Stack, error) {
	cfg, err := a.config()
	if err != nil {
		return nil, err
	}
	st, err := localstack.Start(ctx, localstack.Options{
		Dir: f.dir, Sim: f.sim, TimeScale: f.timeScale, Batch: f.batch, Files: f.files,
		Rate: cfg.UpstreamRate, Prefix: cfg.RedisPrefix, Started: time.Now(),
		Stdout: e.stdout, TTY: isTerminal(e.stdout),
		NewLogger: func(w io.Writer) (*zap.Logger, error) { return newLogger(cfg, w) },
		OpenStore: func(url string) (*batch.Store, error) {
			if err := a.adjust(func(c *config) { c.RedisURL = url }); err != nil {
				return nil, err
			}
			return a.store()
		},
	})
	if err != nil {
		return nil, err
	}
	if url, creds, ok := st.Simulator(); ok {
		if err := a.adjust(func(c *config) {
			c.UpstreamURL = url
			c.SecretID, c.SecretKey = creds.SecretID, creds.SecretKey
			c.GatewayKeyID, c.GatewayKeySecret = "", upstream.Secret{}
		}); err != nil {
			st.Close()
			return nil, err
		}
	}
	a.useLogger(st.Log().Named("worker"))
	return st, nil
}

// runCallbacks is the listener of the run's callbacks: with --sim they are always on
// (simCallbacks); against the service, when CALLBACK_URL is set, on HTTP_ADDR as a
// worker's. nil: callbacks off.
func runCallbacks(a *app, f runFlags) (net.Listener, error) {
	if f.sim {
		return simCallbacks(a)
	}
	cfg, err := a.config()
	if err != nil || cfg.CallbackURL == "" {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("run: HTTP_ADDR: callbacks need the listener: %w", err)
	}
	return ln, nil
}

// simCallbacks turns callbacks on for a run on the simulator, as the provider
// recommends: the in-process worker listens on a free loopback port, under a secret
// made for this run, and the simulator posts each job's end there.
func simCallbacks(a *app) (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("run: callback listener: %w", err)
	}
	err = a.adjust(func(c *config) {
		c.CallbackURL = "http://" + ln.Addr().String()
		c.CallbackSecret, c.CallbackSecretPrevious = upstream.NewSecret(rand.Text()+rand.Text()), upstream.Secret{}
	})
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	return ln, nil
}

// startRunWorker runs an in-process worker wired as `singbatch worker` does
// (newWorker); with --sim its timings are scaled like the simulator's, and it receives
// callbacks on ln. The stack's summary tells how many upstream calls it made.
func startRunWorker(a *app, st *localstack.Stack, f runFlags, ln net.Listener) {
	st.StartWorker(func() (localstack.Worker, error) {
		var tune func(*tasks.WorkerOptions, *tasks.Settings)
		if f.sim {
			tune = localstack.SimTuning(f.timeScale)
		}
		w, err := newWorker(a, tune)
		if err != nil {
			return nil, err
		}
		st.SetUsage(func() string { return usageLine(w.Handlers().Stats()) })
		rdb, err := a.redis()
		if err != nil {
			return nil, err
		}
		return httpWorker{w: w, rdb: rdb, ln: ln}, nil
	})
}

// usageLine is the summary's account of upstream calls.
func usageLine(s *tasks.Stats) string {
	calls, jobs := s.UpstreamCalls(), s.FinishedJobs()
	line := fmt.Sprintf("upstream calls: %d", calls)
	if jobs > 0 {
		line += fmt.Sprintf(" for %d finished jobs (%.2f per job)", jobs, float64(calls)/float64(jobs))
	}
	if n := s.Callbacks(tasks.CallbackRecorded); n > 0 {
		line += fmt.Sprintf("; %d results came by callback", n)
	}
	return line
}
