package tasks

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// A mixed manifest run by an in-process worker against the simulator ends with exactly
// the expected final state and result for every item.
func TestWorkerMixedManifest(t *testing.T) {
	t.Parallel()
	b := newBundle(t, func(c *bundleConfig) { c.rate = 50 })
	ctx := context.Background()
	if err := b.sim.AddModel("carol_v1", time.Time{}); err != nil { // trained elsewhere: no record here
		t.Fatal(err)
	}
	dead := deadURL(t)
	b.addManifest("mixed", strings.ReplaceAll(`{"id":"alice","kind":"train","model":"alice_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s-a1","kind":"song","model":"alice_v1","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"s-a2","kind":"song","model":"alice_v1","url":"AUDIO/song.wav","contentId":"repo1","outputPrefix":"a2_"}
{"id":"s-def","kind":"song","text":"la la la","contentId":"repo1"}
{"id":"bob","kind":"train","model":"bob_v1","urls":["AUDIO/voice10.wav"],"epochs":1}
{"id":"s-bob","kind":"song","model":"bob_v1","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"s-unknown","kind":"song","model":"nobody_v9","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"s-bad","kind":"song","url":"DEAD","contentId":"repo1"}
{"id":"s-carol","kind":"song","model":"carol_v1","url":"AUDIO/song.wav","contentId":"repo2","destination":"/mine"}
`, "DEAD", dead))
	// Model records are global: a song of another batch waits for alice_v1 too.
	b.addManifest("other", `{"id":"o-1","kind":"song","model":"alice_v1","text":"do re mi","contentId":"repo3"}`+"\n")
	b.enqueueAll("mixed")
	b.enqueueAll("other")
	b.start()

	mixed := b.waitDone("mixed", 45*time.Second)
	other := b.waitDone("other", 10*time.Second)

	if got := mixed.Counts; got[batch.StateCompleted] != 5 || got[batch.StateFailed] != 4 || mixed.Total != 9 {
		t.Errorf("mixed counts = %v, total %d; want 5 completed, 4 failed of 9", got, mixed.Total)
	}
	if other.Counts[batch.StateCompleted] != 1 || other.Total != 1 {
		t.Errorf("other counts = %v", other.Counts)
	}

	song := func(batchName, id, repo, path string) {
		t.Helper()
		r := b.item(batchName, id)
		if r.State != batch.StateCompleted || r.OutputRepository != repo || r.OutputPath != path ||
			r.SongName != filepath.Base(path) || r.Error != "" || r.JobID == "" {
			t.Errorf("%s: %s repo %q path %q song %q error %q job %q; want completed in %s at %s",
				id, r.State, r.OutputRepository, r.OutputPath, r.SongName, r.Error, r.JobID, repo, path)
			return
		}
		file := filepath.Join(b.sim.OutputDir(), r.OutputRepository, filepath.FromSlash(r.OutputPath))
		if st, err := os.Stat(file); err != nil || st.Size() == 0 {
			t.Errorf("%s: output file %s: %v", id, file, err)
		}
	}
	failed := func(id, want string, exact bool) batch.ItemRecord {
		t.Helper()
		r := b.item("mixed", id)
		ok := r.State == batch.StateFailed && (exact && r.Error == want || !exact && strings.Contains(r.Error, want))
		if !ok {
			t.Errorf("%s: %s with error %q; want failed with %q", id, r.State, r.Error, want)
		}
		return r
	}

	alice := b.item("mixed", "alice")
	if alice.State != batch.StateCompleted || alice.TrainedModel != "alice_v1" {
		t.Errorf("alice: %s, trained %q", alice.State, alice.TrainedModel)
	}
	song("mixed", "s-a1", "repo1", "/singbatch/s-a1/out.wav")
	song("mixed", "s-a2", "repo1", "/singbatch/s-a2/a2_out.wav")
	song("mixed", "s-def", "repo1", "/singbatch/s-def/out.wav")
	song("mixed", "s-carol", "repo2", "/mine/out.wav")
	song("other", "o-1", "repo3", "/singbatch/o-1/out.wav")

	bob := failed("bob", "training needs at least", false)
	failed("s-bob", "model bob_v1: training failed: "+bob.Error, true)
	failed("s-unknown", `model nobody_v9: not found: not "default", not trained by singbatch, not listed by the service`, true)
	failed("s-bad", "fetch failed", false)

	for name, want := range map[string]batch.ModelStatus{"alice_v1": batch.ModelReady, "bob_v1": batch.ModelFailed, "carol_v1": batch.ModelReady} {
		m, err := b.store.ModelState(ctx, name)
		if err != nil || m.State != want {
			t.Errorf("model %s: %v %v; want %s", name, m.State, err, want)
		}
	}

	// One job per submitted item, none for the songs that never could be.
	st := b.sim.Stats()
	if d := st.PaidTwice; len(d) > 0 {
		t.Errorf("requests paid for twice under customIds: %v", d)
	}
	if st.JobsCreated != 8 {
		t.Errorf("jobs created = %d, want 8 (every item but s-bob and s-unknown)", st.JobsCreated)
	}
	for _, id := range []string{"s-bob", "s-unknown"} {
		if r := b.item("mixed", id); r.CustomID != "" || r.JobID != "" {
			t.Errorf("%s was submitted: customId %q job %q", id, r.CustomID, r.JobID)
		}
	}
	if n := st.Count(upstream.ActionListModels, "ok"); n != 1 {
		t.Errorf("ListModels calls = %d, want 1 (cached)", n)
	}
	if n := b.messages("item waits for its model's training"); n < 1 {
		t.Errorf("no song waited for its model")
	}
}
