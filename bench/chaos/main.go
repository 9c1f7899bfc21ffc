// Command chaos runs a batch through every fault at once and compares the outcome with
// the simulator's own truth:
//
//	go run ./bench/chaos -out docs/reliability-chaos.md
//
// Load: 2,000 items (trainings, songs on their models, songs on default) on a real
// redis-server with AOF, three `singbatch worker` processes built from this tree, and
// callbacks on, through a balancer in front of the workers as a load balancer would be.
// Simulator faults, all at once: 5 % 500s, 2 % hung replies, 1 % CreateJob applied and
// its answer lost, callbacks 10 % dropped, 10 % duplicated and 10 % late, and two
// throttling bursts (the service's limit cut to a fifth for 2 s). Process faults, spread
// over the run: 20 SIGKILLs of a random worker (each started again), one SIGTERM, one
// Redis kill and restart, and 50 forged callbacks from a stranger.
//
// It prints items final / total, items lost, requests that created more than one job,
// forged callbacks accepted, the most requests in any 1 s window against the rate, and
// the makespan, with the faults the simulator injected. -short runs CI's profile (150
// items, 3 kills, lost answers and hangs five times likelier), which the package's test
// also runs.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	short := flag.Bool("short", false, "run CI's short profile")
	items := flag.Int("items", 0, "items (default: the profile's)")
	out := flag.String("out", "", "write the Markdown report to `FILE`")
	flag.Parse()
	p := fullProfile()
	if *short {
		p = shortProfile()
	}
	if *items > 0 {
		p.Items = *items
	}
	p.Log = os.Stderr
	res, err := execute(ctx, p)
	if err != nil {
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
	report := markdown(p, res, os.Args[1:])
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "chaos:", err)
			os.Exit(1)
		}
	}
	if !res.clean() {
		os.Exit(2)
	}
}
