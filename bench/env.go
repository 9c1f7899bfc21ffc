package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/singbatch/singbatch/internal/gomod"
)

// env is what every section shares: a work folder, the singbatch binary, this
// program (for the baselines' child processes) and the progress log.
type env struct {
	p         profile
	dir       string
	singbatch string
	self      string
	log       io.Writer
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "bench: "+format+"\n", args...)
}

// run measures every section of p and writes the report to out, its plots into plots.
func run(ctx context.Context, p profile, out, plots string, log io.Writer) (*report, error) {
	e := &env{p: p, log: log}
	var err error
	if e.dir, err = os.MkdirTemp("", "singbatch-bench-"); err != nil {
		return nil, err
	}
	defer os.RemoveAll(e.dir)
	if e.self, err = os.Executable(); err != nil {
		return nil, err
	}
	rep, err := e.measureAll(ctx)
	if err != nil {
		return rep, err
	}
	if err := os.MkdirAll(plots, 0o755); err != nil {
		return rep, err
	}
	if err := rep.plot(plots); err != nil {
		return rep, fmt.Errorf("plots: %w", err)
	}
	rep.keepNotes(out)
	rel, err := filepath.Rel(filepath.Dir(out), plots)
	if err != nil {
		rel = plots
	}
	return rep, os.WriteFile(out, []byte(rep.markdown(filepath.ToSlash(rel))), 0o644)
}

// measureAll builds singbatch and runs the profile's sections.
func (e *env) measureAll(ctx context.Context) (*report, error) {
	p := e.p
	e.singbatch = filepath.Join(e.dir, "singbatch")
	e.logf("building singbatch ...")
	build := exec.CommandContext(ctx, "go", "build", "-o", e.singbatch, "./cmd/singbatch")
	build.Dir = gomod.Root()
	if b, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build singbatch: %w\n%s", err, b)
	}
	rep := &report{p: p, started: time.Now(), machine: machine(ctx), command: command(p)}
	for _, sec := range []struct {
		name string
		run  func(context.Context, *report) error
	}{
		{"modes", e.modes},
		{"quota", e.quota},
		{"overhead", e.overhead},
		{"enqueue", e.enqueue},
	} {
		if p.only != "" && !strings.Contains(sec.name, p.only) {
			continue
		}
		e.logf("section %s ...", sec.name)
		sctx, cancel := context.WithTimeout(ctx, p.sectionTimout)
		err := sec.run(sctx, rep)
		cancel()
		if err != nil {
			return rep, fmt.Errorf("%s: %w", sec.name, err)
		}
	}
	rep.took = time.Since(rep.started)
	return rep, nil
}

// command is how to regenerate the report.
func command(p profile) string {
	if p.name == "full" {
		return "go run ./bench"
	}
	return "go run ./bench -profile " + p.name
}

// machine describes where the figures were taken.
func machine(ctx context.Context) string {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				cpu = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	redisV := "?"
	if v, err := exec.CommandContext(ctx, "redis-server", "--version").Output(); err == nil {
		redisV = strings.TrimSpace(string(v))
	}
	return fmt.Sprintf("%s/%s, %d CPUs (%s), %s, %s, load average %s at the start",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), cpu, runtime.Version(), redisV, loadAverage())
}

// loadAverage is the first field of /proc/loadavg: how busy the machine was with other work.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
