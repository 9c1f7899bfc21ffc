package main

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/internal/redistest"
)

// The app opens a part once, on first use, and Close closes what it opened.
func TestAppOpensOnceAndCloses(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	a := newApp(testEnv("", io.Discard, io.Discard, []string{"REDIS_URL=" + srv.URL(), "REDIS_PREFIX=apptest"}))
	s1, err := a.store()
	if err != nil {
		t.Fatal(err)
	}
	s2, err := a.store()
	if err != nil || s1 != s2 {
		t.Fatalf("second store: %p %p %v", s1, s2, err)
	}
	rdb, err := a.redis()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.Ping(ctx).Err(); !errors.Is(err, redis.ErrClosed) {
		t.Errorf("ping after Close: %v, want redis.ErrClosed", err)
	}
}

// A malformed environment is reported by whatever part is asked for first, and nothing
// is opened.
func TestAppConfigError(t *testing.T) {
	t.Parallel()
	a := newApp(testEnv("", io.Discard, io.Discard, []string{"UPSTREAM_RATE=abc"}))
	if _, err := a.store(); err == nil || !strings.Contains(err.Error(), "UPSTREAM_RATE") {
		t.Errorf("store: %v, want the configuration error", err)
	}
	if _, err := a.logger(); err == nil || !strings.Contains(err.Error(), "UPSTREAM_RATE") {
		t.Errorf("logger: %v, want the configuration error", err)
	}
	if len(a.closers) != 0 {
		t.Errorf("%d parts opened", len(a.closers))
	}
}
