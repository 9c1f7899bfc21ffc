package tasks

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/ctxtime"
	"github.com/singbatch/singbatch/upstream"
)

// JobAPI is what the handlers need of the service; *upstream.Client has it.
type JobAPI interface {
	CreateJob(ctx context.Context, req *upstream.CreateJobRequest) (*upstream.Job, error)
	GetJob(ctx context.Context, id string) (*upstream.Job, error)
	ListJobs(ctx context.Context, customID string) ([]upstream.Job, error)
	// ListJobsPartial may return fewer jobs than the total it reports.
	ListJobsPartial(ctx context.Context, customID string) ([]upstream.Job, int, error)
	AllModels(ctx context.Context) ([]upstream.Model, error)
}

// TaskEnqueuer is what the handlers need of asynq: *asynq.Client has it.
type TaskEnqueuer interface {
	EnqueueContext(ctx context.Context, task *asynq.Task, opts ...asynq.Option) (*asynq.TaskInfo, error)
}

// HandlerDeps are the handlers' collaborators.
type HandlerDeps struct {
	Store    *batch.Store // required
	API      JobAPI       // required: the upstream client, with the account-wide limiter as its Gate
	Enqueuer TaskEnqueuer // required: for polls and released waiters
	// Gate is the SubmitGate that API's client also uses as its upstream.Gate, so a
	// CreateJob takes its rate-limit token before the claim (see SubmitGate). nil: no
	// limiter (tests), or one the handlers do not know of.
	Gate *SubmitGate
	// Inspector finds and runs scheduled polls early when an estimate drops
	// (bringForward); nil: polls run at their own time. NewWorker gives one on its Redis.
	Inspector PollInspector
	Logger    *zap.Logger // default zap.NewNop()
	Now       func() time.Time
	// Sleep waits d or until ctx ends (a poll due within PollTiming.ShortWait waits in
	// its handler); default a timer. Tests give one that moves their clock.
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64 // [0, 1), safe for concurrent use; default math/rand/v2
	// Callbacks, when set, turn callbacks on: every CreateJob carries its attempt's
	// callback URL, ServeCallback records what the service posts there, and polls
	// become the backstop (PollTiming.CallbackGrace).
	Callbacks *Callbacks
	// Notify signs the notifications of batches enqueued with --notify (NOTIFY_SECRET);
	// zero: such batches' notifications fail (each is logged).
	Notify NotifySecret
	// NotifyClient posts them; default an http.Client without redirects.
	NotifyClient *http.Client
}

// Settings tune the handlers. Zero fields take the defaults (DefaultSettings); the
// worker command reads them from the environment variables named in parentheses.
type Settings struct {
	// ReconcileDelay (RECONCILE_DELAY): after a CreateJob whose outcome is unknown, how
	// long to wait before looking the customId up, so that a job the service is still
	// registering (or hides for a moment, as the simulator's not-found fault does) is
	// found rather than created twice. Also the age a claim must reach before another
	// run may create the job itself. Default 30 s; keep it above the service's
	// response time.
	ReconcileDelay time.Duration
	// DefaultJobTimeout (DEFAULT_JOB_TIMEOUT): a job's timeout when its request has
	// none. Default 6 h.
	DefaultJobTimeout time.Duration
	// TimeoutGrace (TIMEOUT_GRACE): past submission + timeout + TimeoutGrace a job that
	// is still not final fails the item as timed out. Default 10 min.
	TimeoutGrace time.Duration
	// NotFoundGrace (POLL_NOT_FOUND_GRACE): how long after submission GetJob may answer
	// "not found" before the item fails. Default 10 min.
	NotFoundGrace time.Duration
	// ModelCacheTTL (MODEL_CACHE_TTL): how long the service's model list is reused;
	// a lookup that misses refreshes it at most once per period. Default 1 min.
	ModelCacheTTL time.Duration
	// RetryBase, RetryCap (RETRY_BASE, RETRY_CAP): full-jitter exponential backoff of
	// failed tasks. Defaults 1 s and 10 min.
	RetryBase time.Duration
	RetryCap  time.Duration
	// GroupSize (POLL_GROUP_SIZE): items of one batch and class of work claimed close
	// together share a customId, up to this many, so that one ListJobs answers for
	// their jobs (group.go). 1: a customId per attempt. Default 20.
	GroupSize int
	// AccountMaxJobsPerDay (ACCOUNT_MAX_JOBS_PER_DAY): jobs the account may create per
	// UTC day, across batches; items over it are parked until the next day or until
	// workers run with a higher value. 0: no cap.
	AccountMaxJobsPerDay int64
	// Poll (POLL_*): when jobs are polled.
	Poll PollTiming
}

