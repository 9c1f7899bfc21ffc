// Command bench measures singbatch against a baseline measured in the same run, and
// writes docs/BENCHMARKS.md with its plots:
//
//	go run ./bench                  # the full profile (about 15 minutes)
//	go run ./bench -profile short   # a few seconds per section, as CI runs it
//
// It runs on real redis-server processes, the simulator (upstream/sim) in this process,
// and `singbatch worker` processes built from ./cmd/singbatch; the baselines (a bare
// asynq no-op server, the floor, the naive way) are this program re-run as child processes. Every
// figure is a ratio against its baseline: the machine is shared and absolute times drift.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/singbatch/singbatch/internal/gomod"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(ctx, role); err != nil {
			fmt.Fprintln(os.Stderr, "bench", role+":", err)
			os.Exit(1)
		}
		return
	}
	var profileName, out, plots, only, onlyMode string
	flag.StringVar(&profileName, "profile", "full", "`full` or short (small N, as CI runs it)")
	flag.StringVar(&out, "out", filepath.Join(gomod.Root(), "docs", "BENCHMARKS.md"), "write the report to `FILE`")
	flag.StringVar(&plots, "plots", "", "write the plots into `DIR` (default: benchmarks/ next to -out)")
	flag.StringVar(&only, "only", "", "run only the sections whose names contain `TEXT` (modes, quota, enqueue, overhead)")
	flag.StringVar(&onlyMode, "mode", "", "in the modes section, run only the modes whose names contain `TEXT` (the report needs them all)")
	flag.Parse()
	p, err := profileNamed(profileName)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	if plots == "" {
		plots = filepath.Join(filepath.Dir(out), "benchmarks")
	}
	p.only, p.onlyMode = only, onlyMode
	if _, err := run(ctx, p, out, plots, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
