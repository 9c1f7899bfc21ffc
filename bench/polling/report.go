package main

import (
	"fmt"
	"runtime"
	"strings"
	"time"
)

// markdown renders the results, with the machine and the command.
func markdown(o options, results []scenarioResult, args string) string {
	switch o.mode {
	case "callbacks":
		return callbacksMarkdown(o, results, args)
	case "groups":
		return groupsMarkdown(o, results, args)
	}
	var b strings.Builder
	header(&b, "Polling across job lengths", o, args, "")
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
	b.WriteString("\nGoals, for the variants without the truth (default, hint÷50, hint×50): makespan within " +
		"1.15 × truth's, at most 2.2 upstream calls per job, p95 lag at most 20 % of the job's duration.\n\n")
	b.WriteString("| scenario | makespan ≤ 1.15 × truth | calls/job ≤ 2.2 | p95 lag ≤ 20 % |\n|---|---|---|---|\n")
	for _, sr := range results {
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", sr.sc.name, sr.worst(func(r runResult, truth time.Duration) (float64, bool) {
			x := float64(r.makespan) / float64(truth)
			return x, x <= 1.15
		}, "%.2f"), sr.worst(func(r runResult, _ time.Duration) (float64, bool) {
			x := float64(r.calls) / float64(r.jobs)
			return x, x <= 2.2
		}, "%.2f"), sr.worst(func(r runResult, _ time.Duration) (float64, bool) {
			return 100 * r.shareP95, r.shareP95 <= 0.2
		}, "%.0f %%"))
	}
	return b.String()
}

// callbacksMarkdown renders -mode callbacks: callbacks against per-job polling.
func callbacksMarkdown(o options, results []scenarioResult, args string) string {
	var b strings.Builder
	header(&b, "Callbacks against per-job polling", o, args, " But \"lag p50, real\" is in real time: a callback's way does not scale.")
	b.WriteString("| scenario | variant | makespan | calls/job | lag p50 | lag p50, real | lag p95 | max req/s | 429s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, sr := range results {
		for _, r := range sr.runs {
			fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %s | %s | %s | %d | %d |\n", sr.sc.name, r.v.name, short(r.makespan),
				float64(r.calls)/float64(r.jobs), short(r.lagP50), short(r.lagReal), short(r.lagP95), r.maxRate, r.throttle)
		}
	}
	b.WriteString("\nGoals: upstream calls per finished job at most 1.05 when every callback arrives and 1.15 " +
		"with 10 % lost; p50 from the service's completedAt to the record at most 0.5 s.\n\n")
	b.WriteString("| scenario | calls/job ≤ 1.05 (all arrive) | calls/job ≤ 1.15 (10 % lost) | lag p50 ≤ 0.5 s |\n|---|---|---|---|\n")
	for _, sr := range results {
		row := []string{sr.sc.name}
		for _, goal := range []struct {
			drop  float64
			limit float64
		}{{0, 1.05}, {0.1, 1.15}} {
			cell := "—"
			for _, r := range sr.runs {
				if r.v.callbacks && r.v.drop == goal.drop {
					x := float64(r.calls) / float64(r.jobs)
					cell = fmt.Sprintf("%s %.2f", tick(x <= goal.limit), x)
				}
			}
			row = append(row, cell)
		}
		worst, ok := time.Duration(0), true
		for _, r := range sr.runs {
			if r.v.callbacks {
				worst, ok = max(worst, r.lagReal), ok && r.lagReal <= 500*time.Millisecond
			}
		}
		row = append(row, fmt.Sprintf("%s worst %s", tick(ok), short(worst)))
		fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
	}
	return b.String()
}

// groupsMarkdown renders -mode groups: grouped customIds against one per job.
func groupsMarkdown(o options, results []scenarioResult, args string) string {
	var b strings.Builder
	header(&b, "Grouped polling against per-job polling", o, args, " Quota use is the calls made over what the rate allows during the makespan.")
	b.WriteString("| scenario | variant | makespan | ÷ per-job | calls/job | quota use | lag p50 | lag p95 | max req/s | 429s |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|---|\n")
	for _, sr := range results {
		base := sr.runs[0].makespan
		for _, r := range sr.runs {
			use := float64(r.calls) / (o.rate * r.makespan.Seconds() * sr.sc.scale)
			fmt.Fprintf(&b, "| %s | %s | %s | %.2f | %.2f | %.0f %% | %s | %s | %d | %d |\n", sr.sc.name, r.v.name, short(r.makespan),
				float64(r.makespan)/float64(base), float64(r.calls)/float64(r.jobs), 100*use, short(r.lagP50), short(r.lagP95), r.maxRate, r.throttle)
		}
	}
	b.WriteString("\nGoal: at most 1.3 upstream calls per finished job with grouped polling (aim: 1.15).\n\n")
	b.WriteString("| scenario | calls/job ≤ 1.3 |\n|---|---|\n")
	for _, sr := range results {
		for _, r := range sr.runs {
			if r.v.groupSize > 1 {
				x := float64(r.calls) / float64(r.jobs)
				fmt.Fprintf(&b, "| %s | %s %.2f |\n", sr.sc.name, tick(x <= 1.3), x)
			}
		}
	}
	return b.String()
}

func tick(ok bool) string {
	if ok {
		return "✓"
	}
	return "✗"
}

// header starts a report: its title, the command, the machine and the run's shape.
func header(b *strings.Builder, title string, o options, args, more string) {
	fmt.Fprintf(b, "# %s\n\n```sh\ngo run ./bench/polling %s\n```\n\n", title, args)
	fmt.Fprintf(b, "%s, %d CPUs, %s, %s. %d jobs per run enqueued at once, rate limit %g requests/s, "+
		"job durations ×U[%.2f, %.2f] around the scenario's mean. Times are simulated (real × 1/scale).%s\n\n",
		time.Now().UTC().Format("2006-01-02"), runtime.NumCPU(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH,
		o.jobs, o.rate, 1-o.jitter, 1+o.jitter, more)
}

// worst is the worst figure of the variants that are not told the truth, with a tick
// when every one meets its goal.
func (sr scenarioResult) worst(figure func(r runResult, truth time.Duration) (float64, bool), format string) string {
	var truth time.Duration
	for _, r := range sr.runs {
		if r.v.name == "truth" {
			truth = r.makespan
		}
	}
	worst, ok := 0.0, true
	for _, r := range sr.runs {
		if r.v.naive || r.v.name == "truth" || truth == 0 {
			continue
		}
		x, met := figure(r, truth)
		worst, ok = max(worst, x), ok && met
	}
	return fmt.Sprintf("%s worst "+format, tick(ok), worst)
}

// keepMarker starts the hand-written part of the -out file (comments on the figures),
// which a new run keeps after its own section.
const keepMarker = "<!-- Hand-written from here on; bench/polling keeps it when it rewrites this file. -->"

// withNotes appends old's hand-written part, if any, to a new run's section.
func withNotes(md, old string) string {
	if i := strings.Index(old, keepMarker); i >= 0 {
		return md + "\n" + old[i:]
	}
	return md
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
