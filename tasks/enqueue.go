package tasks

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/upstream"
)

// enqueueChunk is how many items go to Store.AddItems at once, as the store's own chunk:
// one round trip, and the most items the enqueuer holds in memory per manifest.
const enqueueChunk = 500

// DefaultEnqueueWorkers is how many submit tasks are enqueued at once. Each enqueue is
// one round trip to Redis; a few in flight keep Redis busy instead of waiting on the
// network, more only contend for its single thread.
const DefaultEnqueueWorkers = 8

// EnqueueOptions configure Enqueue.
type EnqueueOptions struct {
	Batch     string          // required; see batch.ValidBatchName
	Manifests []string        // file names, in order; "-" reads Stdin
	Stdin     io.Reader       // for "-"
	Format    manifest.Format // manifest.FormatAuto: by extension (stdin: by content)
	// Strict: if any line is invalid, or a training's model name is taken, nothing is
	// written. The input is read twice (standard input is spooled to a temporary file
	// in TempDir, default os.TempDir()); the first pass keeps a hash of every id in
	// memory, about 38 bytes per id, to find duplicate ids before writing.
	Strict  bool
	TempDir string
	Workers int // submit tasks enqueued at once; default DefaultEnqueueWorkers
	// MaxJobs, when set, caps the jobs created for the batch, retries included (0: no
	// cap); set before any item is queued. Nil leaves the batch's cap as it is.
	MaxJobs *int64
	// Priority, when set, is the batch's priority (enqueue --priority); set before any
	// item is queued. Nil leaves it as it is (normal for a new batch).
	Priority *batch.Priority
	// Notify, when set, is the sealed URL (NotifySecret.SealURL) the batch's end is
	// posted to; set before any item is queued.
	Notify string

	// OnLineError is called for each problem of each rejected line, in manifest order.
	// A duplicate id is known only once its chunk is stored: the problems of the lines
	// read with a chunk are reported when it is stored, merged in manifest order.
	OnLineError func(*batch.LineError)
	// OnRefused is called for each training not added because its model name is taken.
	OnRefused func(batch.Refused)
	// ServiceModels, when known, are the names the service has: trainings of them are
	// rejected lines (field model), like any invalid line.
	ServiceModels ServiceModels
	// RunLease is how long the run counts as open without news of it; it renews the
	// lease every quarter of it while it reads. A song whose model nobody knows waits
	// while its run is open, since a later line may train that model. Default
	// DefaultRunLease.
	RunLease time.Duration
}

// DefaultRunLease is EnqueueOptions.RunLease's default: long enough for a stalled
// reader, short enough that the songs of a run that crashed are decided soon.
const DefaultRunLease = 2 * time.Minute

// EnqueueResult is what Enqueue did.
type EnqueueResult struct {
	Added    int // new items, pending with attempt 1
	Existing int // items whose id was already in the batch, left as they were
	Rejected int // invalid manifest lines (each reported through OnLineError)
	Refused  int // trainings whose model name is taken (each reported through OnRefused)
	// Queued counts the submit tasks enqueued by this run; AlreadyQueued those Asynq
	// already held (same task id). Both are tasks of pending items only: an item
	// further along, or final, has no business being submitted again.
	Queued        int
	AlreadyQueued int
	// Aborted: Strict found a problem, and nothing was written.
	Aborted bool
	// StoppedWriting: the run failed after it had begun to write the batch. What it
	// stored stays, and running the same enqueue again completes it.
	StoppedWriting bool
}

