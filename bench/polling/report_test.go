package main

import (
	"strings"
	"testing"
	"time"
)

func TestGoalsMarkTheWorstVariant(t *testing.T) {
	t.Parallel()
	sr := scenarioResult{sc: scenario{name: "song 20 s"}, runs: []runResult{
		{v: variant{name: "default"}, jobs: 10, calls: 21, makespan: 100 * time.Second, shareP95: 0.1},
		{v: variant{name: "hint÷50"}, jobs: 10, calls: 23, makespan: 110 * time.Second, shareP95: 0.3},
		{v: variant{name: "truth", hint: 1}, jobs: 10, calls: 20, makespan: 100 * time.Second, shareP95: 0.05},
		{v: variant{name: "naive 1 s", naive: true}, jobs: 10, calls: 100, makespan: 400 * time.Second, shareP95: 0.01},
	}}
	md := markdown(options{jobs: 10, rate: 20, jitter: 0.1}, []scenarioResult{sr}, "-jobs 10")
	if want := "| song 20 s | ✓ worst 1.10 | ✗ worst 2.30 | ✗ worst 30 % |"; !strings.Contains(md, want) {
		t.Errorf("goals row missing %q:\n%s", want, md)
	}
	if got := withNotes("new\n", "old\n"+keepMarker+"\nnotes\n"); got != "new\n\n"+keepMarker+"\nnotes\n" {
		t.Errorf("withNotes = %q", got)
	}
}