// DefaultSettings returns the defaults documented on Settings.
func DefaultSettings() Settings {
	return Settings{
		ReconcileDelay:    30 * time.Second,
		DefaultJobTimeout: 6 * time.Hour,
		TimeoutGrace:      10 * time.Minute,
		NotFoundGrace:     10 * time.Minute,
		GroupSize:         20,
		ModelCacheTTL:     time.Minute,
		RetryBase:         time.Second,
		RetryCap:          10 * time.Minute,
		Poll:              DefaultPollTiming(),
	}
}

func (s Settings) withDefaults() (Settings, error) {
	d := DefaultSettings()
	for _, f := range []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"ReconcileDelay", &s.ReconcileDelay, d.ReconcileDelay},
		{"DefaultJobTimeout", &s.DefaultJobTimeout, d.DefaultJobTimeout},
		{"TimeoutGrace", &s.TimeoutGrace, d.TimeoutGrace},
		{"NotFoundGrace", &s.NotFoundGrace, d.NotFoundGrace},
		{"ModelCacheTTL", &s.ModelCacheTTL, d.ModelCacheTTL},
		{"RetryBase", &s.RetryBase, d.RetryBase},
		{"RetryCap", &s.RetryCap, d.RetryCap},
	} {
		if *f.v == 0 {
			*f.v = f.def
		}
		if *f.v < 0 {
			return s, fmt.Errorf("settings: %s %v: must not be negative", f.name, *f.v)
		}
	}
	if s.RetryCap < s.RetryBase {
		return s, fmt.Errorf("settings: RetryCap %v is below RetryBase %v", s.RetryCap, s.RetryBase)
	}
	switch {
	case s.GroupSize == 0:
		s.GroupSize = d.GroupSize
	case s.GroupSize < 0 || s.GroupSize > maxGroupSize:
		return s, fmt.Errorf("settings: GroupSize %d: must be between 1 and %d", s.GroupSize, maxGroupSize)
	}
	if s.AccountMaxJobsPerDay < 0 {
		return s, fmt.Errorf("settings: AccountMaxJobsPerDay %d: must not be negative (0: no cap)", s.AccountMaxJobsPerDay)
	}
	p, err := s.Poll.withDefaults()
	if err != nil {
		return s, fmt.Errorf("settings: %w", err)
	}
	s.Poll = p
	return s, nil
}

// Handlers process TypeSubmit and TypePoll tasks. Safe for concurrent use.
type Handlers struct {
	store *batch.Store
	api   JobAPI
	queue TaskEnqueuer
	gate  *SubmitGate
	log   *zap.Logger
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rand  func() float64
	set   Settings
	retry RetryPolicy

	models    *modelCache
	inspector PollInspector
	callbacks *Callbacks // nil: callbacks off
	stats     *Stats
	estimates *estimateCache
	cbDelays  callbackDelays

	notify       NotifySecret
	notifyClient *http.Client

	authOnce sync.Once
}