// Enqueue reads manifests into a batch and enqueues the submit task of every item.
//
// It streams: items go to the batch records in chunks of 500 (Store.AddItems), and each
// chunk's submit tasks are enqueued once the chunk is stored, so the enqueuer holds at
// most a chunk whatever the manifest's size. Duplicate ids are found in Redis, not in
// memory: each run stores its items with a random run token (batch.AddRun), and an id
// the same token stored already is reported as a duplicate line naming the first one
// (--strict's first pass still keeps a hash of each id in memory, to find them
// before writing). Records are written before tasks: a crash in between leaves
// pending items without a task, which is why Enqueue also (re-)enqueues the task of
// every item of the manifests that is still pending, new or not, at its current
// attempt. Task ids are deterministic (SubmitTaskID), so a task Asynq still holds is
// never duplicated (asynq.ErrTaskIDConflict counts as AlreadyQueued). Enqueueing the
// same manifest again thus adds nothing and queues nothing new, and concurrent runs on
// the same manifest still store each item once.
//
// Invalid lines are reported and skipped (or, with Strict, stop everything before
// anything is written). A read error, a Redis error or ctx ending stops the run with an
// error; what was stored until then stays, and running Enqueue again completes it.
func Enqueue(ctx context.Context, store *batch.Store, q TaskEnqueuer, opts EnqueueOptions) (res EnqueueResult, err error) {
	if err := batch.ValidBatchName(opts.Batch); err != nil {
		return res, err
	}
	if len(opts.Manifests) == 0 {
		return res, errors.New("enqueue: no manifest given")
	}
	if err := checkManifestFiles(opts.Manifests); err != nil {
		return res, err
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultEnqueueWorkers
	}
	if opts.ServiceModels != nil {
		own, err := OwnModels(ctx, store)
		if err != nil {
			return res, fmt.Errorf("enqueue: %w", err)
		}
		opts.ServiceModels = opts.ServiceModels.Without(own)
	}
	stdin := opts.Stdin
	if opts.Strict {
		spooled, cleanup, ok, err := strictCheck(ctx, store, &opts, &res)
		defer cleanup()
		if err != nil || !ok {
			res.Aborted = err == nil
			return res, err
		}
		stdin = spooled
	}
	if opts.RunLease <= 0 {
		opts.RunLease = DefaultRunLease
	}
	defer func() { res.StoppedWriting = err != nil }()
	if err := applyBatchOptions(ctx, store, q, opts); err != nil {
		return res, err
	}
	prio, err := store.Priority(ctx, opts.Batch)
	if err != nil {
		return res, fmt.Errorf("enqueue: %w", err)
	}
	e := newEnqueuer(ctx, store, q, opts, prio)
	if err := e.open(); err != nil {
		e.wait(err)
		return res, err
	}
	readErr := e.read(withoutTaken(manifest.Read(opts.Manifests, stdin, opts.Format, manifest.WithoutDuplicateCheck()),
		opts.ServiceModels, false))
	err = e.wait(readErr)
	e.result(&res)
	if res.Added > 0 {
		// New items: the batch's next end is a new one, announced again.
		err = errors.Join(err, store.Reopen(ctx, opts.Batch))
	}
	return res, errors.Join(err, e.end(ctx))
}

// checkManifestFiles opens every named file once, so that a missing one stops the run
// before the earlier ones are stored.
func checkManifestFiles(names []string) error {
	for _, n := range names {
		if n == "-" {
			continue
		}
		f, err := os.Open(n)
		if err != nil {
			return fmt.Errorf("manifest: %w", err) // os.Open names the file
		}
		_ = f.Close() // read-only
	}
	return nil
}

// submitJob is one pending item whose submit task is to be enqueued, at its attempt.
type submitJob struct {
	id      string
	kind    batch.Kind
	attempt int
}

// enqueuer runs one Enqueue: the caller's goroutine reads and stores chunks, workers
// enqueue their tasks.
type enqueuer struct {
	ctx    context.Context
	cancel context.CancelCauseFunc
	store  *batch.Store
	q      TaskEnqueuer
	opts   EnqueueOptions
	run    string         // this run's token (batch.AddRun)
	prio   batch.Priority // the batch's: its tasks' queue

	jobs chan submitJob
	wg   sync.WaitGroup

	added, existing, rejected, refused int // owned by the reading goroutine
	queued, alreadyQueued              atomic.Int64

	models      map[string]bool // models the run's songs sing with (not default), for end
	stopRenewal func()          // ends the lease's renewal
}

func newEnqueuer(ctx context.Context, store *batch.Store, q TaskEnqueuer, opts EnqueueOptions, prio batch.Priority) *enqueuer {
	ctx, cancel := context.WithCancelCause(ctx)
	e := &enqueuer{ctx: ctx, cancel: cancel, store: store, q: q, opts: opts, prio: prio,
		// 13 characters of rand.Text: 65 random bits, stored in each item read.
		run: rand.Text()[:13], jobs: make(chan submitJob, enqueueChunk), models: map[string]bool{}, stopRenewal: func() {}}
	e.wg.Add(opts.Workers)
	for range opts.Workers {
		go e.work()
	}
	return e
}

