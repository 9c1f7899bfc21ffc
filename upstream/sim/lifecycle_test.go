package sim_test

import (
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

func ms(t time.Time) upstream.Millis { return upstream.MillisOf(t) }

func TestGenerateLifecycle(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	src := b.putSource(t, "repo", "in/song.wav", 60*time.Second)
	req := generate(upstream.Input{Source: src}, upstream.DefaultModel)

	created := b.create(t, req)
	if created.State != upstream.StateSubmitted || created.Timing.CreatedAt != ms(epoch) || created.Timing.StartedAt != 0 || created.Timing.CompletedAt != 0 {
		t.Fatalf("created job = state %v timing %+v", created.State, created.Timing)
	}
	if created.ID == "" || created.CustomID != "gen-1" || created.Outputs[0].Destination != "/output/gen-1" || created.Inputs[0].Source.Path != "in/song.wav" {
		t.Fatalf("created job does not echo the request: %+v", created)
	}

	// Queue delay 5 s, then 5 s + 0.2 s per second of the 60 s song = 17 s.
	b.clock.Advance(5*time.Second - time.Millisecond)
	if j := b.getJob(t, created.ID); j.State != upstream.StateSubmitted {
		t.Fatalf("at 4.999s state = %v, want SUBMITTED", j.State)
	}
	b.clock.Advance(time.Millisecond)
	j := b.getJob(t, created.ID)
	if j.State != upstream.StateProcessing || j.Timing.StartedAt != ms(epoch.Add(5*time.Second)) || j.Result() != nil {
		t.Fatalf("at 5s job = state %v timing %+v", j.State, j.Timing)
	}
	b.clock.Advance(17*time.Second - time.Millisecond)
	if j := b.getJob(t, created.ID); j.State != upstream.StateProcessing {
		t.Fatalf("at 21.999s state = %v, want PROCESSING", j.State)
	}
	b.clock.Advance(time.Millisecond)
	j = b.getJob(t, created.ID)
	if j.State != upstream.StateCompleted || j.Timing.CompletedAt != ms(epoch.Add(22*time.Second)) || j.Timing.StartedAt != ms(epoch.Add(5*time.Second)) {
		t.Fatalf("at 22s job = state %v timing %+v message %q", j.State, j.Timing, j.Message)
	}
	res := j.Result()
	if res == nil || res.SongName != "p_out.wav" || res.ModelName != "" {
		t.Fatalf("result = %+v, want songName p_out.wav", res)
	}
	o := j.Outputs[0]
	p := filepath.Join(b.dir, o.ContentID, filepath.FromSlash(path.Join(o.Destination, res.SongName)))
	if p != b.srv.SongPath(o.ContentID, o.Destination, res.SongName) {
		t.Errorf("SongPath = %s, want %s", b.srv.SongPath(o.ContentID, o.Destination, res.SongName), p)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatalf("result file: %v", err)
	}
	defer f.Close()
	if d, format, err := sim.ProbeAudio(f); err != nil || format != sim.FormatWAV || d != 2*time.Second {
		t.Fatalf("result file probes as %v %q %v", d, format, err)
	}
}

func TestTrainLifecycleThenGenerateWithModel(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	src := b.putSource(t, "voices", "alice.wav", 90*time.Second)

	job := b.create(t, train(upstream.Input{Source: src}, "alice_v1", 10))
	// 5 s queue, then 60 s + 20 s × 10 epochs × 1.5 minutes = 360 s.
	b.clock.Advance(5 * time.Second)
	if j := b.getJob(t, job.ID); j.State != upstream.StateProcessing {
		t.Fatalf("state = %v, want PROCESSING", j.State)
	}
	if r := b.listModels(t, 0, 10); r.body.ListModelsResponse.Total != 0 {
		t.Fatalf("model listed before training finished: %s", r.raw)
	}
	// A generation with the model while it trains fails: the model is not there yet.
	early := b.create(t, generate(upstream.Input{SourceData: "la la la"}, "alice_v1"))

	b.clock.Advance(360 * time.Second)
	j := b.getJob(t, job.ID)
	if j.State != upstream.StateCompleted || j.Result() == nil || j.Result().ModelName != "alice_v1" || j.Result().SongName != "" {
		t.Fatalf("training job = %v %+v %q", j.State, j.Result(), j.Message)
	}
	r := b.listModels(t, 0, 10)
	want := []upstream.Model{{Name: "alice_v1", CreatedAt: ms(epoch.Add(365 * time.Second))}}
	if got := r.body.ListModelsResponse; got.Total != 1 || len(got.Models) != 1 || got.Models[0] != want[0] {
		t.Fatalf("ListModels = %s, want %+v", r.raw, want)
	}
	if e := b.getJob(t, early.ID); e.State != upstream.StateError || !strings.Contains(e.Message, "model alice_v1 not found") {
		t.Fatalf("generation during training = %v %q, want ERROR model not found", e.State, e.Message)
	}

	gen := b.create(t, generate(upstream.Input{SourceData: "la la la"}, "alice_v1"))
	b.clock.Advance(time.Hour)
	if g := b.getJob(t, gen.ID); g.State != upstream.StateCompleted || g.Result() == nil || g.Result().SongName == "" {
		t.Fatalf("generation with the trained model = %v %q", g.State, g.Message)
	}
}

func TestGenerationTimeGrowsWithAudioAndSeparation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	short := b.putSource(t, "repo", "a.wav", 10*time.Second)
	long := b.putSource(t, "repo", "b.wav", 100*time.Second)
	sep := generate(upstream.Input{Source: long}, upstream.DefaultModel)
	sep.Outputs[0].SmartContentDescriptor.SingingCloning.UseSeparate = upstream.SwitchOn

	ids := []string{
		b.create(t, generate(upstream.Input{Source: short}, upstream.DefaultModel)).ID, // 5+2 = 7 s
		b.create(t, generate(upstream.Input{Source: long}, upstream.DefaultModel)).ID,  // 5+20 = 25 s
		b.create(t, sep).ID, // 25 × 1.5 = 37.5 s
	}
	b.clock.Advance(time.Hour)
	want := []time.Duration{7 * time.Second, 25 * time.Second, 37500 * time.Millisecond}
	for i, id := range ids {
		j := b.getJob(t, id)
		if got := j.Timing.CompletedAt.Time().Sub(j.Timing.StartedAt.Time()); j.State != upstream.StateCompleted || got != want[i] {
			t.Errorf("job %d: %v after %v of processing, want COMPLETED after %v", i, j.State, got, want[i])
		}
	}
}

func TestJobErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	short := b.putSource(t, "voices", "short.wav", 59*time.Second)
	cases := []struct {
		name string
		req  *upstream.CreateJobRequest
		want string
	}{
		{"unknown model", generate(upstream.Input{SourceData: "hi"}, "nosuch"), "model nosuch not found"},
		{"training under 60 s", train(upstream.Input{Source: short}, "bob", 0), "training needs at least 1m0s of audio, the inputs have 59s"},
		{"training from text", train(upstream.Input{SourceData: "words"}, "carol", 0), "input 0: sourceData is text"},
		{"missing source", generate(upstream.Input{Source: &upstream.Source{ContentID: "repo", Path: "nope.wav"}}, upstream.DefaultModel), "source repo:/nope.wav not found"},
	}
	for _, c := range cases {
		j := b.create(t, c.req)
		b.clock.Advance(time.Hour)
		got := b.getJob(t, j.ID)
		if got.State != upstream.StateError || !strings.Contains(got.Message, c.want) || got.Result() != nil {
			t.Errorf("%s: job = %v %q, want ERROR containing %q", c.name, got.State, got.Message, c.want)
		}
	}
	if n := len(b.srv.Models()); n != 0 {
		t.Errorf("failed trainings registered %d models", n)
	}
}

func TestTrainingNameConflicts(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if err := b.srv.AddModel("taken", epoch.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	src := b.putSource(t, "voices", "v.wav", 61*time.Second)
	b.create(t, train(upstream.Input{Source: src}, "busy", 0)) // still training

	const field = "createJobRequest.outputs[0].smartContentDescriptor.singingCloning.modelName"
	for _, name := range []string{"taken", "busy", upstream.DefaultModel} {
		r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionCreateJob, CreateJobRequest: train(upstream.Input{Source: src}, name, 0)})
		if r.status != http.StatusBadRequest || r.body.Error == nil || r.body.Error.Code != upstream.CodeInvalidParameter || !strings.Contains(r.body.Error.Message, field) {
			t.Errorf("training %q again: HTTP %d %s; want 400 naming %s", name, r.status, r.raw, field)
		}
	}
	// Once the live training failed, its name is free again.
	if err := b.srv.CancelJob(b.srv.JobsByCustomID("train-busy")[0].ID); err != nil {
		t.Fatal(err)
	}
	b.create(t, train(upstream.Input{Source: src}, "busy", 0))
	if got := b.srv.Stats().JobsCreated; got != 2 {
		t.Errorf("JobsCreated = %d, want 2 (rejected requests store no job)", got)
	}
}

func TestTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	src := b.putSource(t, "repo", "song.wav", 60*time.Second)
	req := generate(upstream.Input{Source: src}, upstream.DefaultModel)
	req.Timeout = 10 // the job needs 22 s
	j := b.create(t, req)
	b.clock.Advance(10*time.Second - time.Millisecond)
	if got := b.getJob(t, j.ID); got.State != upstream.StateProcessing {
		t.Fatalf("before the timeout: %v", got.State)
	}
	b.clock.Advance(time.Hour)
	got := b.getJob(t, j.ID)
	if got.State != upstream.StateError || got.Message != "timeout exceeded" || got.Timing.CompletedAt != ms(epoch.Add(10*time.Second)) || got.Result() != nil {
		t.Fatalf("after the timeout: %v %q %+v", got.State, got.Message, got.Timing)
	}
	if _, err := os.Stat(filepath.Join(b.dir, "repo", "output", "gen-1", "p_out.wav")); !os.IsNotExist(err) {
		t.Errorf("a timed-out job wrote its result (stat: %v)", err)
	}

	// A timeout the job beats changes nothing.
	req.Timeout = 23
	j = b.create(t, req)
	b.clock.Advance(time.Hour)
	if got := b.getJob(t, j.ID); got.State != upstream.StateCompleted {
		t.Fatalf("job within its timeout: %v %q", got.State, got.Message)
	}
}

func TestCancelJob(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	j := b.create(t, generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel))
	if err := b.srv.CancelJob(j.ID); err != nil {
		t.Fatal(err)
	}
	if got := b.getJob(t, j.ID); got.State != upstream.StateCanceled || !got.State.Final() {
		t.Fatalf("state = %v, want CANCELED", got.State)
	}
	if err := b.srv.CancelJob(j.ID); err == nil {
		t.Fatal("cancelling a final job succeeded")
	}
}

func TestSkipFetchAssumesLength(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.SkipFetch = true; o.AssumedAudio = 100 * time.Second })
	// Neither the URL nor the source exists; under SkipFetch both count as 100 s.
	req := generate(upstream.Input{URL: "http://invalid.invalid/a.wav"}, upstream.DefaultModel)
	j := b.create(t, req)
	b.clock.Advance(5*time.Second + 25*time.Second)
	if got := b.getJob(t, j.ID); got.State != upstream.StateCompleted {
		t.Fatalf("state = %v %q, want COMPLETED after 5 s + 25 s", got.State, got.Message)
	}
}

