// Package redisproc runs redis-server as a child process with its own data directory:
// `singbatch run` uses it for a zero-set-up local run, and tests use it (through
// redistest) for a private server they can kill, restart, or run with AOF.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/childproc"
)

// ErrNotInstalled means redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH: install it with `apt-get install -y redis-server` (or run: bash .ci/deps)")

// Options configure the server.
type Options struct {
	Dir  string // data directory (required); redis.log is written there
	Host string // default 127.0.0.1
	Port int    // 0 picks a free port
	AOF  bool   // appendonly yes, fsync always: survives a SIGKILL with nothing lost
	// ReplicaOf, "host:port", starts the server as a replica of that master.
	ReplicaOf string
	// Sentinel, when set, starts a Sentinel (redis-server --sentinel) that monitors it.
	Sentinel *SentinelOf
	// Cluster starts a node of a Redis Cluster (its nodes.conf in Dir).
	Cluster bool
}

// SentinelOf is what a Sentinel monitors: a master by name and address, and how many
// sentinels must agree that it is down. Failures are judged fast (1 s), for tests.
type SentinelOf struct {
	Name, Master string
	Quorum       int
}

// Proc is a running (or stopped) redis-server child.
type Proc struct {
	opts Options
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// Start launches redis-server and waits until it answers PING.
func Start(ctx context.Context, opts Options) (*Proc, error) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		return nil, ErrNotInstalled
	}
	if opts.Dir == "" {
		return nil, errors.New("redisproc: Options.Dir is required")
	}
	// redis-server changes into --dir before it opens its log file, so a relative path
	// would be resolved twice.
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("redisproc: data directory: %w", err)
	}
	opts.Dir = dir
	if opts.Host == "" {
		opts.Host = "127.0.0.1"
	}
	p := &Proc{opts: opts}
	for range 5 { // a free port may be taken between picking and binding
		port := opts.Port
		if port == 0 {
			if port, err = freePort(opts.Host); err != nil {
				return nil, fmt.Errorf("pick a port for redis-server: %w", err)
			}
		}
		p.addr = net.JoinHostPort(opts.Host, strconv.Itoa(port))
		if err = p.launch(ctx); err == nil || opts.Port != 0 {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Addr is host:port.
func (p *Proc) Addr() string { return p.addr }

// URL is the server's redis:// URL (database 0).
func (p *Proc) URL() string { return "redis://" + p.addr + "/0" }

// Stop shuts the server down gracefully (SIGTERM, which makes it flush its AOF).
func (p *Proc) Stop() { p.signal(syscall.SIGTERM) }

// Kill ends the server abruptly (SIGKILL), as a crash would.
func (p *Proc) Kill() { p.signal(syscall.SIGKILL) }

// Restart starts a stopped server again on the same address and data directory.
func (p *Proc) Restart(ctx context.Context) error {
	p.Stop()
	var err error
	for range 50 { // the port may linger for a moment after the old process exits
		if err = p.launch(ctx); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return err
}

func (p *Proc) signal(sig syscall.Signal) {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.cmd = nil
}

func (p *Proc) launch(ctx context.Context) error {
	host, port, _ := net.SplitHostPort(p.addr)
	logFile := filepath.Join(p.opts.Dir, "redis.log")
	args, err := p.args(host, port, logFile)
	if err != nil {
		return err
	}
	cmd := exec.Command("redis-server", args...)
	childproc.DieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }() // owned by p: ends when the child exits
	c := redis.NewClient(&redis.Options{Addr: p.addr, MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-done:
			log, _ := os.ReadFile(logFile)
			return fmt.Errorf("redis-server on %s exited: %s", p.addr, tail(string(log), 600))
		case <-ctx.Done():
			_ = cmd.Process.Kill()
			<-done
			return ctx.Err()
		default:
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		err := c.Ping(pctx).Err()
		cancel()
		if err == nil {
			p.cmd, p.done = cmd, done
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-done
	return fmt.Errorf("redis-server on %s did not answer PING within 10s", p.addr)
}

// args are redis-server's arguments: a data server, a replica or a Sentinel.
func (p *Proc) args(host, port, logFile string) ([]string, error) {
	common := []string{"--bind", host, "--port", port, "--dir", p.opts.Dir, "--daemonize", "no", "--logfile", logFile}
	if s := p.opts.Sentinel; s != nil {
		// A Sentinel rewrites its configuration file: it must be its own, and writable.
		mh, mp, err := net.SplitHostPort(s.Master)
		if err != nil {
			return nil, fmt.Errorf("redisproc: sentinel master %q: %w", s.Master, err)
		}
		conf := filepath.Join(p.opts.Dir, "sentinel.conf")
		if _, err := os.Stat(conf); errors.Is(err, os.ErrNotExist) {
			text := fmt.Sprintf("sentinel monitor %s %s %s %d\nsentinel down-after-milliseconds %s 1000\n"+
				"sentinel failover-timeout %s 5000\nsentinel parallel-syncs %s 1\n", s.Name, mh, mp, s.Quorum, s.Name, s.Name, s.Name)
			if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
				return nil, fmt.Errorf("redisproc: sentinel config: %w", err)
			}
		}
		return append([]string{conf, "--sentinel"}, common...), nil
	}
	args := append(common, "--save", "", "--appendonly", "no")
	if p.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	if p.opts.Cluster {
		args = append(args, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000")
	}
	if p.opts.ReplicaOf != "" {
		rh, rp, err := net.SplitHostPort(p.opts.ReplicaOf)
		if err != nil {
			return nil, fmt.Errorf("redisproc: replica of %q: %w", p.opts.ReplicaOf, err)
		}
		args = append(args, "--replicaof", rh, rp)
	}
	return args, nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