// read stores the items of seq chunk by chunk and hands their tasks to the workers.
// Line errors are counted and reported; any other error stops it. (After a strict
// first pass there are none, unless a file changed in between.)
//
// Duplicate lines are only known once their chunk is stored, so the line errors read
// while a chunk is open wait with it, and are reported merged with its duplicates in
// manifest order. Either buffer is flushed at enqueueChunk entries.
func (e *enqueuer) read(seq iter.Seq2[batch.Item, error]) error {
	chunk := make([]batch.Item, 0, enqueueChunk)
	var held []*batch.LineError // line errors read since chunk's first item
	manifest := ""
	lastBad := ""
	report := func(le *batch.LineError) {
		if at := le.File + ":" + strconv.Itoa(le.Line); at != lastBad {
			lastBad = at
			e.rejected++
		}
		if e.opts.OnLineError != nil {
			e.opts.OnLineError(le)
		}
	}
	flush := func() error {
		res, err := e.flush(manifest, chunk)
		// Reported even if queueing failed: the lines were read, the chunk stored.
		// Refusals come after the chunk's line errors, as when those were not held.
		reportMerged(manifest, res.Duplicates, held, report)
		if e.opts.OnRefused != nil {
			for _, r := range res.Refused {
				e.opts.OnRefused(r)
			}
		}
		chunk, held = chunk[:0], held[:0]
		return err
	}
	var err error
	seq(func(it batch.Item, lineErr error) bool {
		if lineErr != nil {
			var le *batch.LineError
			if !errors.As(lineErr, &le) {
				err = lineErr
				return false
			}
			if len(chunk) == 0 {
				report(le)
				return true
			}
			held = append(held, le)
			if len(held) == enqueueChunk {
				err = flush()
			}
			return err == nil
		}
		file, _ := splitOrigin(it.Origin)
		if (len(chunk) == enqueueChunk || file != manifest) && len(chunk) > 0 {
			if err = flush(); err != nil {
				return false
			}
		}
		manifest = file
		chunk = append(chunk, it)
		return e.ctx.Err() == nil
	})
	if err == nil && len(chunk) > 0 {
		err = flush()
	}
	if err == nil {
		err = context.Cause(e.ctx)
	}
	return err
}

// reportMerged reports a stored chunk's duplicate lines (of file manifest, in line
// order) and the line errors held with it (in read order, from manifest and maybe
// later files), all in manifest order.
func reportMerged(manifest string, dups []batch.Duplicate, held []*batch.LineError, report func(*batch.LineError)) {
	for _, le := range held {
		for len(dups) > 0 {
			d := dups[0].LineError()
			if le.File == manifest && le.Line < d.Line {
				break
			}
			report(d)
			dups = dups[1:]
		}
		report(le)
	}
	for _, d := range dups {
		report(d.LineError())
	}
}

// flush stores one chunk of one manifest and queues its items' tasks. It returns what
// AddItems did, for the caller to report its refusals and duplicate lines.
func (e *enqueuer) flush(manifest string, chunk []batch.Item) (batch.AddResult, error) {
	res, err := e.store.AddItems(e.ctx, e.opts.Batch, manifest, chunk, batch.AddRun(e.run))
	if err != nil {
		return res, err
	}
	e.added += res.Added
	e.existing += res.Existing
	e.refused += len(res.Refused)
	// Skipped by origin, not id: a duplicate line shares its id with a stored item.
	skip := make(map[string]bool, len(res.Refused)+len(res.Duplicates))
	for _, r := range res.Refused {
		skip[r.Origin] = true
	}
	for _, d := range res.Duplicates {
		skip[d.Origin] = true
	}
	jobs := make([]submitJob, 0, len(chunk))
	for _, it := range chunk {
		if !skip[it.Origin] {
			jobs = append(jobs, submitJob{id: it.ID, kind: it.Kind, attempt: 1})
			if it.Kind == batch.KindSong && it.Model != upstream.DefaultModel && len(e.models) < maxRunModels {
				e.models[it.Model] = true
			}
		}
	}
	// Without existing ids every stored item of the chunk is new: pending, attempt 1.
	// Otherwise which ones are new is unknown, and the chunk's states are read.
	if res.Existing > 0 {
		if jobs, err = e.pending(jobs); err != nil {
			return res, err
		}
	}
	for _, j := range jobs {
		select {
		case e.jobs <- j:
		case <-e.ctx.Done():
			return res, context.Cause(e.ctx)
		}
	}
	return res, nil
}

