package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/tasks"
)

func enqueueCommand() command {
	return command{name: "enqueue", summary: "read manifests into a batch and queue its items", run: runEnqueue}
}

type enqueueFlags struct {
	batch  string
	dryRun bool
	strict bool
	format manifest.Format
	files  []string
	// maxJobs caps the batch's jobs when set (maxJobsSet): -max-jobs 0 lifts a cap.
	maxJobs    int64
	maxJobsSet bool
	notify     string          // URL the batch's end is posted to
	priority   *batch.Priority // when given: the batch's priority
}

func parseEnqueueFlags(e env, args []string) (enqueueFlags, error) {
	var f enqueueFlags
	var format string
	fs := newFlagSet(e, "enqueue", "--batch NAME [--dry-run] [--strict] [--format jsonl|csv] [--max-jobs N] [--priority high|normal|low] [--notify URL] FILE... (FILE - reads standard input)")
	fs.StringVar(&f.batch, "batch", "", "the batch `NAME` (required): letters, digits, '_', '-', '.'")
	fs.BoolVar(&f.dryRun, "dry-run", false, "validate and print the plan (items, models, upstream calls, time); write nothing")
	fs.BoolVar(&f.strict, "strict", false, "enqueue nothing if any line is invalid (default: enqueue the valid lines)")
	fs.StringVar(&format, "format", "", "manifest format `jsonl|csv` (default: by file extension; for -, by content: JSON Lines if it starts with {, else CSV)")
	fs.Int64Var(&f.maxJobs, "max-jobs", 0, "cap the jobs created for the batch at `N`, retries included (0: no cap); enqueueing again with another N changes it")
	var priority string
	fs.StringVar(&priority, "priority", "", "`high|normal|low`: a high batch's items are submitted before normal and low ones (default normal; enqueueing again with another one changes it)")
	fs.StringVar(&f.notify, "notify", "", "when the batch's last item is final, POST its summary to `URL`, signed with NOTIFY_SECRET (Standard Webhooks)")
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return f, err
	}
	var prioritySet bool
	fs.Visit(func(fl *flag.Flag) {
		f.maxJobsSet = f.maxJobsSet || fl.Name == "max-jobs"
		prioritySet = prioritySet || fl.Name == "priority"
	})
	if prioritySet {
		p, err := batch.ParsePriority(priority)
		if err != nil {
			return f, usageError{"enqueue: --priority: " + err.Error()}
		}
		f.priority = &p
	}
	if f.maxJobs < 0 {
		return f, usageError{fmt.Sprintf("enqueue: --max-jobs %d: must not be negative (0: no cap)", f.maxJobs)}
	}
	f.files = files
	if f.batch == "" {
		return f, usageError{"enqueue: --batch is required"}
	}
	if err := batch.ValidBatchName(f.batch); err != nil {
		return f, usageError{"enqueue: --batch: " + err.Error()}
	}
	if len(f.files) == 0 {
		return f, usageError{"enqueue: no manifest given (FILE..., or - for standard input)"}
	}
	if f.format, err = manifest.ParseFormat(format); err != nil {
		return f, usageError{"enqueue: --format: " + err.Error()}
	}
	return f, nil
}

func runEnqueue(ctx context.Context, e env, args []string) error {
	f, err := parseEnqueueFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	cfg, err := a.config()
	if err != nil {
		return err
	}
	onLineError := func(le *batch.LineError) { fmt.Fprintln(e.stderr, le.Error()) }
	if !f.dryRun {
		if err := a.requireRedis(ctx, "enqueue"); err != nil {
			return err
		}
	}
	store, err := a.store()
	if err != nil {
		return err
	}
	service := serviceModels(ctx, e, a)
	if f.dryRun {
		return planEnqueue(ctx, e, cfg, f, store, service, onLineError)
	}
	q, err := a.queue()
	if err != nil {
		return err
	}
	sealed := ""
	if f.notify != "" {
		secret, err := cfg.notifySecret()
		if err != nil {
			return err
		}
		if sealed, err = secret.SealURL(f.notify); err != nil {
			return usageError{"enqueue: " + err.Error()}
		}
	}

	res, err := tasks.Enqueue(ctx, store, q, tasks.EnqueueOptions{
		Batch:       f.batch,
		Manifests:   f.files,
		Stdin:       e.stdin,
		Format:      f.format,
		Strict:      f.strict,
		MaxJobs:     f.maxJobsPtr(),
		Priority:    f.priority,
		Notify:      sealed,
		OnLineError: onLineError,
		OnRefused:   func(r batch.Refused) { fmt.Fprintln(e.stderr, r.String()) },

		ServiceModels: service,
	})
	if err == nil || res.Added+res.Existing+res.Rejected+res.Refused+res.Queued+res.AlreadyQueued > 0 || res.Aborted {
		fmt.Fprintln(e.stdout, enqueueSummary(f.batch, res))
	}
	if err != nil {
		return enqueueStopped(f.batch, res, err)
	}
	return rejectedError(f.batch, res.Rejected, res.Refused)
}

