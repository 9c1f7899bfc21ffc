package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"time"
)

// roleEnv, set, makes this program one of the baselines' child processes.
const roleEnv = "SINGBATCH_BENCH_ROLE"

const (
	roleNaive = "naive" // the naive way's worker (naive.go)
	roleNoop  = "noop"  // a bare asynq server with a no-op handler (overhead.go)
	roleFloor = "floor" // a bare asynq CreateJob → GetJob pipeline (floor.go)
)

func runRole(ctx context.Context, role string) error {
	switch role {
	case roleNaive:
		return naiveWorker(ctx)
	case roleNoop:
		return noopWorker(ctx)
	case roleFloor:
		return floorWorker(ctx)
	}
	return fmt.Errorf("unknown role %q", role)
}

// Child settings, passed in the environment.
const (
	envRedis    = "BENCH_REDIS_URL"
	envUpstream = "BENCH_UPSTREAM_URL"
	envRate     = "BENCH_RATE"
	envInterval = "BENCH_POLL_INTERVAL"
)

func envInt(name string) (int, error) {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

func envDuration(name string) (time.Duration, error) {
	d, err := time.ParseDuration(os.Getenv(name))
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return d, nil
}
