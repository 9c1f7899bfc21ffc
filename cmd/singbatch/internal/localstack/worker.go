package localstack

import (
	"context"
	"fmt"
	"time"

	"github.com/singbatch/singbatch/tasks"
)

// Worker is what the stack runs in-process: a *tasks.Worker.
type Worker interface {
	Run(ctx context.Context) error
}

// StartWorker runs the worker newWorker builds until StopWorker. An error building it
// is reported by Watch, as a worker that ended on its own.
func (s *Stack) StartWorker(newWorker func() (Worker, error)) {
	ctx, cancel := context.WithCancel(context.Background())
	s.workerStop, s.workerDone = cancel, make(chan error, 1)
	w, err := newWorker()
	if err != nil {
		s.workerDone <- err
		return
	}
	go func() { s.workerDone <- w.Run(ctx) }() // owned by s: StopWorker ends it
}

// StopWorker ends the worker gracefully (running tasks get SHUTDOWN_TIMEOUT) and waits.
func (s *Stack) StopWorker() error {
	if s.workerStop == nil {
		return nil
	}
	s.workerStop()
	err := <-s.workerDone
	s.workerStop = nil
	if err != nil {
		return fmt.Errorf("run: worker: %w", err)
	}
	return nil
}

// SimTuning adjusts a worker for the simulator at a time scale: its timings are scaled
// like the simulator's, and its queues checked often enough for them.
func SimTuning(scale float64) func(*tasks.WorkerOptions, *tasks.Settings) {
	return func(o *tasks.WorkerOptions, s *tasks.Settings) {
		*s = simSettings(scale)
		// Scheduled polls fall due milliseconds apart at this scale.
		o.TaskCheckInterval, o.DelayedTaskCheckInterval = 50*time.Millisecond, 100*time.Millisecond
	}
}

// simSettings are the handlers' settings for the simulator at a time scale: the
// defaults, their intervals scaled like the simulator's durations. Nothing is taken
// from the simulator's timing model: the worker learns the jobs' durations as it does
// from the service.
func simSettings(scale float64) tasks.Settings {
	sc := func(d, least time.Duration) time.Duration { return max(time.Duration(float64(d)*scale), least) }
	s := tasks.DefaultSettings()
	s.ReconcileDelay = time.Second // the simulator answers at once
	// DefaultJobTimeout stays: every CreateJob carries it, and the simulator scales it
	// with its own clock; scaled here too, it would be scaled twice (6 h → 2 s there),
	// shorter than the demo's training.
	s.TimeoutGrace = sc(s.TimeoutGrace, time.Second)
	s.NotFoundGrace = sc(s.NotFoundGrace, time.Second)
	s.RetryBase = sc(s.RetryBase, 50*time.Millisecond)
	s.RetryCap = sc(s.RetryCap, time.Second)
	s.Poll.ProbeStart = sc(s.Poll.ProbeStart, 10*time.Millisecond)
	s.Poll.MinInterval = sc(s.Poll.MinInterval, 10*time.Millisecond)
	s.Poll.MaxInterval = sc(s.Poll.MaxInterval, time.Second)
	s.Poll.CallbackGrace = sc(s.Poll.CallbackGrace, 100*time.Millisecond)
	return s
}