// NewHandlers checks the dependencies and settings.
func NewHandlers(d HandlerDeps, s Settings) (*Handlers, error) {
	if d.Store == nil || d.API == nil || d.Enqueuer == nil {
		return nil, errors.New("tasks: HandlerDeps.Store, API and Enqueuer are required")
	}
	s, err := s.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("tasks: %w", err)
	}
	if d.Callbacks != nil {
		// The first callback of a class teaches it. One scout is the backstop for
		// callbacks that never come: it starts a grace after submission, and climbs
		// twice as fast, a few calls a class.
		s.Poll.callbacks = true
		s.Poll.Scouts = 1
		s.Poll.ProbeStart = max(s.Poll.ProbeStart, s.Poll.CallbackGrace)
		s.Poll.ProbeGrowth *= s.Poll.ProbeGrowth
	}
	h := &Handlers{store: d.Store, api: d.API, queue: d.Enqueuer, gate: d.Gate, inspector: d.Inspector,
		log: d.Logger, now: d.Now, sleep: d.Sleep, rand: d.Rand, set: s, callbacks: d.Callbacks, stats: newStats(), estimates: newEstimateCache(),
		notify: d.Notify, notifyClient: d.NotifyClient}
	if h.notifyClient == nil {
		// A receiver's redirect is not followed: the signed body goes where it was sent.
		h.notifyClient = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if h.log == nil {
		h.log = zap.NewNop()
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.sleep == nil {
		h.sleep = ctxtime.Sleep
	}
	if h.rand == nil {
		h.rand = rand.Float64
	}
	h.retry = RetryPolicy{Base: s.RetryBase, Cap: s.RetryCap, ReconcileDelay: s.ReconcileDelay, Rand: h.rand}
	h.api = countedAPI{JobAPI: d.API, calls: &h.stats.calls, store: d.Store, log: h.log}
	h.models = newModelCache(h.api.AllModels, s.ModelCacheTTL, h.now)
	return h, nil
}

// Settings returns the settings in force, defaults filled in.
func (h *Handlers) Settings() Settings { return h.set }

// RetryPolicy returns the policy behind asynq.Config.RetryDelayFunc.
func (h *Handlers) RetryPolicy() RetryPolicy { return h.retry }

// Mux routes the task types to the handlers.
func (h *Handlers) Mux() *asynq.ServeMux {
	mux := asynq.NewServeMux()
	register(mux, WorkFunc[SubmitPayload](h.workSubmit))
	register(mux, WorkFunc[PollPayload](h.workPoll))
	register(mux, WorkFunc[NotifyPayload](h.workNotify))
	return mux
}

// HandleError is asynq.Config.ErrorHandler: the one place a handler's error is logged,
// with the task's item and, when known, its customId and job id.
func (h *Handlers) HandleError(ctx context.Context, t *asynq.Task, err error) {
	var p PollPayload // its ItemRef fields are a SubmitPayload's too
	_ = decodePayload(t, &p)
	fields := []zap.Field{
		zap.String("task", t.Type()), zap.String("batch", p.Batch), zap.String("item", p.Item),
		zap.Int("attempt", p.Attempt), zap.Int("run", runNumber(ctx)), zap.Error(err),
	}
	var ie *itemError
	if errors.As(err, &ie) {
		fields = append(fields, zap.String("customId", ie.customID), zap.String("jobId", ie.jobID))
	} else if p.JobID != "" {
		fields = append(fields, zap.String("jobId", p.JobID))
	}
	switch {
	case !IsFailure(err):
		h.log.Debug("task will run again", fields...)
	case lastRun(ctx):
		h.log.Error("task gave up", fields...)
	default:
		h.log.Warn("task failed, will retry", fields...)
	}
}

// itemError carries an item's upstream ids to HandleError's log line.
type itemError struct {
	customID, jobID string
	err             error
}

func (e *itemError) Error() string { return e.err.Error() }
func (e *itemError) Unwrap() error { return e.err }

// withIDs attaches rec's customId and job id to a non-nil error.
func withIDs(err error, rec batch.ItemRecord) error {
	if err == nil {
		return nil
	}
	return &itemError{customID: rec.CustomID, jobID: rec.JobID, err: err}
}

// itemFields are the log fields naming an item and its attempt's upstream ids.
func itemFields(rec batch.ItemRecord) []zap.Field {
	return []zap.Field{
		zap.String("batch", rec.Batch), zap.String("item", rec.ID), zap.Int("attempt", rec.Attempt),
		zap.String("kind", string(rec.Kind)), zap.String("customId", rec.CustomID), zap.String("jobId", rec.JobID),
	}
}

func refOf(rec batch.ItemRecord) ItemRef {
	return ItemRef{Batch: rec.Batch, Item: rec.ID, Attempt: rec.Attempt}
}

// noteAuth logs an authentication failure loudly, once per process: every item would
// repeat it, and the cause (credentials) is the operator's to fix.
func (h *Handlers) noteAuth(err error) {
	if !errors.Is(err, upstream.ErrAuth) {
		return
	}
	h.authOnce.Do(func() {
		h.log.Error("upstream authentication failed: check UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY "+
			"(and the gateway key, if set); items fail until the worker runs with valid credentials, "+
			"then `singbatch retry` them", zap.Error(err))
	})
}

// fail moves an item of rec's attempt from one of the states from to failed with reason.
// Losing a race to another writer is fine: the item is then in the state that writer chose.
func (h *Handlers) fail(ctx context.Context, rec batch.ItemRecord, from []batch.State, reason string) error {
	return h.end(ctx, rec, from, batch.StateFailed, reason)
}

// end moves an item of rec's attempt from one of the states from to a final state that
// is not a job's result (failed, canceled), with reason.
func (h *Handlers) end(ctx context.Context, rec batch.ItemRecord, from []batch.State, to batch.State, reason string) error {
	ok, cur, err := h.store.Transition(ctx, rec.Batch, rec.ID, rec.Attempt, from, to, batch.Update{Error: reason})
	if err != nil {
		return fmt.Errorf("%s item %s/%s: %w", to, rec.Batch, rec.ID, err)
	}
	if ok {
		h.log.Info("item "+string(to), append(itemFields(cur), zap.String("error", reason))...)
	}
	if cur.Attempt == rec.Attempt {
		h.noteFinal(ctx, cur)
	}
	if cur.Attempt == rec.Attempt && cur.State.Final() && cur.Kind == batch.KindTrain {
		// Its model failed in the same step (or, if another writer won, ended anyway):
		// songs waiting for it must hear of it. Releasing is idempotent.
		return h.release(ctx, cur.Model)
	}
	return nil
}

// enqueue adds a task; a task with the same id already queued is as good.
func (h *Handlers) enqueue(ctx context.Context, t *asynq.Task, opts ...asynq.Option) error {
	_, err := h.queue.EnqueueContext(ctx, t, opts...)
	if err != nil && !errors.Is(err, asynq.ErrTaskIDConflict) {
		return fmt.Errorf("enqueue %s: %w", t.Type(), err)
	}
	return nil
}