func TestURLInputsOnRealClock(t *testing.T) {
	t.Parallel()
	audio := audioServer(t)
	b := setup(t, realTime)

	gen := b.create(t, generate(upstream.Input{URL: audio.URL + "/song.wav"}, upstream.DefaultModel))
	tr := b.create(t, train(upstream.Input{URL: audio.URL + "/voice.mp3"}, "mp3voice", 2))
	bad := map[string]string{
		"/short.wav":   "training needs at least 1m0s of audio",
		"/page.html":   "not audio",
		"/missing.wav": "HTTP 404",
	}
	badIDs := map[string]string{}
	for p := range bad {
		badIDs[p] = b.create(t, train(upstream.Input{URL: audio.URL + p}, "m"+strings.Trim(p[1:6], "."), 0)).ID
	}
	down := httptestClosedURL(t)
	unreachable := b.create(t, generate(upstream.Input{URL: down + "/x.wav"}, upstream.DefaultModel)).ID

	for _, id := range []string{gen.ID, tr.ID} {
		j := b.waitFinal(t, id)
		if j.State != upstream.StateCompleted {
			t.Fatalf("job %s: %v %q", id, j.State, j.Message)
		}
		if c, s, d := j.Timing.CreatedAt, j.Timing.StartedAt, j.Timing.CompletedAt; !(c > 0 && c <= s && s <= d) {
			t.Errorf("job %s timing out of order: %+v", id, j.Timing)
		}
	}
	if ms := b.srv.Models(); len(ms) != 1 || ms[0].Name != "mp3voice" {
		t.Errorf("Models() = %+v, want mp3voice", ms)
	}
	for p, want := range bad {
		if j := b.waitFinal(t, badIDs[p]); j.State != upstream.StateError || !strings.Contains(j.Message, want) {
			t.Errorf("%s: %v %q, want ERROR containing %q", p, j.State, j.Message, want)
		}
	}
	if j := b.waitFinal(t, unreachable); j.State != upstream.StateError || !strings.Contains(j.Message, "fetch failed") || strings.Contains(j.Message, down) {
		t.Errorf("unreachable url: %v %q, want ERROR fetch failed without the URL", j.State, j.Message)
	}
}

// httptestClosedURL is the URL of a server that no longer listens.
func httptestClosedURL(t *testing.T) string {
	t.Helper()
	s := newCallbackSink(t)
	u := s.URL
	s.Close()
	return u
}

func TestJobErrorFault(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Faults.JobError = 1 })
	j := b.create(t, generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel))
	b.clock.Advance(time.Hour)
	if got := b.getJob(t, j.ID); got.State != upstream.StateError || !strings.Contains(got.Message, "injected") {
		t.Fatalf("job = %v %q, want an injected ERROR", got.State, got.Message)
	}
}

func TestOutputsEchoedAndNamed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.OutputFormat = sim.FormatMP3 })
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	second := req.Outputs[0]
	second.Destination = ""
	second.SmartContentDescriptor = &upstream.SmartContentDescriptor{SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: upstream.DefaultModel, UseSeparate: upstream.SwitchOn}}
	req.Outputs = append(req.Outputs, second)
	j := b.create(t, req)
	b.clock.Advance(time.Hour)
	got := b.getJob(t, j.ID)
	if got.State != upstream.StateCompleted {
		t.Fatalf("%v %q", got.State, got.Message)
	}
	names := []string{"p_out.mp3", "out2.mp3"}
	for i, o := range got.Outputs {
		if o.SmartContentResult == nil || o.SmartContentResult.SingingCloning.SongName != names[i] {
			t.Fatalf("output %d result = %+v, want %s", i, o.SmartContentResult, names[i])
		}
		if o.SmartContentDescriptor.SingingCloning.UseSeparate != req.Outputs[i].SmartContentDescriptor.SingingCloning.UseSeparate || o.Destination != req.Outputs[i].Destination {
			t.Errorf("output %d not echoed: %+v", i, o)
		}
		f, err := os.Open(b.srv.SongPath(o.ContentID, o.Destination, names[i]))
		if err != nil {
			t.Fatal(err)
		}
		d, format, err := sim.ProbeAudio(f)
		f.Close()
		if err != nil || format != sim.FormatMP3 || d < 2*time.Second {
			t.Errorf("output %d file: %v %q %v", i, d, format, err)
		}
	}
}
