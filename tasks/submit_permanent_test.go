package tasks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Permanent errors fail the item at once, without retries.
func TestSubmitPermanentErrors(t *testing.T) {
	t.Parallel()

	t.Run("invalid request", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, nil)
		// The service already has dup_v1; singbatch does not know it, so the training is
		// sent and refused (400).
		if err := b.sim.AddModel("dup_v1", time.Time{}); err != nil {
			t.Fatal(err)
		}
		b.addManifest("b", `{"id":"dup","kind":"train","model":"dup_v1","urls":["AUDIO/voice.wav"],"epochs":1}`+"\n")
		b.enqueueAll("b")
		b.start()
		b.waitDone("b", 10*time.Second)
		r := b.item("b", "dup")
		if r.State != batch.StateFailed || !strings.Contains(r.Error, "model dup_v1 already exists") ||
			!strings.Contains(r.Error, upstream.ErrInvalidRequest.Error()) {
			t.Errorf("item %s error %q; want failed as an invalid request naming the existing model", r.State, r.Error)
		}
		st := b.sim.Stats()
		if n := st.Count(upstream.ActionCreateJob, sim.OutcomeInvalid); n != 1 || st.Requests != 1 {
			t.Errorf("CreateJob refused %d times, %d requests in all; want 1 and 1 (no retry, no reconcile)", n, st.Requests)
		}
		if m, err := b.store.ModelState(t.Context(), "dup_v1"); err != nil || m.State != batch.ModelFailed {
			t.Errorf("model dup_v1: %v %v, want failed with its training", m.State, err)
		}
	})

	t.Run("authentication", func(t *testing.T) {
		t.Parallel()
		b := newBundle(t, func(c *bundleConfig) {
			c.creds = upstream.Credentials{SecretID: workerCreds.SecretID, SecretKey: upstream.NewSecret("wrong-key")}
		})
		const n = 6
		var m strings.Builder
		for i := range n {
			fmt.Fprintf(&m, `{"id":"s%d","kind":"song","text":"la","contentId":"repo1"}`+"\n", i)
		}
		b.addManifest("b", m.String())
		b.enqueueAll("b")
		b.start()
		rec := b.waitDone("b", 10*time.Second)
		if rec.Counts[batch.StateFailed] != n {
			t.Errorf("counts %v, want %d failed", rec.Counts, n)
		}
		for i := range n {
			r := b.item("b", fmt.Sprintf("s%d", i))
			if !strings.Contains(r.Error, upstream.ErrAuth.Error()) || strings.Contains(r.Error, "wrong-key") {
				t.Errorf("s%d: error %q; want the authentication failure, without the key", i, r.Error)
			}
		}
		if got := b.sim.Stats().Count(upstream.ActionCreateJob, sim.OutcomeAuth); got != n {
			t.Errorf("CreateJob sent %d times, want %d (once per item, no retries)", got, n)
		}
		loud := b.logs.FilterMessageSnippet("upstream authentication failed").All()
		if len(loud) != 1 {
			t.Errorf("authentication failure logged %d times, want once per process", len(loud))
		}
		for _, e := range b.logs.All() {
			if strings.Contains(fmt.Sprint(e.ContextMap()), "wrong-key") {
				t.Errorf("a log line holds the secret key: %s %v", e.Message, e.ContextMap())
			}
		}
	})
}
