package main

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/singbatch/singbatch/internal/gomod"
)

// clean reports whether the run met every target: every item of the manifest there and
// final, nothing lost, nothing paid twice, no job nobody records, no forged callback
// accepted, no window over the rate, no record that disagrees with the service.
func (r result) clean() bool {
	return r.Final == r.Total && r.Total == r.Expected && r.Total > 0 && r.Lost == 0 && r.PaidTwice == 0 &&
		r.Orphans == 0 && r.ForgedAccepted == 0 && r.OverRate == 0 && r.WrongRecords == 0 && r.UnexpectedExits == 0
}

// markdown is the run's report.
func markdown(p profile, r result, args []string) string {
	var b strings.Builder
	cmd := "go run ./bench/chaos"
	for _, a := range args {
		cmd += " " + strings.TrimPrefix(a, gomod.Root()+string(filepath.Separator))
	}
	fmt.Fprintf(&b, "Command: `%s` at commit %s (%s, %d CPUs, %s).\n\n", cmd, commit(), runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Load: %d items, %d worker processes, %d req/s, callbacks on. Done to it: %d SIGKILLs, %d SIGTERM, %d Redis restart, %d throttling bursts, %d forged callbacks.\n\n",
		r.Expected, p.Workers, p.Rate, r.Kills, r.SIGTERMs, r.RedisRestarts, r.ThrottleBursts, r.ForgedSent)
	fmt.Fprintf(&b, "Injected by the simulator: %d CreateJob answers lost, %d hung replies, %d 500s, callbacks %d dropped, %d duplicated, %d late.\n\n",
		r.LostCreates, r.Hung, r.InternalErrors, r.CallbacksDropped, r.CallbacksDuplicated, r.CallbacksDelayed)
	b.WriteString("| figure | value | target |\n|---|---|---|\n")
	row := func(name, v, target string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", name, v, target) }
	row("items final / total (in the manifest)", fmt.Sprintf("%d / %d (%d)", r.Final, r.Total, r.Expected), "all")
	row("items lost", fmt.Sprint(r.Lost), "0")
	row("requests that created more than one job", fmt.Sprint(r.PaidTwice), "0")
	row("jobs created that no record holds", fmt.Sprintf("%d (%d created, %d recorded)", r.Orphans, r.JobsCreated, r.JobsRecorded), "0")
	row("forged callbacks accepted (answered 2xx, or a forged result recorded)", fmt.Sprint(r.ForgedAccepted), "0")
	row("records that disagree with the service", fmt.Sprint(r.WrongRecords), "0")
	row("requests over the rate in any 1 s window", fmt.Sprintf("%d (most in a window: %d, rate %d)", r.OverRate, r.MaxPerSecond, p.Rate), "0")
	row("worker processes that died on their own", fmt.Sprint(r.UnexpectedExits), "0")
	row("makespan", r.Makespan.Round(100*time.Millisecond).String(), "")
	row("completed / failed", fmt.Sprintf("%d / %d", r.Completed, r.Failed), "")
	row("requests / throttled / jobs created / callbacks delivered", fmt.Sprintf("%d / %d / %d / %d", r.Requests, r.Throttled, r.JobsCreated, r.CallbacksDelivered), "")
	if len(r.FailedReasons) > 0 {
		b.WriteString("\nFailed items by reason:\n\n")
		var reasons []string
		for k := range r.FailedReasons {
			reasons = append(reasons, k)
		}
		sort.Strings(reasons)
		for _, k := range reasons {
			fmt.Fprintf(&b, "- %d × %s\n", r.FailedReasons[k], k)
		}
	}
	return b.String()
}

// commit is the tree's commit, "+" marking uncommitted changes; "unknown" outside git.
func commit() string {
	out, err := exec.Command("git", "-C", gomod.Root(), "describe", "--always", "--dirty=+").Output()
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(out))
}
