package tasks

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// fakeClock is a clock that moves only when told to, or when a handler sleeps on it.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advanceTo(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

func (c *fakeClock) Sleep(ctx context.Context, d time.Duration) error {
	c.advanceTo(c.Now().Add(d))
	return ctx.Err()
}

// fakeService answers GetJob from each job's scripted duration on the fake clock, and
// counts the calls per job.
type fakeService struct {
	clock *fakeClock
	mu    sync.Mutex
	jobs  map[string]fakeJob
	calls map[string]int
}

type fakeJob struct {
	created   time.Time
	queue     time.Duration // SUBMITTED before PROCESSING
	duration  time.Duration // created → COMPLETED
	noTimings bool          // the service reports no timing at all
}

func (s *fakeService) get(_ context.Context, id string) (*upstream.Job, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[id]++
	j, ok := s.jobs[id]
	if !ok {
		return nil, &upstream.APIError{Action: upstream.ActionGetJob, StatusCode: 404, Class: upstream.ErrNotFound}
	}
	now := s.clock.Now()
	job := &upstream.Job{ID: id, State: upstream.StateSubmitted, Timing: upstream.Timing{CreatedAt: upstream.MillisOf(j.created)}}
	if started := j.created.Add(j.queue); !now.Before(started) {
		job.State, job.Timing.StartedAt = upstream.StateProcessing, upstream.MillisOf(started)
	}
	if done := j.created.Add(j.duration); !now.Before(done) {
		job.State, job.Timing.CompletedAt = upstream.StateCompleted, upstream.MillisOf(done)
		job.Outputs = []upstream.Output{{ContentID: "repo1", Destination: "/out",
			SmartContentResult: &upstream.SmartContentResult{SingingCloning: &upstream.SingingCloningResult{SongName: "out.mp3"}}}}
	}
	if j.noTimings {
		job.Timing = upstream.Timing{}
	}
	return job, nil
}