// pending keeps the jobs of pending items, each at its item's current attempt: an
// item further along, or final, has no business being submitted again.
func (e *enqueuer) pending(jobs []submitJob) ([]submitJob, error) {
	ids := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i] = j.id
	}
	states, err := e.store.ItemStates(e.ctx, e.opts.Batch, ids)
	if err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	kept := jobs[:0]
	for i, j := range jobs {
		st := states[i]
		if !st.Exists {
			// AddItems has just stored or found it: only a concurrent deletion gets here.
			return nil, fmt.Errorf("enqueue: item %s/%s: %w", e.opts.Batch, j.id, batch.ErrItemNotFound)
		}
		if st.State == batch.StatePending {
			j.attempt = st.Attempt
			kept = append(kept, j)
		}
	}
	return kept, nil
}

func (e *enqueuer) work() {
	defer e.wg.Done()
	for j := range e.jobs {
		if e.ctx.Err() != nil {
			continue // drain: the run has failed
		}
		if err := e.submit(j); err != nil {
			e.cancel(err)
		}
	}
}

// submit enqueues one pending item's task.
func (e *enqueuer) submit(j submitJob) error {
	t, err := NewSubmitTask(ItemRef{Batch: e.opts.Batch, Item: j.id, Attempt: j.attempt}, j.kind, e.prio)
	if err != nil {
		return err
	}
	_, err = e.q.EnqueueContext(e.ctx, t)
	switch {
	case errors.Is(err, asynq.ErrTaskIDConflict):
		e.alreadyQueued.Add(1)
	case err != nil:
		return fmt.Errorf("enqueue submit task of item %s (batch %s): %w", j.id, e.opts.Batch, err)
	default:
		e.queued.Add(1)
	}
	return nil
}

// wait stops the workers once they have enqueued everything and returns the first
// failure. A worker's failure cancels the run, which makes the reader fail too (its
// Redis call sees "context canceled"); the cause recorded first is the one to report,
// so readErr is recorded as a cause as well and only counts if it came first.
func (e *enqueuer) wait(readErr error) error {
	if readErr != nil {
		e.cancel(readErr) // no effect if a worker, or ctx, got there first
	}
	close(e.jobs)
	e.wg.Wait()
	err := context.Cause(e.ctx)
	e.cancel(nil)
	return err
}

func (e *enqueuer) result(res *EnqueueResult) {
	res.Added += e.added
	res.Existing += e.existing
	res.Rejected += e.rejected
	res.Refused += e.refused
	res.Queued += int(e.queued.Load())
	res.AlreadyQueued += int(e.alreadyQueued.Load())
}

// maxRunModels bounds the models a run remembers for its end; songs on others learn
// that the run ended from their own re-check (Handlers.waitForRun).
const maxRunModels = 100_000

// open records the run as open, before anything is stored, and renews its lease while
// the run reads.
func (e *enqueuer) open() error {
	if err := e.store.OpenRun(e.ctx, e.run, e.opts.RunLease); err != nil {
		return fmt.Errorf("enqueue: %w", err)
	}
	ctx, stop := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(e.opts.RunLease / 4)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				// A failed renewal only shortens the lease: the songs waiting then decide
				// early, as if the run had ended.
				_ = e.store.OpenRun(ctx, e.run, e.opts.RunLease)
			}
		}
	}()
	e.stopRenewal = func() {
		stop()
		<-done
	}
	return nil
}

// runEndTimeout bounds recording a run's end once its context may be gone.
const runEndTimeout = 10 * time.Second

// end records the run as ended, even when it failed or was interrupted (what it stored
// stays, and a song of it waits for nothing more), and resubmits the songs that waited
// for a model none of its lines trained: they are now decided (ListModels, or fail).
func (e *enqueuer) end(ctx context.Context) error {
	e.stopRenewal()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), runEndTimeout)
	defer cancel()
	if err := e.store.EndRun(ctx, e.run); err != nil {
		return fmt.Errorf("enqueue: %w (its songs waiting for a model decide when its lease of %v runs out)", err, e.opts.RunLease)
	}
	rel := releaser{store: e.store, queue: e.q, log: zap.NewNop()}
	var errs []error
	for m := range e.models {
		if err := rel.release(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("enqueue: resubmit songs that waited for the run's end (each is decided on its own re-check): %w", errors.Join(errs...))
	}
	return nil
}
