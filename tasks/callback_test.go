package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

func TestCallbackURLs(t *testing.T) {
	t.Parallel()
	secret, previous := upstream.NewSecret(strings.Repeat("k", 32)), upstream.NewSecret(strings.Repeat("p", 40))
	for name, c := range map[string]struct {
		url          string
		secret, prev upstream.Secret
	}{
		"short secret":          {"https://h/sb", upstream.NewSecret("short"), upstream.Secret{}},
		"no secret":             {"https://h/sb", upstream.Secret{}, upstream.Secret{}},
		"short previous secret": {"https://h/sb", secret, upstream.NewSecret("short")},
		"relative URL":          {"/sb", secret, upstream.Secret{}},
		"not http":              {"ftp://h/sb", secret, upstream.Secret{}},
		"query":                 {"https://h/sb?x=1", secret, upstream.Secret{}},
	} {
		if _, err := NewCallbacks(c.url, c.secret, c.prev); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	old, err := NewCallbacks("https://batch.example.com/sb/", previous, upstream.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	cb, err := NewCallbacks("https://batch.example.com/sb", secret, previous) // rotated
	if err != nil {
		t.Fatal(err)
	}
	ref := ItemRef{Batch: "b-1.x", Item: "s_01", Attempt: 3}
	u := cb.URL(ref)
	if !strings.HasPrefix(u, "https://batch.example.com/sb/cb/v1/b-1.x/s_01/3/") {
		t.Fatalf("URL %s", u)
	}
	path := strings.TrimPrefix(u, "https://batch.example.com")
	for _, p := range []string{path, strings.TrimPrefix(path, "/sb"), strings.TrimPrefix(old.URL(ref), "https://batch.example.com")} {
		if got, err := cb.parse(p); err != nil || got != ref {
			t.Errorf("parse(%s) = %+v, %v; want %+v", p, got, err, ref)
		}
	}
	token := path[strings.LastIndexByte(path, '/')+1:]
	for name, p := range map[string]string{
		"other attempt": strings.Replace(path, "/3/", "/4/", 1),
		"other item":    strings.Replace(path, "/s_01/", "/s_02/", 1),
		"changed token": path[:len(path)-1] + string(rune('A'+(token[len(token)-1]-'A'+1)%26)),
		"another key":   strings.TrimPrefix(mustCallbacks(t, strings.Repeat("z", 32)).URL(ref), "https://h"),
	} {
		if _, err := cb.parse(p); !errors.Is(err, errBadCallbackMAC) {
			t.Errorf("%s: parse = %v, want a bad token", name, err)
		}
	}
	for _, p := range []string{"/", "/cb/v1/b/s/1", "/cb/v1/b/s/x/tok", "/cb/v1/b:x/s/1/tok", "/cb/v1/b/s/0/tok", "/cb/v1//s/1/tok"} {
		if _, err := cb.parse(p); !errors.Is(err, errNoCallbackRoute) {
			t.Errorf("parse(%q) = %v, want no route", p, err)
		}
	}
	if r := redactCallbackPath(path); strings.Contains(r, token) || !strings.HasPrefix(r, "/sb/cb/v1/b-1.x/s_01/3/") {
		t.Errorf("redacted %q", r)
	}
}

func mustCallbacks(t *testing.T, secret string) *Callbacks {
	t.Helper()
	cb, err := NewCallbacks("https://h", upstream.NewSecret(secret), upstream.Secret{})
	if err != nil {
		t.Fatal(err)
	}
	return cb
}

// With callbacks on, the service's POSTs record the results; 15 % of them lost, 20 %
// sent twice and 20 % late change nothing but the polls a lost one costs. (At 10 %
// each, one run in a few hundred drew no duplicate among some 55 callbacks, and the
// check that every fault happened failed.)
func TestCallbacksRecordEveryItemDespiteLostDuplicatedAndLateOnes(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.callbacks = true
		c.sim.Faults = sim.Faults{CallbackDrop: 0.15, CallbackDuplicate: 0.2, CallbackDelay: 0.2, CallbackDelayFor: 2 * time.Second}
		c.settings.Poll.CallbackGrace = 300 * time.Millisecond
	})
	const songs = 60
	var m strings.Builder
	m.WriteString(`{"id":"t","kind":"train","model":"cb_v1","urls":["AUDIO/voice.wav"],"epochs":1}` + "\n")
	for i := range songs {
		model := "default"
		if i%3 == 0 {
			model = "cb_v1"
		}
		fmt.Fprintf(&m, `{"id":"s%02d","kind":"song","url":"AUDIO/song.wav","model":"%s","contentId":"repo1"}`+"\n", i, model)
	}
	b.addManifest("b", m.String())
	b.enqueueAll("b")
	b.start()
	rec := b.waitDone("b", 60*time.Second)
	if rec.Counts[batch.StateCompleted] != songs+1 {
		b.dumpItems("b")
		t.Fatalf("counts %v, want %d completed", rec.Counts, songs+1)
	}
	st := b.sim.Stats()
	if st.JobsCreated != songs+1 || len(st.PaidTwice) > 0 {
		t.Errorf("jobs created %d (want %d), requests paid for twice under customIds %v", st.JobsCreated, songs+1, st.PaidTwice)
	}
	for i := range songs {
		r := b.item("b", fmt.Sprintf("s%02d", i))
		job, ok := b.sim.Job(r.JobID)
		if !ok || job.CustomID != r.CustomID || r.SongName == "" || r.SongName != job.Result().SongName {
			t.Errorf("%s: recorded song %q of job %s; the service's job %+v", r.ID, r.SongName, r.JobID, job.Result())
		}
	}
	if st.Callbacks.Dropped == 0 || st.Callbacks.Duplicated == 0 || st.Callbacks.Delayed == 0 {
		t.Errorf("the faults did not all happen: %+v", st.Callbacks)
	}
	recorded, dups := b.h.Stats().Callbacks(CallbackRecorded), b.h.Stats().Callbacks(CallbackDuplicate)
	if recorded < songs/2 || dups == 0 {
		t.Errorf("callbacks recorded %d, duplicates %d; want most recorded and the duplicates seen", recorded, dups)
	}
	gets := st.Count(upstream.ActionGetJob, sim.OutcomeOK)
	t.Logf("callbacks %+v; recorded %d, duplicate %d; GetJob %d for %d jobs", st.Callbacks, recorded, dups, gets, songs+1)
	// A lost callback costs a poll or two; a delivered one costs none (the scouts of
	// the classes aside).
	if limit := 2*st.Callbacks.Dropped + 12; gets > limit {
		t.Errorf("%d GetJob calls with %d callbacks lost; want at most %d", gets, st.Callbacks.Dropped, limit)
	}
}

