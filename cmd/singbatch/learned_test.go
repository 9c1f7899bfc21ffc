package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// teach records n finished jobs of a class as the workers would.
func (b *cliBundle) teach(class string, d time.Duration, n int) {
	b.t.Helper()
	for range n {
		if _, err := b.store.RecordJobTiming(b.t.Context(), class, batch.JobTiming{Total: d}); err != nil {
			b.t.Fatal(err)
		}
	}
}

// The dry run and status estimate time from the durations the workers learned.
func TestEstimatesUseLearnedDurations(t *testing.T) {
	t.Parallel()
	b := newCLI(t, "UPSTREAM_RATE=2")
	path := b.write("songs.jsonl", cliSongLines("s", 1, 10))

	// Nothing learned: the plan says so and makes up no batch time; status has no ETA.
	out := b.mustRun("", "enqueue", "--dry-run", "--batch", "b1", path)
	if !strings.Contains(out, "song: 10 items, not learned yet") || strings.Contains(out, "batch time") {
		t.Errorf("plan before learning:\n%s", out)
	}
	b.mustRun("", "enqueue", "--batch", "b1", path)
	if out := b.mustRun("", "status", "--batch", "b1"); !strings.Contains(out, "ETA unknown") || strings.Contains(out, "learned") {
		t.Errorf("status before learning:\n%s", out)
	}

	b.teach("song", 40*time.Second, 20)
	b.teach("train-e30", 30*time.Minute, 3)
	// 10 CreateJob + 13 GetJob at 2/s = 12 s, then the longest song, 40 s.
	out = b.mustRun("", "enqueue", "--dry-run", "--batch", "b2", path)
	for _, want := range []string{
		"  job durations   song: 10 items, ≈ 40s each (median of 20 recent jobs; 90% within 40s)\n",
		"  batch time      ≈ 52s from the learned durations: request time + the longest job\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q:\n%s", want, out)
		}
	}
	// The batch's own classes count (songs only: not the 30 min trainings):
	// 10 items × 2.3 calls at 2/s + 40 s = 51.5 s.
	out = b.mustRun("", "status", "--batch", "b1")
	for _, want := range []string{
		"ETA ≈ 52s (from the learned job durations)",
		"job durations learned from the service:\n  song: ≈ 40s (median of 20 recent jobs; 90% within 40s)\n  train-e30: ≈ 30m0s (median of 3 recent jobs; 90% within 30m0s)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	var st batchStatus
	if err := json.Unmarshal([]byte(b.mustRun("", "status", "--batch", "b1", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	if st.ETASeconds == nil || *st.ETASeconds != 51.5 || st.ETAFrom != "learned" {
		t.Errorf("status --json: eta %v from %q, want 51.5 from learned", st.ETASeconds, st.ETAFrom)
	}
}
