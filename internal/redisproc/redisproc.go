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
)

// ErrNotInstalled means redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH: install it with `apt-get install -y redis-server` (or run: bash .ci/deps)")

// Options configure the server.
type Options struct {
	Dir  string // data directory (required); redis.log is written there
	Host string // default 127.0.0.1
	Port int    // 0 picks a free port
	AOF  bool   // appendonly yes, fsync always: survives a SIGKILL with nothing lost
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
	args := []string{
		"--bind", host, "--port", port, "--dir", p.opts.Dir,
		"--save", "", "--daemonize", "no", "--logfile", logFile,
		"--appendonly", "no",
	}
	if p.opts.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	cmd := exec.Command("redis-server", args...)
	dieWithParent(cmd)
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