// A callback can come before the CreateJob answer was recorded (here: the answer is
// lost). It is accepted, and the job it names becomes the item's: nothing is created
// twice, and the reconciliation that follows finds the item done.
func TestCallbackBeforeTheCreateAnswer(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.callbacks = true
		c.sim.Faults = sim.Faults{LoseCreate: 1}
		c.settings.ReconcileDelay = 2 * time.Second // the callback comes well before
	})
	b.addManifest("b", oneSong)
	b.enqueueAll("b")
	b.start()
	rec := b.waitDone("b", 30*time.Second)
	r := b.item("b", "s1")
	if rec.Counts[batch.StateCompleted] != 1 || r.JobID == "" || r.SongName == "" || r.SubmittedAt.IsZero() {
		t.Fatalf("item %+v", r)
	}
	if st := b.sim.Stats(); st.JobsCreated != 1 {
		t.Errorf("jobs created %d, want 1", st.JobsCreated)
	}
	// The outcome is counted once the reply is written, just after the record.
	waitFor(t, 5*time.Second, "the callback counted as recorded", func() bool {
		return b.h.Stats().Callbacks(CallbackRecorded) == 1
	})
}

// Forged and stray callbacks are refused with the status that says why, and nothing is
// recorded.
func TestCallbackForgeriesAreRefused(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) {
		c.callbacks = true
		c.sim.TimeScale = 1 // the jobs stay running for the test's length
	})
	b.addManifest("b", `{"id":"s1","kind":"song","text":"la la","contentId":"repo1"}
{"id":"s2","kind":"song","text":"do re mi","contentId":"repo1"}
`)
	ctx := t.Context()
	// s1 and s2 are submitted: their jobs exist at the simulator, which takes seconds
	// to run them, and have no callback URL (only the test posts).
	running := map[string]upstream.Job{}
	for _, id := range []string{"s1", "s2"} {
		rec := b.claimSubmitting("b", id)
		job := b.createAtSim(rec)
		if ok, _, err := b.store.Transition(ctx, "b", id, rec.Attempt, []batch.State{batch.StateSubmitting},
			batch.StateSubmitted, batch.Update{JobID: job.ID}); !ok || err != nil {
			t.Fatalf("submit %s: %v", id, err)
		}
		running[id] = job
	}
	s1 := b.item("b", "s1")
	url1 := b.callbacks.URL(refOf(s1))
	done := func(j upstream.Job) upstream.Job { // what a forger makes of a running job
		j.State = upstream.StateCompleted
		return j
	}
	plausible := func(j upstream.Job) upstream.Job {
		j = *completedSong(j, "forged.wav")
		j.Timing.CompletedAt = upstream.MillisOf(time.Now())
		return j
	}
	body := func(v any) []byte {
		raw, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, c := range []struct {
		name   string
		method string
		url    string
		body   []byte
		want   int
	}{
		{"bad token", http.MethodPost, url1[:len(url1)-2] + "xx", body(plausible(running["s1"])), http.StatusForbidden},
		{"no token", http.MethodPost, url1[:strings.LastIndexByte(url1, '/')], body(plausible(running["s1"])), http.StatusNotFound},
		{"made-up path", http.MethodPost, b.callbackSrv.URL + "/hooks/cb/v1/b/nobody/1/abcdef", body(plausible(running["s1"])), http.StatusForbidden},
		{"not a callback path", http.MethodPost, b.callbackSrv.URL + "/hooks/anything", body(plausible(running["s1"])), http.StatusNotFound},
		{"another job's body", http.MethodPost, url1, body(plausible(running["s2"])), http.StatusConflict},
		{"completed while running", http.MethodPost, url1, body(done(running["s1"])), http.StatusConflict},
		{"not final", http.MethodPost, url1, body(running["s1"]), http.StatusConflict},
		{"other inputs", http.MethodPost, url1, body(func() upstream.Job {
			j := plausible(running["s1"])
			j.Inputs = []upstream.Input{{URL: "https://evil.example.com/x.mp3"}}
			return j
		}()), http.StatusConflict},
		{"malformed", http.MethodPost, url1, []byte(`{"id":`), http.StatusBadRequest},
		{"not a job", http.MethodPost, url1, []byte(`{"hello":"world"}`), http.StatusBadRequest},
		{"oversize", http.MethodPost, url1, append(append([]byte(`{"id":"`), bytes.Repeat([]byte("x"), MaxCallbackBody)...), `"}`...), http.StatusRequestEntityTooLarge},
		{"GET", http.MethodGet, url1, nil, http.StatusMethodNotAllowed},
	} {
		status := postCallback(t, c.method, c.url, c.body)
		if status != c.want {
			t.Errorf("%s: status %d, want %d", c.name, status, c.want)
		}
		for _, id := range []string{"s1", "s2"} {
			if r := b.item("b", id); r.State != batch.StateSubmitted || r.SongName != "" || r.Error != "" {
				t.Fatalf("%s: item %s recorded %s %q %q", c.name, id, r.State, r.SongName, r.Error)
			}
		}
	}

	// The genuine end, posted twice and wrapped as {"job": …} once: recorded once.
	real := plausible(running["s1"])
	if status := postCallback(t, http.MethodPost, url1, body(real)); status != http.StatusOK {
		t.Fatalf("genuine callback: %d", status)
	}
	if status := postCallback(t, http.MethodPost, url1, body(map[string]any{"job": real})); status != http.StatusOK {
		t.Fatalf("wrapped duplicate: %d", status)
	}
	if r := b.item("b", "s1"); r.State != batch.StateCompleted || r.SongName != "forged.wav" {
		t.Errorf("s1 after its callback: %s %q", r.State, r.SongName)
	}
	if got := b.h.Stats().Callbacks(CallbackDuplicate); got != 1 {
		t.Errorf("duplicates counted %d, want 1", got)
	}
	if batchRec, err := b.store.Batch(ctx, "b"); err != nil || batchRec.Counts[batch.StateCompleted] != 1 {
		t.Errorf("batch counts %v, %v; want one completed", batchRec.Counts, err)
	}
}

