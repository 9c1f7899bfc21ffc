package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/upstream"
)

// Server is a running simulator: the singing-cloning API over HTTP plus the Go
// methods to seed it, inspect it and switch faults.
type Server struct {
	opts  Options
	clock Clock
	log   *zap.Logger
	rng   *rng

	url     string
	httpSrv *http.Server
	ownDir  bool   // OutputDir was created by New and is removed by Close
	song    []byte // the content of every generated song file

	ctx       context.Context // cancelled by Close: ends fetches, callbacks, hangs
	cancel    context.CancelFunc
	work      tracker
	fetchSem  chan struct{}
	wake      chan struct{} // nudges the scheduler
	closeOnce sync.Once
	closeErr  error

	mu       sync.Mutex
	faults   Faults
	rate     int
	limiter  rateLimiter
	jobs     map[string]*job
	order    []*job            // creation order
	byCustom map[string][]*job // customId → jobs
	live     map[string]*job   // jobs not final yet
	training map[string]*job   // model name → live job training it
	models   map[string]upstream.Model
	due      dueHeap
	stats    statsState
}

// New starts a simulator. Unless opts.NoListener, it serves HTTP on opts.Addr until
// Close.
func New(opts Options) (*Server, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Server{
		opts:     o,
		clock:    o.Clock,
		log:      o.Logger,
		rng:      newRNG(o.Seed),
		fetchSem: make(chan struct{}, o.FetchConcurrency),
		wake:     make(chan struct{}, 1),
		faults:   o.Faults.withDefaults(),
		rate:     o.Rate,
		limiter:  rateLimiter{hits: map[string][]time.Time{}},
		jobs:     map[string]*job{},
		byCustom: map[string][]*job{},
		live:     map[string]*job{},
		training: map[string]*job{},
		models:   map[string]upstream.Model{},
		stats:    newStatsState(o.KeepArrivals),
	}
	if s.song, err = renderSong(o.OutputFormat, o.OutputAudio); err != nil {
		return nil, err
	}
	if s.opts.OutputDir == "" {
		dir, err := os.MkdirTemp("", "singbatch-sim-")
		if err != nil {
			return nil, fmt.Errorf("sim: output dir: %w", err)
		}
		s.opts.OutputDir, s.ownDir = dir, true
	} else if err := os.MkdirAll(s.opts.OutputDir, 0o755); err != nil {
		return nil, fmt.Errorf("sim: output dir: %w", err)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if !o.NoListener {
		ln, err := net.Listen("tcp", o.Addr)
		if err != nil {
			s.cancel()
			s.removeOwnDir()
			return nil, fmt.Errorf("sim: listen: %w", err)
		}
		s.url = "http://" + ln.Addr().String()
		s.httpSrv = &http.Server{
			Handler:           s,
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          zap.NewStdLog(s.log),
		}
		s.work.goFunc(func() {
			if err := s.httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("sim: serve", zap.Error(err))
			}
		})
	}
	s.work.goFunc(s.runScheduler)
	return s, nil
}

// URL is the base URL to give the client ("http://127.0.0.1:port"), "" with NoListener.
func (s *Server) URL() string { return s.url }

// Handler serves the API and GET /sim/stats; the Server itself is the handler.
func (s *Server) Handler() http.Handler { return s }

// OutputDir is the root of the content repositories.
func (s *Server) OutputDir() string { return s.opts.OutputDir }

// Close stops the HTTP server, in-flight fetches, hangs, callbacks and the scheduler,
// waits for them, and removes OutputDir if New created it. Jobs not final stay as they
// are. Safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		if s.httpSrv != nil {
			s.closeErr = s.httpSrv.Close()
		}
		s.work.closeAndWait()
		if err := s.removeOwnDir(); err != nil && s.closeErr == nil {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Server) removeOwnDir() error {
	if !s.ownDir {
		return nil
	}
	if err := os.RemoveAll(s.opts.OutputDir); err != nil {
		return fmt.Errorf("sim: remove output dir: %w", err)
	}
	return nil
}

// SetFaults replaces the injected faults from now on.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	s.mu.Lock()
	s.faults = f.withDefaults()
	s.mu.Unlock()
	return nil
}

// Faults returns the faults in force (defaults filled in).
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

// SetRate changes the per-secretId limit (requests per second, 0 = none).
func (s *Server) SetRate(n int) error {
	if n < 0 {
		return fmt.Errorf("sim: rate must not be negative, not %d", n)
	}
	s.mu.Lock()
	s.rate = n
	s.mu.Unlock()
	return nil
}

// sleep waits d on the simulator's clock; false if ctx or Close ended it first.
func (s *Server) sleep(ctx context.Context, d time.Duration) bool {
	fired := make(chan struct{})
	t := s.clock.AfterFunc(d, func() { close(fired) })
	defer t.Stop()
	select {
	case <-fired:
		return true
	case <-ctx.Done():
		return false
	case <-s.ctx.Done():
		return false
	}
}
