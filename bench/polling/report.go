package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// markdown renders the results, with the machine and the command.
func markdown(o options, results []scenarioResult, args string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## Polling across job lengths\n\n")
	fmt.Fprintf(&b, "```sh\ngo run ./bench/polling %s\n```\n\n", args)
	fmt.Fprintf(&b, "%s, %d CPUs, %s, %s. %d jobs per run enqueued at once, rate limit %g requests/s, "+
		"job durations ×U[%.2f, %.2f] around the scenario's mean. Times are simulated (real × 1/scale).\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH,
		o.jobs, o.rate, 1-o.jitter, 1+o.jitter)
	b.WriteString("| scenario | variant | makespan | ÷ truth | calls/job | lag p50 | lag p95 | p95 lag ÷ duration | max req/s | 429s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sr := range results {
		var truth time.Duration
		for _, r := range sr.runs {
			if r.v.name == "truth" {
				truth = r.makespan
			}
		}
		for _, r := range sr.runs {
			ratio := "—"
			if truth > 0 {
				ratio = fmt.Sprintf("%.2f", float64(r.makespan)/float64(truth))
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %.2f | %s | %s | %.0f %% | %d | %d |\n",
				sr.sc.name, r.v.name, short(r.makespan), ratio, float64(r.calls)/float64(r.jobs),
				short(r.lagP50), short(r.lagP95), 100*r.shareP95, r.maxRate, r.throttle)
		}
	}
	return b.String()
}

// short prints a duration with about three significant digits.
func short(d time.Duration) string {
	switch {
	case d >= time.Minute:
		return d.Round(time.Second).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	default:
		return d.Round(time.Millisecond).String()
	}
}