// A poll that comes due after the callback was recorded stands down without a call.
func TestPollStandsDownAfterCallback(t *testing.T) {
	t.Parallel()
	var gets int
	fake := &fakeAPI{get: func(context.Context, string) (*upstream.Job, error) {
		gets++
		return nil, errors.New("must not be called")
	}}
	b := newBundle(t, func(c *bundleConfig) { c.callbacks = true; c.fake = fake })
	b.addManifest("b", oneSong)
	rec := b.markSubmitted("b", "s1", "job-1", time.Now().Add(-time.Hour))
	req := rec.Spec.Request(rec.Kind, rec.Model)
	job := completedSong(upstream.Job{ID: "job-1", CustomID: rec.CustomID, Inputs: req.Inputs, Outputs: req.Outputs,
		Timing: upstream.Timing{CreatedAt: upstream.MillisOf(time.Now().Add(-time.Minute))}}, "x.wav")
	job.Timing.CompletedAt = upstream.MillisOf(time.Now())
	if status := postCallback(t, http.MethodPost, b.callbacks.URL(refOf(rec)), mustJSON(t, job)); status != http.StatusOK {
		t.Fatalf("callback: %d", status)
	}
	if err := b.h.Mux().ProcessTask(t.Context(), pollTask(t, rec, 1)); err != nil {
		t.Fatal(err)
	}
	if gets != 0 {
		t.Errorf("GetJob called %d times after the callback", gets)
	}
}

