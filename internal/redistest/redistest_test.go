package redistest

import (
	"context"
	"testing"
)

func TestRestartKeepsDataWithAOF(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{AOF: true})
	ctx := context.Background()
	c := s.Client(t)
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Kill()
	s.Restart(t)
	got, err := c.Get(ctx, "k").Result()
	if err != nil || got != "v" {
		t.Fatalf("after kill and restart: got %q, %v; want v", got, err)
	}
}

func TestServersAreIsolated(t *testing.T) {
	t.Parallel()
	a, b := Start(t, Options{}), Start(t, Options{})
	ctx := context.Background()
	if err := a.Client(t).Set(ctx, "k", "a", 0).Err(); err != nil {
		t.Fatal(err)
	}
	if n, _ := b.Client(t).Exists(ctx, "k").Result(); n != 0 {
		t.Fatalf("key leaked between servers")
	}
}