// enqueueStopped says what an enqueue that failed leaves behind: once it had begun to
// write (or was interrupted), what it stored stays and a re-run completes it, adding
// nothing twice; before that, the error alone says what to fix.
func enqueueStopped(name string, res tasks.EnqueueResult, err error) error {
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("batch %s: enqueue interrupted; what was stored stays, run the same command again to finish: %w", name, err)
	case res.StoppedWriting:
		return fmt.Errorf("batch %s: enqueue stopped; what was stored stays, run the same command again to finish: %w", name, err)
	}
	return err
}

func (f enqueueFlags) maxJobsPtr() *int64 {
	if !f.maxJobsSet {
		return nil
	}
	return &f.maxJobs
}

// enqueueSummary is the run's outcome in one or two lines.
func enqueueSummary(name string, r tasks.EnqueueResult) string {
	var b strings.Builder
	if r.Aborted {
		fmt.Fprintf(&b, "batch %s: nothing written (--strict): %d rejected", name, r.Rejected)
		if r.Refused > 0 {
			fmt.Fprintf(&b, ", %d refused", r.Refused)
		}
		return b.String()
	}
	fmt.Fprintf(&b, "batch %s: %d new, %d already in batch, %d rejected", name, r.Added, r.Existing, r.Rejected)
	if r.Refused > 0 {
		fmt.Fprintf(&b, ", %d refused (model taken)", r.Refused)
	}
	fmt.Fprintf(&b, "\nsubmit tasks: %d enqueued, %d already queued", r.Queued, r.AlreadyQueued)
	return b.String()
}

// rejectedError makes the exit status non-zero when lines were rejected or trainings
// refused (each already printed on stderr).
func rejectedError(name string, rejected, refused int) error {
	if rejected == 0 && refused == 0 {
		return nil
	}
	var parts []string
	if rejected > 0 {
		parts = append(parts, plural(rejected, "line")+" rejected")
	}
	if refused > 0 {
		parts = append(parts, plural(refused, "training")+" refused")
	}
	return fmt.Errorf("batch %s: %s", name, strings.Join(parts, ", "))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// planEnqueue is --dry-run: read, validate, print the plan. It writes nothing; it reads
// the durations the workers learned from Redis when it can, for its time estimate.
func planEnqueue(ctx context.Context, e env, cfg config, f enqueueFlags, store *batch.Store, service tasks.ServiceModels,
	onLineError func(*batch.LineError)) error {
	p, err := tasks.PlanManifests(f.batch, cfg.UpstreamRate, f.files, e.stdin, f.format,
		withoutBatchModels(ctx, e, store, f.batch, service), onLineError)
	if err != nil {
		return err
	}
	p.Learned = learnedDurations(ctx, store)
	if err := p.WriteText(e.stdout); err != nil {
		return err
	}
	return rejectedError(f.batch, p.Rejected, 0)
}

// withoutBatchModels drops from service the models the batch trains itself, which the
// service lists once trained, so that a dry run of a manifest enqueued before does not
// reject its own trainings. When Redis cannot say, it checks none against the service
// and says so: the real enqueue checks them.
func withoutBatchModels(ctx context.Context, e env, store *batch.Store, name string, service tasks.ServiceModels) tasks.ServiceModels {
	if len(service) == 0 {
		return service
	}
	ctx, cancel := context.WithTimeout(ctx, learnedDurationsTimeout)
	defer cancel()
	own, err := tasks.ModelsTrainedBy(ctx, store, name)
	if err != nil {
		fmt.Fprintf(e.stderr, "enqueue: names to train not checked against the service's models (the batch's own trainings cannot be read: %v)\n", err)
		return nil
	}
	return service.Without(own)
}

// learnedDurationsTimeout bounds the dry run's look at Redis: a plan is worth printing
// without the learned durations.
const learnedDurationsTimeout = 2 * time.Second

// learnedDurations reads what the workers learned of job durations; none when Redis
// cannot be read (the plan says the classes are not learned yet).
func learnedDurations(ctx context.Context, store *batch.Store) []tasks.ClassDuration {
	ctx, cancel := context.WithTimeout(ctx, learnedDurationsTimeout)
	defer cancel()
	ls, err := tasks.LearnedDurations(ctx, store)
	if err != nil {
		return nil
	}
	return ls
}

// serviceModels lists the service's models when credentials are configured, so that
// trainings of names it already has are rejected before anything is queued. Without
// credentials, or when the service cannot be asked, it says so and returns none: the
// service then refuses such a training itself, when its job is created.
func serviceModels(ctx context.Context, e env, a *app) tasks.ServiceModels {
	if cfg, err := a.config(); err != nil || cfg.requireCredentials() != nil {
		return nil
	}
	ms, err := remoteModels(ctx, a)
	if err != nil {
		fmt.Fprintf(e.stderr, "enqueue: names to train not checked against the service's models: %v\n", err)
		return nil
	}
	return tasks.NewServiceModels(ms)
}
