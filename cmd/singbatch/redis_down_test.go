package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// enqueue with Redis away fails at once, saying so, with nothing done; once Redis is
// back, the same command enqueues everything, once.
func TestEnqueueWithRedisDown(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	manifest := filepath.Join(t.TempDir(), "m.jsonl")
	if err := os.WriteFile(manifest, []byte(`{"id":"s1","kind":"song","text":"la","contentId":"r"}`+"\n"+
		`{"id":"s2","kind":"song","text":"la","contentId":"r"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	b.redis.Stop()
	_, _, err := b.run(t.Context(), "", "enqueue", "--batch", "down", manifest)
	if !errors.Is(err, errRedisUnavailable) || !strings.Contains(err.Error(), "run the same command again") ||
		!strings.Contains(err.Error(), b.redis.Addr) {
		t.Fatalf("enqueue with Redis down: %v", err)
	}
	b.redis.Restart(t)
	if out := b.mustRun("", "enqueue", "--batch", "down", manifest); !strings.Contains(out, "2 new") {
		t.Errorf("enqueue once Redis is back: %q", out)
	}
	if out := b.mustRun("", "enqueue", "--batch", "down", manifest); !strings.Contains(out, "0 new, 2 already in batch") {
		t.Errorf("enqueue again: %q", out)
	}
}
