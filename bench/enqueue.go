package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"

	"github.com/singbatch/singbatch/internal/gomod"
)

// enqueueMeasure is one child process of bench/enqueue, as its -json writes it.
type enqueueMeasure struct {
	Name       string  `json:"name"`
	Lines      int     `json:"lines"`
	WallSec    float64 `json:"wallSeconds"`
	MaxRSSKB   int64   `json:"maxRssKB"`
	RedisBytes int64   `json:"redisBytes"`
	Load       string  `json:"load"`
}

func (m enqueueMeasure) perSec() float64 { return float64(m.Lines) / m.WallSec }

// enqueue runs bench/enqueue (singbatch enqueue, again, bare asynq, reading only; each a
// child process on its own Redis) on the profile's manifest size.
func (e *env) enqueue(ctx context.Context, rep *report) error {
	bin := filepath.Join(e.dir, "bench-enqueue")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./bench/enqueue")
	build.Dir = gomod.Root()
	if b, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("build bench/enqueue: %w\n%s", err, b)
	}
	out := filepath.Join(e.dir, "enqueue.json")
	e.logf("  %d lines ...", e.p.enqueueLines)
	cmd := exec.CommandContext(ctx, bin, "-n", strconv.Itoa(e.p.enqueueLines), "-json", out, "-singbatch", e.singbatch, "-dir", e.dir)
	cmd.Stderr = e.log
	if b, err := cmd.Output(); err != nil {
		return fmt.Errorf("bench/enqueue: %w\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		return err
	}
	var ms []enqueueMeasure
	if err := json.Unmarshal(b, &ms); err != nil {
		return fmt.Errorf("%s: %w", out, err)
	}
	if len(ms) != 4 {
		return fmt.Errorf("bench/enqueue wrote %d measures, want 4", len(ms))
	}
	rep.enqueue = ms
	return nil
}