func (s *fakeService) callsOf(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

// learnBundle drives the poll handlers on a fake clock: polls are taken from the real
// Asynq schedule in due order and run at their time.
type learnBundle struct {
	*bundle
	clock *fakeClock
	svc   *fakeService
	store *batch.Store // on the fake clock
	h     *Handlers
	in    *asynq.Inspector
}

func newLearnBundle(t *testing.T, settings Settings) *learnBundle {
	t.Helper()
	// In the future, so that Asynq schedules every poll rather than run it at once.
	clock := &fakeClock{now: time.Now().Add(365 * 24 * time.Hour).Truncate(time.Second)}
	svc := &fakeService{clock: clock, jobs: map[string]fakeJob{}, calls: map[string]int{}}
	b := newBundle(t, func(c *bundleConfig) { c.fake = &fakeAPI{get: svc.get} })
	lb := &learnBundle{bundle: b, clock: clock, svc: svc, store: batch.NewStore(b.rdb, b.keys, clock.Now),
		in: asynq.NewInspectorFromRedisClient(b.rdb)}
	lb.h = lb.handlers(settings)
	return lb
}

// handlers builds handlers on the bundle's Redis and fake clock, as a worker process
// (re)started would.
func (lb *learnBundle) handlers(settings Settings) *Handlers {
	lb.t.Helper()
	h, err := NewHandlers(HandlerDeps{Store: lb.store, API: lb.jobAPI, Enqueuer: lb.queue, Logger: lb.log,
		Inspector: lb.in, Now: lb.clock.Now, Sleep: lb.clock.Sleep}, settings)
	if err != nil {
		lb.t.Fatal(err)
	}
	return h
}

// submit records n songs of a batch as submitted now, each job lasting durations[i]
// (and queued for a tenth of it), and schedules their first polls.
func (lb *learnBundle) submit(batchName string, durations []time.Duration) []batch.ItemRecord {
	lb.t.Helper()
	var m strings.Builder
	for i := range durations {
		fmt.Fprintf(&m, `{"id":"s%d","kind":"song","text":"la","contentId":"repo1"}`+"\n", i)
	}
	lb.addManifest(batchName, m.String())
	recs := make([]batch.ItemRecord, len(durations))
	for i, d := range durations {
		id := fmt.Sprintf("s%d", i)
		jobID := batchName + "-job-" + id
		lb.svc.mu.Lock()
		lb.svc.jobs[jobID] = fakeJob{created: lb.clock.Now(), queue: d / 10, duration: d}
		lb.svc.mu.Unlock()
		recs[i] = lb.markSubmitted(batchName, id, jobID, lb.clock.Now())
		if err := lb.h.ensurePoll(context.Background(), recs[i]); err != nil {
			lb.t.Fatal(err)
		}
	}
	return recs
}

// next removes the poll task that comes due first (pending ones: now).
func (lb *learnBundle) next() (*asynq.Task, time.Time, bool) {
	lb.t.Helper()
	for _, list := range []func(string, ...asynq.ListOption) ([]*asynq.TaskInfo, error){lb.in.ListPendingTasks, lb.in.ListScheduledTasks} {
		infos, err := list(QueuePoll, asynq.PageSize(1))
		if err != nil && !errors.Is(err, asynq.ErrQueueNotFound) {
			lb.t.Fatal(err)
		}
		if len(infos) == 0 {
			continue
		}
		ti := infos[0]
		if err := lb.in.DeleteTask(QueuePoll, ti.ID); err != nil {
			lb.t.Fatal(err)
		}
		at := ti.NextProcessAt
		if ti.State == asynq.TaskStatePending {
			at = lb.clock.Now()
		}
		return asynq.NewTask(ti.Type, ti.Payload), at, true
	}
	return nil, time.Time{}, false
}

// runPolls runs the scheduled polls in due order until none is left; it returns how
// many ran.
func (lb *learnBundle) runPolls(h *Handlers) int {
	lb.t.Helper()
	n := 0
	for ; n < 10_000; n++ {
		task, at, ok := lb.next()
		if !ok {
			return n
		}
		lb.clock.advanceTo(at)
		if err := h.Mux().ProcessTask(context.Background(), task); err != nil {
			lb.t.Fatalf("poll at +%v: %v", at, err)
		}
	}
	lb.t.Fatal("polls never end")
	return n
}

// A class nobody knows: a few scouts probe, the others wait without a call and are
// brought forward by the first sample; every job is recorded soon after its end; the
// class's estimate then survives a restart.
func TestPollScoutsTeachTheOthers(t *testing.T) {
	t.Parallel()
	lb := newLearnBundle(t, Settings{})
	start := lb.clock.Now()
	const d = 300 * time.Second
	durations := make([]time.Duration, 20)
	for i := range durations {
		durations[i] = d + time.Duration(i)*time.Second/2 // 300–309.5 s
	}
	recs := lb.submit("b", durations)
	lb.runPolls(lb.h)

	scouts, total := 0, 0
	for i, rec := range recs {
		got := lb.item("b", rec.ID)
		if got.State != batch.StateCompleted {
			t.Fatalf("%s is %s (%q)", rec.ID, got.State, got.Error)
		}
		calls := lb.svc.callsOf(rec.JobID)
		total += calls
		if calls > 2 {
			scouts++
		}
		// Recorded at most the scouts' joint step (2^⅕ ≈ 1.15) after the end of the
		// scout that found it, which may be 3 % longer.
		if late := got.UpdatedAt.Sub(start.Add(durations[i])); late < 0 || late > d/5 {
			t.Errorf("%s recorded %v after its end, want within 20 %% of %v", rec.ID, late, d)
		}
	}
	if scouts > DefaultPollTiming().Scouts {
		t.Errorf("%d jobs polled more than twice, want at most the %d scouts", scouts, DefaultPollTiming().Scouts)
	}
	if perJob := float64(total) / float64(len(recs)); perJob > 3.5 {
		t.Errorf("%.2f GetJob per job (%d in all): the exploration was not shared", perJob, total)
	}
	ts, err := lb.store.JobTimings(context.Background(), "song")
	if err != nil || len(ts) != len(recs) {
		t.Fatalf("timings %v (%v), want one per job", ts, err)
	}

	// A worker started afresh aims a new job of the class at the learned end at once.
	restarted := lb.handlers(Settings{})
	lb.h = restarted
	lb.clock.advanceTo(lb.clock.Now().Add(time.Hour))
	again := lb.submit("c", []time.Duration{310 * time.Second})
	_, at, ok := lb.next()
	if want := again[0].SubmittedAt.Add(NewEstimate(ts).firstPoll(0.9)); !ok || at.After(want) || at.Before(want.Add(-3*time.Second)) {
		t.Errorf("after a restart the first poll is due at %v, want about %v (the learned end)", at, want)
	}
}

// A poll due on an older estimate re-aims without a call when the estimate rose, and
// polls scheduled too late are brought forward when it drops.
func TestPollReaimsBothWays(t *testing.T) {
	t.Parallel()
	lb := newLearnBundle(t, Settings{})
	ctx := context.Background()
	teach := func(d time.Duration) {
		for range batch.TimingWindow {
			if _, err := lb.store.RecordJobTiming(ctx, "song", batch.JobTiming{Total: d}); err != nil {
				t.Fatal(err)
			}
		}
	}
	teach(60 * time.Second)
	rec := lb.submit("b", []time.Duration{200 * time.Second})[0]
	task, at, _ := lb.next()
	if due := at.Sub(rec.SubmittedAt); due < 58*time.Second || due > 62*time.Second {
		t.Fatalf("first poll due +%v, want about +62s, less the second it comes early", due)
	}
	// Jobs got slower: at its old time the poll re-aims later, spending no call.
	teach(180 * time.Second)
	lb.clock.advanceTo(at)
	if err := lb.h.Mux().ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if calls := lb.svc.callsOf(rec.JobID); calls != 0 {
		t.Errorf("%d GetJob on an older estimate, want 0", calls)
	}
	sched, err := lb.in.ListScheduledTasks(QueuePoll)
	if err != nil || len(sched) != 1 {
		t.Fatalf("scheduled polls %v (%v), want the re-aimed one", sched, err)
	}
	if due := sched[0].NextProcessAt.Sub(rec.SubmittedAt); due < 180*time.Second {
		t.Fatalf("re-aimed poll due +%v, want past +180s", due)
	}

	// Jobs got fast again: bringing the class forward runs it now, and since its job is
	// past the new end it calls at once.
	lb.clock.advanceTo(rec.SubmittedAt.Add(100 * time.Second))
	teach(30 * time.Second)
	lb.h.bringForward(ctx, "other-class")
	if pend, _ := lb.in.ListPendingTasks(QueuePoll); len(pend) != 0 {
		t.Fatalf("another class's polls were brought forward: %d", len(pend))
	}
	lb.h.bringForward(ctx, "song")
	pend, _ := lb.in.ListPendingTasks(QueuePoll)
	if len(pend) != 1 || pend[0].ID != sched[0].ID {
		t.Fatalf("pending polls after bringing forward: %d, want the scheduled one", len(pend))
	}
	task, at, _ = lb.next()
	if err := lb.h.Mux().ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	if calls := lb.svc.callsOf(rec.JobID); calls != 1 || !at.Equal(lb.clock.Now()) {
		t.Errorf("brought forward: %d GetJob at +%v, want 1 at once", calls, at.Sub(rec.SubmittedAt))
	}
}

// A job seen PROCESSING with a startedAt is next polled at startedAt + the longest
// processing time, not at creation + the longest total.
func TestPollAimsFromStartedAt(t *testing.T) {
	t.Parallel()
	lb := newLearnBundle(t, Settings{})
	ctx := context.Background()
	for range batch.TimingWindow {
		if _, err := lb.store.RecordJobTiming(ctx, "song", batch.JobTiming{Total: 100 * time.Second, Processing: 50 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	rec := lb.submit("b", []time.Duration{200 * time.Second})[0]
	lb.svc.mu.Lock()
	j := lb.svc.jobs[rec.JobID]
	j.queue = 80 * time.Second // a long queue: started at +80 s
	lb.svc.jobs[rec.JobID] = j
	lb.svc.mu.Unlock()
	task, at, _ := lb.next()
	lb.clock.advanceTo(at)
	if err := lb.h.Mux().ProcessTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	sched, err := lb.in.ListScheduledTasks(QueuePoll)
	if err != nil || len(sched) != 1 {
		t.Fatalf("scheduled polls %v (%v)", sched, err)
	}
	var p PollPayload
	if err := decodePayload(asynq.NewTask(TypePoll, sched[0].Payload), &p); err != nil {
		t.Fatal(err)
	}
	want := rec.SubmittedAt.Add(80*time.Second + scaleDur(50*time.Second, 1.05))
	if got := sched[0].NextProcessAt; p.Calls != 1 || p.Started != 80_000 || got.After(want) || got.Before(want.Add(-3*time.Second)) {
		t.Errorf("second poll at +%v (calls %d, started %d ms), want about +%v", got.Sub(rec.SubmittedAt), p.Calls, p.Started, want.Sub(rec.SubmittedAt))
	}
}

// A service that reports no timing still teaches: the worker's own observation stands in.
func TestPollLearnsWithoutTimings(t *testing.T) {
	t.Parallel()
	lb := newLearnBundle(t, Settings{})
	rec := lb.submit("b", []time.Duration{7 * time.Second})[0]
	lb.svc.mu.Lock()
	j := lb.svc.jobs[rec.JobID]
	j.noTimings = true
	lb.svc.jobs[rec.JobID] = j
	lb.svc.mu.Unlock()
	lb.runPolls(lb.h)
	ts, err := lb.store.JobTimings(context.Background(), "song")
	if err != nil || len(ts) != 1 {
		t.Fatalf("timings %v (%v)", ts, err)
	}
	// Found done by a scout's probe at 8 s: observed from submission to that poll.
	if got := ts[0]; got.Total < 7*time.Second || got.Total > 9*time.Second || got.Processing != 0 {
		t.Errorf("timing %+v, want the observed ~8 s and no processing time", got)
	}
	if r := lb.item("b", rec.ID); r.State != batch.StateCompleted {
		t.Errorf("item %s", r.State)
	}
}
