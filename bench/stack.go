package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/childproc"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

const (
	benchPrefix = "bench"
	benchBatch  = "bench"
	// benchCallbackSecret signs the callback URLs of the callback modes.
	benchCallbackSecret = "bench-callback-secret-0123456789abcdef"
)

var benchCreds = upstream.Credentials{SecretID: upstream.NewSecret("AKIDbench"), SecretKey: upstream.NewSecret("bench-key-s3cr3t")}

// stack is one run's fresh redis-server and simulator, and the processes started on them.
type stack struct {
	env   *env
	dir   string
	redis *redisproc.Proc
	rdb   *redis.Client
	store *batch.Store
	sim   *sim.Server
	procs []*exec.Cmd
	logs  []*os.File
}

// newStack starts Redis and a simulator with opts (credentials, arrivals and an output
// folder filled in).
func (e *env) newStack(ctx context.Context, opts sim.Options) (*stack, error) {
	s := &stack{env: e}
	var err error
	if s.dir, err = os.MkdirTemp(e.dir, "run-"); err != nil {
		return nil, err
	}
	if s.redis, err = redisproc.Start(ctx, redisproc.Options{Dir: s.dir}); err != nil {
		return nil, err
	}
	s.rdb = redis.NewClient(&redis.Options{Addr: s.redis.Addr(), PoolSize: 32})
	s.store = batch.NewStore(s.rdb, keyspace.Keys{Prefix: benchPrefix}, nil)
	opts.Credentials, opts.KeepArrivals, opts.SkipFetch = benchCreds, true, true
	opts.OutputDir = filepath.Join(s.dir, "out")
	if s.sim, err = sim.New(opts); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// baseEnv is what every singbatch process of the stack gets.
func (s *stack) baseEnv(rate int) []string {
	return append(os.Environ(),
		"REDIS_URL="+s.redis.URL(), "REDIS_PREFIX="+benchPrefix,
		"UPSTREAM_URL="+s.sim.URL(), "UPSTREAM_SECRET_ID="+benchCreds.SecretID.Reveal(),
		"UPSTREAM_SECRET_KEY="+benchCreds.SecretKey.Reveal(), "UPSTREAM_TIMEOUT=10s",
		fmt.Sprintf("UPSTREAM_RATE=%d", rate), "LOG_FORMAT=json", "LOG_LEVEL=warn")
}

// enqueue runs `singbatch enqueue` on a manifest.
func (s *stack) enqueue(ctx context.Context, rate int, manifest string) error {
	cmd := exec.CommandContext(ctx, s.env.singbatch, "enqueue", "--batch", benchBatch, manifest)
	cmd.Env = s.baseEnv(rate)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("enqueue: %w\n%s", err, out)
	}
	return nil
}

// start starts one process with env, its output in the run's folder.
func (s *stack) start(name string, env []string, bin string, args ...string) (*exec.Cmd, error) {
	logf, err := os.Create(filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", name, len(s.procs))))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, logf, logf
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		_ = logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.procs, s.logs = append(s.procs, cmd), append(s.logs, logf)
	return cmd, nil
}

// stopProcs ends every process with SIGTERM and waits; it returns their CPU time.
func (s *stack) stopProcs() time.Duration {
	var cpu time.Duration
	for _, p := range s.procs {
		_ = p.Process.Signal(syscall.SIGTERM)
	}
	for _, p := range s.procs {
		done := make(chan struct{})
		go func() { _ = p.Wait(); close(done) }() // ends when p does, below at the latest
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = p.Process.Kill()
			<-done
		}
		if p.ProcessState != nil {
			cpu += p.ProcessState.UserTime() + p.ProcessState.SystemTime()
		}
	}
	for _, f := range s.logs {
		_ = f.Close()
	}
	s.procs, s.logs = nil, nil
	return cpu
}

// logTail is the end of the processes' logs, for an error.
func (s *stack) logTail() string {
	var out []byte
	for _, f := range s.logs {
		b, _ := os.ReadFile(f.Name())
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		out = append(out, fmt.Sprintf("--- %s\n", filepath.Base(f.Name()))...)
		out = append(out, b...)
	}
	return string(out)
}

func (s *stack) close() {
	s.stopProcs()
	if s.sim != nil {
		_ = s.sim.Close()
	}
	if s.rdb != nil {
		_ = s.rdb.Close()
	}
	if s.redis != nil {
		s.redis.Stop()
	}
}
