// Package localstack is what `singbatch run` starts on this machine: a working folder,
// its own redis-server, and with the simulator a file server for the manifests' audio,
// an in-process worker, and the progress and summary it prints. It reads nothing from
// the environment or the command line: the command passes Options.
package localstack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Options configure a stack.
type Options struct {
	Dir       string    // the working folder (--dir)
	Sim       bool      // start the simulator and serve the manifests' folders
	TimeScale float64   // with Sim: the simulator's time scale
	Batch     string    // the batch the run follows
	Files     []string  // the manifests as given
	Rate      float64   // UPSTREAM_RATE: with Sim, the simulator enforces it too
	Prefix    string    // REDIS_PREFIX, for the hints of PrintKeep
	Started   time.Time // when the run started, for the summary
	Stdout    io.Writer // progress and summary
	TTY       bool      // Stdout is a terminal: the progress bar is redrawn in place

	// NewLogger builds the run's logger writing to w, the log file: the terminal shows
	// the progress.
	NewLogger func(w io.Writer) (*zap.Logger, error)
	// OpenStore opens the batch records on the redis-server the stack started, at
	// redisURL. The caller owns and closes what it opened.
	OpenStore func(redisURL string) (*batch.Store, error)
}

// Stack is one run's processes, stopped in reverse order of start by Close.
type Stack struct {
	opts Options

	dir     workDir
	logFile *os.File
	log     *zap.Logger
	redis   *redisproc.Proc
	store   *batch.Store
	files   *fileServer
	sim     *sim.Server
	creds   upstream.Credentials // the simulator's
	// manifests are what is enqueued: the files given, or copies with the placeholder
	// replaced; shownAs maps a copy back to the file given, for messages.
	manifests []string
	shownAs   map[string]string

	workerStop context.CancelFunc
	workerDone chan error

	usageMu sync.Mutex
	usage   func() string // the worker's account of upstream calls, for the summary
}

// SetUsage gives the summary a line about the worker's upstream calls.
func (s *Stack) SetUsage(f func() string) {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	s.usage = f
}

func (s *Stack) usageLine() string {
	s.usageMu.Lock()
	defer s.usageMu.Unlock()
	if s.usage == nil {
		return ""
	}
	return s.usage()
}

// Start prepares the working folder and starts Redis, and with Sim the file server and
// the simulator. On error, what it started is stopped.
func Start(ctx context.Context, o Options) (*Stack, error) {
	s := &Stack{opts: o}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Stack) start(ctx context.Context) error {
	var err error
	if s.dir, err = prepareWorkDir(s.opts.Dir, s.opts.Sim); err != nil {
		return err
	}
	if s.logFile, err = os.OpenFile(s.dir.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return fmt.Errorf("run: log file: %w", err)
	}
	if s.log, err = s.opts.NewLogger(s.logFile); err != nil {
		return err
	}
	s.log = s.log.With(zap.String("command", "run"))
	s.printf("singbatch run: working folder %s (log: %s)\n", s.dir.root, s.dir.log)

	if s.redis, err = redisproc.Start(ctx, redisproc.Options{Dir: s.dir.redis, AOF: true}); err != nil {
		if errors.Is(err, redisproc.ErrNotInstalled) {
			return fmt.Errorf("run: %w", err)
		}
		return fmt.Errorf("run: start redis-server (its log: %s/redis.log): %w", s.dir.redis, err)
	}
	if s.store, err = s.opts.OpenStore(s.redis.URL()); err != nil {
		return err
	}
	s.printf("redis-server  %s  (data: %s, append-only file)\n", s.redis.URL(), s.dir.redis)

	s.manifests, s.shownAs = s.opts.Files, map[string]string{}
	if s.opts.Sim {
		return s.startSim()
	}
	return nil
}

// startSim serves the manifests' folders, rewrites the manifests that use the
// placeholder, and starts the simulator with credentials of its own.
func (s *Stack) startSim() error {
	var err error
	if s.files, err = startFileServer(s.log.Named("files")); err != nil {
		return err
	}
	s.manifests, s.shownAs, err = s.files.rewrite(s.opts.Files, s.dir.manifests)
	if err != nil {
		return err
	}
	for _, line := range s.files.served() {
		s.printf("audio files   %s\n", line)
	}
	if s.creds, err = generatedCredentials(); err != nil {
		return err
	}
	rate := int(math.Ceil(s.opts.Rate)) // the simulator enforces the account's rate too
	if s.sim, err = sim.New(sim.Options{
		Credentials: s.creds,
		Seed:        1,
		TimeScale:   s.opts.TimeScale,
		Rate:        rate,
		OutputDir:   s.dir.outputs,
		Logger:      s.log.Named("sim"),
	}); err != nil {
		return fmt.Errorf("run: simulator: %w", err)
	}
	s.printf("simulator     %s  (time scale %g, %d requests/s, outputs: %s)\n", s.sim.URL(), s.opts.TimeScale, rate, s.dir.outputs)
	return nil
}

// generatedCredentials are random credentials shared by the simulator and the client of
// one run; they are never shown.
func generatedCredentials() (upstream.Credentials, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return upstream.Credentials{}, fmt.Errorf("run: generate simulator credentials: %w", err)
	}
	return upstream.Credentials{
		SecretID:  upstream.NewSecret("AKIDsim" + hex.EncodeToString(b[:8])),
		SecretKey: upstream.NewSecret(hex.EncodeToString(b[8:])),
	}, nil
}

// Simulator is the simulator's URL and the credentials it accepts; ok is false without Sim.
func (s *Stack) Simulator() (url string, creds upstream.Credentials, ok bool) {
	if s.sim == nil {
		return "", upstream.Credentials{}, false
	}
	return s.sim.URL(), s.creds, true
}

// Log is the run's logger, writing to the log file.
func (s *Stack) Log() *zap.Logger { return s.log }

// Store is the batch records opened by Options.OpenStore.
func (s *Stack) Store() *batch.Store { return s.store }

// Root is the working folder, where the enqueue may keep its temporary files.
func (s *Stack) Root() string { return s.dir.root }

// Manifests are the files to enqueue: those given, or their copies with the placeholder
// replaced.
func (s *Stack) Manifests() []string { return s.manifests }

// ShownAs is the name of a manifest as the user gave it, for a name from Manifests.
func (s *Stack) ShownAs(file string) string {
	if orig, ok := s.shownAs[file]; ok {
		return orig
	}
	return file
}

// Close ends whatever is still running, in reverse order of start.
func (s *Stack) Close() {
	if err := s.StopWorker(); err != nil && s.log != nil {
		s.log.Error("worker stopped with an error", zap.Error(err))
	}
	if s.sim != nil {
		if err := s.sim.Close(); err != nil {
			s.log.Warn("simulator close", zap.Error(err))
		}
	}
	if s.files != nil {
		s.files.close()
	}
	if s.redis != nil {
		s.redis.Stop() // SIGTERM: redis-server flushes its append-only file and exits
	}
	if s.log != nil {
		_ = s.log.Sync()
	}
	if s.logFile != nil {
		_ = s.logFile.Close()
	}
}

func (s *Stack) printf(format string, args ...any) {
	fmt.Fprintf(s.opts.Stdout, format, args...)
}
