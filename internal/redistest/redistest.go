// Package redistest starts a private redis-server for a test: its own loopback port and
// data directory, so tests can run in parallel, restart it, kill it, or turn AOF on.
package redistest

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redisproc"
)

// Options configure the server.
type Options struct {
	AOF bool // appendonly yes, fsync always: survives a SIGKILL with nothing lost
}

// Server is a running redis-server child, stopped when the test ends.
type Server struct {
	Addr string
	proc *redisproc.Proc
}

// Start launches a server and stops it when the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	p, err := redisproc.Start(context.Background(), redisproc.Options{Dir: t.TempDir(), AOF: opts.AOF})
	if err != nil {
		t.Fatalf("redistest: %v", err)
	}
	t.Cleanup(p.Stop)
	return &Server{Addr: p.Addr(), proc: p}
}

// URL is the server's redis:// URL (database 0).
func (s *Server) URL() string { return s.proc.URL() }

// Client returns a client closed at the end of the test.
func (s *Server) Client(t testing.TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Stop shuts the server down gracefully (SIGTERM).
func (s *Server) Stop() { s.proc.Stop() }

// Kill ends the server abruptly (SIGKILL), as a crash would.
func (s *Server) Kill() { s.proc.Kill() }

// Restart starts the server again on the same port and data directory.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if err := s.proc.Restart(context.Background()); err != nil {
		t.Fatalf("redistest: restart: %v", err)
	}
}