func postCallback(t *testing.T, method, url string, body []byte) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	return resp.StatusCode
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// With Redis gone, a callback is answered 503 within the store timeout, so that the
// service may send it again, and nothing is lost: once Redis is back, it is recorded.
func TestCallbackWhileRedisIsDown(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) { c.callbacks, c.aof, c.fake = true, true, &fakeAPI{} })
	b.addManifest("b", oneSong)
	rec := b.markSubmitted("b", "s1", "job-1", time.Now().Add(-time.Minute))
	req := rec.Spec.Request(rec.Kind, rec.Model)
	job := completedSong(upstream.Job{ID: "job-1", CustomID: rec.CustomID, Inputs: req.Inputs, Outputs: req.Outputs,
		Timing: upstream.Timing{CreatedAt: upstream.MillisOf(time.Now().Add(-time.Minute))}}, "x.wav")
	job.Timing.CompletedAt = upstream.MillisOf(time.Now())
	url := b.callbacks.URL(refOf(rec))

	b.redis.Kill()
	start := time.Now()
	status := postCallback(t, http.MethodPost, url, mustJSON(t, job))
	if took := time.Since(start); status != http.StatusServiceUnavailable {
		t.Fatalf("status %d after %v, want 503", status, took)
	} else {
		t.Logf("503 after %v", took.Round(time.Millisecond))
	}
	b.redis.Restart(t)
	waitFor(t, 10*time.Second, "Redis back", func() bool { return b.rdb.Ping(t.Context()).Err() == nil })
	if status := postCallback(t, http.MethodPost, url, mustJSON(t, job)); status != http.StatusOK {
		t.Fatalf("again, Redis back: %d", status)
	}
	if r := b.item("b", "s1"); r.State != batch.StateCompleted || r.SongName != "x.wav" {
		t.Errorf("item %s %q", r.State, r.SongName)
	}
}

// Prompt callbacks teach the backstop a short grace: a lost one is then noticed soon
// after its job's end, not the configured (guessed) grace later.
func TestCallbacksTeachTheBackstopGrace(t *testing.T) {
	t.Parallel()
	const configured = 10 * time.Second
	b := newBundle(t, func(c *bundleConfig) {
		c.callbacks = true
		c.settings.Poll.CallbackGrace = configured
	})
	if got := b.h.pollTiming().CallbackGrace; got != configured {
		t.Fatalf("before any callback, grace %v, want the configured %v", got, configured)
	}
	b.addManifest("b", songsManifest("s", 2*callbackDelayMinSamples))
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 60*time.Second)
	if n := b.h.Stats().Callbacks(CallbackRecorded); n < callbackDelayMinSamples {
		t.Fatalf("%d callbacks recorded, want at least %d", n, callbackDelayMinSamples)
	}
	if got := b.h.pollTiming().CallbackGrace; got >= configured/4 || got < b.h.set.Poll.MinInterval {
		t.Errorf("after prompt callbacks, grace %v, want well under the configured %v", got, configured)
	}
}
