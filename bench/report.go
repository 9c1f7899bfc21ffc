package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/singbatch/singbatch/tasks"
)

// report is every section's figures.
type report struct {
	p        profile
	started  time.Time
	took     time.Duration
	machine  string
	command  string
	modes    *modeSection
	quota    []runResult
	overhead *overheadSection
	enqueue  []enqueueMeasure
	notes    string // the hand-written part of the previous report, kept
}

// notesMarker starts the hand-written part of docs/BENCHMARKS.md, which a new run keeps.
const notesMarker = "<!-- Hand-written notes below: `go run ./bench` keeps them. -->"

// Goals of issue 15.
const (
	goalQuotaUse      = 0.95
	goalMakespanRatio = 1.10
	goalBytesPerItem  = 800
	goalOverhead      = 0.25
	goalCallsPerJob   = 2.2 // issue 12's
)

// keepNotes reads the hand-written part of the report at path, if any.
func (r *report) keepNotes(path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return
	}
	if _, notes, ok := strings.Cut(string(b), notesMarker); ok {
		r.notes = notes
	}
}

func met(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func ms(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}

// markdown renders the report; plots is the plots folder relative to the report.
func (r *report) markdown(plots string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks\n\n")
	w("Regenerate with `%s` (profile %q; `-profile short` is the small run CI makes). ", r.command, r.p.name)
	w("Written %s, in %s, on %s.\n\n", r.started.UTC().Format("2006-01-02 15:04 MST"), r.took.Round(time.Second), r.machine)
	w("Every run has its own `redis-server` and simulator (`upstream/sim`, its default job durations: a 3-minute ")
	w("song takes about 46 s at the service, a 1-epoch training on 3 minutes of audio about 2 min) at time scale %g, ", r.p.timeScale)
	w("and `singbatch worker` processes built from this tree, whose timing settings are scaled alike, as ")
	w("`singbatch run --sim` does; nothing tells them the jobs' durations. The simulator enforces the rate limit, ")
	w("counts every request and keeps the truth (each job's `createdAt` and `completedAt`) the figures are taken from. ")
	w("Each figure is set against a baseline measured in the same run: this machine is shared and absolute times drift.\n\n")
	r.summary(&b)
	r.modesMarkdown(&b, plots)
	r.quotaMarkdown(&b, plots)
	r.enqueueMarkdown(&b)
	r.overheadMarkdown(&b)
	w("\n%s\n", notesMarker)
	if r.notes != "" {
		b.WriteString(strings.TrimPrefix(r.notes, "\n"))
	}
	return b.String()
}

// summary is one row per figure: goal, singbatch, baseline.
func (r *report) summary(b *strings.Builder) {
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## Summary\n\n| # | figure | goal | singbatch | baseline, same run | met |\n|---|---|---|---|---|---|\n")
	if m := r.modes; m != nil {
		d := m.runs[1]
		w("| 1 | upstream calls per finished job, default mode | ≤ %.1f | %.2f | naive way %.2f | %s |\n",
			goalCallsPerJob, d.callsPerJob(), m.naive.callsPerJob(), met(d.callsPerJob() <= goalCallsPerJob))
		for _, x := range m.runs {
			if x.label == d.label {
				continue
			}
			w("| 1 | … %s | ≤ %.1f | %.2f | | %s |\n", x.label, goalCallsPerJob, x.callsPerJob(), met(x.callsPerJob() <= goalCallsPerJob))
		}
		w("| 3 | lag completedAt → record, p95, default mode | under the naive way's | %s | naive way %s | %s |\n",
			ms(d.lagP95), ms(m.naive.lagP95), met(d.lagP95 < m.naive.lagP95))
		for _, x := range m.runs {
			if strings.HasPrefix(x.label, "callbacks") {
				w("| 3 | … %s | under the naive way's | %s | | %s |\n", x.label, ms(x.lagP95), met(x.lagP95 < m.naive.lagP95))
			}
		}
		w("| 4 | makespan / lower bound, default mode | ≤ %.2f | %.3f | naive way %.3f | %s |\n",
			goalMakespanRatio, d.ratio(), m.naive.ratio(), met(d.ratio() <= goalMakespanRatio))
		for _, x := range m.runs {
			if x.label != d.label {
				w("| 4 | … %s | ≤ %.2f | %.3f | | %s |\n", x.label, goalMakespanRatio, x.ratio(), met(x.ratio() <= goalMakespanRatio))
			}
		}
		w("| 4 | makespan / bound in creation order, default mode | (no client knows durations in advance) | %.3f | naive way %.3f | |\n",
			d.orderRatio(), m.naive.orderRatio())
		w("| 7 | throttled replies, default mode | 0 | %d | naive way %d | %s |\n", d.throttled, m.naive.throttled, met(d.throttled == 0))
	}
	for _, q := range r.quota {
		w("| 2 | quota use, %d processes at %d req/s | ≥ %.2f | %.4f | the rate | %s |\n", q.procs, q.rate, goalQuotaUse, q.quotaUse, met(q.quotaUse >= goalQuotaUse))
		w("| 2 | … throttled; most requests in 1 s | 0; ≤ %d | %d; %d | | %s |\n", q.rate, q.throttled, q.maxPerSec, met(q.throttled == 0 && q.maxPerSec <= q.rate))
	}
	if len(r.enqueue) == 4 {
		sb, bare := r.enqueue[0], r.enqueue[2]
		per := float64(sb.RedisBytes) / float64(sb.Lines)
		w("| 5 | enqueue items/s, %d lines | (ratio) | %.0f | bare asynq %.0f | %.2f× |\n", sb.Lines, sb.perSec(), bare.perSec(), sb.perSec()/bare.perSec())
		w("| 5 | Redis bytes per item enqueued | ≤ %d | %.0f | bare asynq %.0f | %s |\n", goalBytesPerItem, per,
			float64(bare.RedisBytes)/float64(bare.Lines), met(per <= goalBytesPerItem))
	}
	if o := r.overhead; o != nil {
		per := float64(o.redisBytes) / float64(o.jobs)
		w("| 5 | Redis bytes per item finished (%d items) | ≤ %d | %.0f | | %s |\n", o.jobs, goalBytesPerItem, per, met(per <= goalBytesPerItem))
	}
	if o := r.overhead; o != nil {
		ratio := o.jobsPerSec() / o.tasksPerSec()
		w("| 6 | finished jobs/s against a no-op asynq server's tasks/s | ≥ %.2f× | %.0f/s | %.0f/s | %.2f×, %s |\n",
			goalOverhead, o.jobsPerSec(), o.tasksPerSec(), ratio, met(ratio >= goalOverhead))
		w("| 6 | … against the floor's finished jobs/s (bare asynq, CreateJob → GetJob) | (ratio) | %.0f/s | %.0f/s | %.2f× |\n",
			o.jobsPerSec(), o.floorPerSec(), o.jobsPerSec()/o.floorPerSec())
	}
	w("\n")
}

func (r *report) modesMarkdown(b *strings.Builder, plots string) {
	m := r.modes
	if m == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 1, 3, 4, 7: calls per job, lag and makespan, per mode, beside the naive way\n\n")
	w("One manifest: %d trainings (%d epoch), %d songs on their models (each waits for its training) and %d songs on the default model; ",
		r.p.trainings, r.p.epochs, r.p.songsOnModels, r.p.songs)
	w("%d processes; the account allows %d requests/s (`UPSTREAM_RATE` and the simulator alike). ", r.p.modeProcs, r.p.rate)
	w("**The naive way** is what a user writes first with the asynq wiki's rate-limiting recipe: a token bucket per process at the account's rate, ")
	w("a fixed poll every %v (simulated; %v here) until the job ends, any error retried after that interval, run as %d processes (bench/naive.go).\n\n",
		r.p.naivePoll, time.Duration(float64(r.p.naivePoll)*r.p.timeScale), r.p.modeProcs)
	w("The lower bound is the shortest makespan the quota and the jobs' own durations (as the simulator ran them) allow: ")
	w("the k-th CreateJob cannot leave before second ⌊k/rate⌋, the longest jobs first is best, and a song on a model cannot start before the model's training ended. ")
	w("No client can reach it: a job's duration is known only once it has ended. The bound in creation order keeps the order the jobs were actually created in ")
	w("(back to back at the full rate, no other call, each recorded the instant it ended): the gap between the two is the order's, not the worker's. ")
	w("Lag is from the service's `completedAt` to the item's record (the naive way: its write to Redis), real time.\n\n")
	w("| mode | completed | failed | jobs paid | calls/job | calls per action and job | throttled | most req in 1 s | lag p50 | lag p95 | lag max |\n|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|\n")
	all := append(append([]runResult{}, m.runs...), m.naive)
	for _, x := range all {
		w("| %s | %d | %d | %d | %.2f | %s | %d | %d | %s | %s | %s |\n", x.label, x.completed, x.failed, x.jobs, x.callsPerJob(), x.actions(),
			x.throttled, x.maxPerSec, ms(x.lagP50), ms(x.lagP95), ms(x.lagMax))
	}
	w("\nMakespan, from the workers' start to the last item final, against the two bounds; the last CreateJob says how much of it the backlog took. ")
	w("Worker CPU is every worker process's user + system time over the items (idle loops included).\n\n")
	w("| mode | makespan | last CreateJob | bound, any order | ratio | bound, creation order | ratio | worker CPU/item |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, x := range all {
		w("| %s | %s | %s | %s | %.3f | %s | %.3f | %s |\n", x.label, ms(x.makespan), ms(x.lastCreate), ms(x.lowerBound), x.ratio(),
			ms(x.orderBound), x.orderRatio(), ms(x.cpu/time.Duration(max(x.items, 1))))
	}
	w("\n![calls per job](%s/%s)\n\n![items final over time](%s/%s)\n\n![requests per second](%s/%s)\n\n", plots, plotCalls, plots, plotFinals, plots, plotRate)
}

func (r *report) quotaMarkdown(b *strings.Builder, _ string) {
	if len(r.quota) == 0 {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 2: quota use while a backlog exists\n\n")
	w("Songs on the default model enqueued at once, in the default mode. Quota use is the requests the simulator received from the first ")
	w("to the last CreateJob (while items waited to be created), per second, over `UPSTREAM_RATE`; the limiter aims at 97 %% of it ")
	w("(the rest is its margin for clock jitter).\n\n")
	w("| processes | UPSTREAM_RATE | songs | quota use | throttled | most req in 1 s | calls/job | makespan | ratio to bound |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, q := range r.quota {
		w("| %d | %d | %d | %.4f | %d | %d | %.2f | %s | %.3f |\n", q.procs, q.rate, q.items, q.quotaUse, q.throttled, q.maxPerSec,
			q.callsPerJob(), ms(q.makespan), q.ratio())
	}
	w("\n")
}

func (r *report) enqueueMarkdown(b *strings.Builder) {
	if len(r.enqueue) != 4 {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 5: enqueue and Redis memory\n\n")
	w("`bench/enqueue`: a %d-line JSONL manifest (99 %% songs, 1 %% trainings), each step a child process on the same fresh Redis ", r.enqueue[0].Lines)
	w("(bare asynq on an emptied one); peak RSS is the kernel's `ru_maxrss`, Redis bytes are `used_memory` over the empty server's.\n\n")
	w("| step | wall time | items/s | against bare asynq | peak RSS | Redis bytes/item | load avg |\n|---|---:|---:|---:|---:|---:|---:|\n")
	bare := r.enqueue[2]
	for _, m := range r.enqueue {
		bytes := "-"
		if m.RedisBytes > 0 {
			bytes = fmt.Sprintf("%.0f", float64(m.RedisBytes)/float64(m.Lines))
		}
		w("| %s | %.1f s | %.0f | %.2f× | %.1f MiB | %s | %s |\n", m.Name, m.WallSec, m.perSec(), m.perSec()/bare.perSec(),
			float64(m.MaxRSSKB)/1024, bytes, m.Load)
	}
	if o := r.overhead; o != nil {
		w("\nOnce finished (section 6's %d songs, every task done): %.0f bytes per item, everything the run left in Redis included ", o.jobs, float64(o.redisBytes)/float64(o.jobs))
		w("(asynq's statistics, the learned timings, the limiter's state).")
		if m := r.modes; m != nil {
			d := m.runs[1]
			w(" After the modes section's default run (%d items): %.0f bytes per item.", d.items, float64(d.redisBytes)/float64(d.items))
		}
		w("\n")
	}
	w("\n")
}

func (r *report) overheadMarkdown(b *strings.Builder) {
	o := r.overhead
	if o == nil {
		return
	}
	w := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }
	w("## 6: worker overhead\n\n")
	w("%d songs against an instant (time scale %g), unlimited simulator, one `singbatch worker` process (%d tasks at once), ", o.jobs, instantScale, tasks.DefaultConcurrency)
	w("from its start to the last item final; beside it, on a fresh Redis, a bare asynq server with the same concurrency and a handler that does nothing, ")
	w("from its start to the last of as many tasks processed. ")
	w("**The floor** is the least a finished job can cost through asynq, with no singbatch code but the upstream client (bench/floor.go): ")
	w("on another fresh Redis and simulator of the same options, the worker's two pools (%d creates, %d polls at once); ", tasks.DefaultConcurrency, tasks.DefaultPollConcurrency)
	w("a task sends CreateJob with the request singbatch would send (its customId aside) and queues a poll task at once, ")
	w("which sends GetJob and queues itself again %v later until the job is final; from its start to both queues empty. ", floorRepoll)
	w("CPU is each process's own (user + system); the simulator and Redis are not counted.\n\n")
	w("| run | wall time | per second | CPU per job or task |\n|---|---:|---:|---:|\n")
	w("| singbatch: finished jobs | %s | %.0f | %s |\n", ms(o.singbatch), o.jobsPerSec(), (o.cpu / time.Duration(o.jobs)).Round(time.Microsecond))
	w("| the floor, bare asynq CreateJob → GetJob: finished jobs | %s | %.0f | %s |\n", ms(o.floor.wall), o.floorPerSec(), (o.floor.cpu / time.Duration(o.jobs)).Round(time.Microsecond))
	w("| bare asynq, no-op handler: tasks | %s | %.0f | %s |\n", ms(o.bare), o.tasksPerSec(), (o.bareCPU / time.Duration(o.jobs)).Round(time.Microsecond))
	w("\nRatio: %.2f× (goal ≥ %.2f×). A finished job is a CreateJob, its grouped polls and their records; a no-op task is one dequeue and one ack.\n\n",
		o.jobsPerSec()/o.tasksPerSec(), goalOverhead)
	w("The floor itself reaches %.2f× the no-op server's rate (%.2f GetJob per job): what a CreateJob task and a GetJob task per job cost, whoever runs them. ",
		o.floorPerSec()/o.tasksPerSec(), float64(o.floor.gets)/float64(o.jobs))
	w("singbatch reaches %.2f× the floor's rate, with %s more CPU per job: its own bookkeeping (records, limiter, groups, learned schedule).\n\n",
		o.jobsPerSec()/o.floorPerSec(), ((o.cpu - o.floor.cpu) / time.Duration(o.jobs)).Round(time.Microsecond))
}
