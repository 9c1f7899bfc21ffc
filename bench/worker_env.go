package main

import (
	"fmt"
	"time"

	"github.com/singbatch/singbatch/internal/childproc"
	"github.com/singbatch/singbatch/tasks"
)

// mode is one way of running singbatch's workers.
type mode struct {
	name      string
	groupSize int     // POLL_GROUP_SIZE; 0: the default (grouped)
	callbacks bool    // CALLBACK_URL set: the simulator posts each job's end
	drop      float64 // the share of callbacks the simulator loses
}

// workerEnv is a worker process's environment: the defaults with their intervals scaled
// like the simulator's clock, as `singbatch run --sim` does. Nothing about the jobs'
// durations is given: the worker learns them.
func (s *stack) workerEnv(scale float64, rate int, m mode, httpAddr string) []string {
	sc := func(d, least time.Duration) string { return max(time.Duration(float64(d)*scale), least).String() }
	d := tasks.DefaultSettings()
	env := append(s.baseEnv(rate),
		"RECONCILE_DELAY=1s", "HTTP_ADDR="+httpAddr, "SHUTDOWN_TIMEOUT=5s",
		"TIMEOUT_GRACE="+sc(d.TimeoutGrace, time.Second),
		"POLL_NOT_FOUND_GRACE="+sc(d.NotFoundGrace, time.Second),
		"RETRY_BASE="+sc(d.RetryBase, 50*time.Millisecond),
		"RETRY_CAP="+sc(d.RetryCap, time.Second),
		"POLL_PROBE_START="+sc(d.Poll.ProbeStart, 10*time.Millisecond),
		"POLL_MIN_INTERVAL="+sc(d.Poll.MinInterval, 10*time.Millisecond),
		"POLL_MAX_INTERVAL="+sc(d.Poll.MaxInterval, time.Second),
		"POLL_SHORT_WAIT="+sc(d.Poll.ShortWait, 10*time.Millisecond),
		"CALLBACK_POLL_GRACE="+sc(d.Poll.CallbackGrace, 100*time.Millisecond),
		"WORKER_DELAYED_CHECK_INTERVAL="+sc(time.Second, 50*time.Millisecond))
	if m.groupSize > 0 {
		env = append(env, fmt.Sprintf("POLL_GROUP_SIZE=%d", m.groupSize))
	}
	if m.callbacks {
		env = append(env, "CALLBACK_URL=http://"+httpAddr, "CALLBACK_SECRET="+benchCallbackSecret)
	}
	return env
}

// startWorkers starts n `singbatch worker` processes in mode m.
func (s *stack) startWorkers(n int, scale float64, rate int, m mode) error {
	for range n {
		addr, err := childproc.FreeAddr()
		if err != nil {
			return err
		}
		if _, err := s.start("worker", s.workerEnv(scale, rate, m, addr), s.env.singbatch, "worker"); err != nil {
			return err
		}
	}
	return nil
}
