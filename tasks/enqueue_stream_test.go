package tasks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
)

// waitState waits until every listed item of a batch is in state.
func (b *bundle) waitState(batchName string, want batch.State, ids ...string) {
	b.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, id := range ids {
		for {
			rec, err := b.store.Item(context.Background(), batchName, id)
			if err == nil && rec.State == want {
				break
			}
			if time.Now().After(deadline) {
				b.dumpItems(batchName)
				b.t.Fatalf("%s/%s is %s (%v), want %s", batchName, id, rec.State, err, want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// streamEnqueue runs Enqueue on a manifest streamed through a pipe; write sends lines
// to it, and the returned wait closes the stream and returns Enqueue's error.
func (b *bundle) streamEnqueue(batchName string, lease time.Duration) (write func(string), wait func() error) {
	b.t.Helper()
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		_, err := Enqueue(context.Background(), b.store, asynq.NewClientFromRedisClient(b.rdb),
			EnqueueOptions{Batch: batchName, Manifests: []string{"-"}, Stdin: pr, RunLease: lease})
		done <- err
	}()
	write = func(lines string) {
		if _, err := io.WriteString(pw, strings.ReplaceAll(lines, "AUDIO", b.audio.URL)); err != nil {
			b.t.Fatal(err)
		}
	}
	return write, func() error {
		_ = pw.Close()
		return <-done
	}
}

// songsOn is n JSONL songs on a model.
func songsOn(prefix, model string, n int) (string, []string) {
	var m strings.Builder
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("%s%03d", prefix, i)
		fmt.Fprintf(&m, `{"id":"%s","kind":"song","model":"%s","text":"la","contentId":"repo1"}`+"\n", ids[i], model)
	}
	return m.String(), ids
}

// Songs streamed before the line that trains their model wait for the rest of their
// run, then for the training, and complete; songs on a model nothing trains fail once
// the run has ended.
func TestSongsBeforeTheirTrainingInAStream(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.start()
	write, wait := b.streamEnqueue("b", time.Minute)
	orphans, orphanIDs := songsOn("orphan", "nobody_v1", 3)
	early, earlyIDs := songsOn("early", "late_v1", enqueueChunk-3+20)
	write(orphans + early) // one chunk stored, 20 songs still in the reader
	// The worker has seen the stored ones, and none failed: they wait for the rest of
	// the run.
	b.waitState("b", batch.StateWaiting, append(append([]string{}, orphanIDs...), earlyIDs[:enqueueChunk-3]...)...)
	write(`{"id":"t1","kind":"train","model":"late_v1","urls":["AUDIO/voice.wav"],"epochs":1}` + "\n")
	if err := wait(); err != nil {
		t.Fatal(err)
	}
	rec := b.waitDone("b", 30*time.Second)
	if rec.Counts[batch.StateCompleted] != int64(len(earlyIDs))+1 || rec.Counts[batch.StateFailed] != int64(len(orphanIDs)) {
		b.dumpItems("b")
		t.Fatalf("counts %v, want %d completed and %d failed", rec.Counts, len(earlyIDs)+1, len(orphanIDs))
	}
	if r := b.item("b", orphanIDs[0]); !strings.HasPrefix(r.Error, "model nobody_v1: not found") {
		t.Errorf("orphan error %q", r.Error)
	}
}

// A run that dies without ending leaves its songs waiting only until its lease runs out.
func TestSongsOfACrashedRunAreDecided(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.start()
	ctx := context.Background()
	// As a run that stored its songs and died: open with a short lease, never ended.
	if err := b.store.OpenRun(ctx, "dead-run", 2*time.Second); err != nil {
		t.Fatal(err)
	}
	lines, ids := songsOn("s", "ghost_v1", 3)
	items := b.addManifestRun("b", lines, "dead-run")
	b.enqueueAll("b")
	b.waitState("b", batch.StateWaiting, ids...)
	rec := b.waitDone("b", 30*time.Second)
	if rec.Counts[batch.StateFailed] != int64(len(items)) {
		t.Fatalf("counts %v, want all failed once the run is known gone", rec.Counts)
	}
}

// addManifestRun stores a manifest's items as one enqueue run.
func (b *bundle) addManifestRun(batchName, jsonl, run string) []batch.Item {
	b.t.Helper()
	var items []batch.Item
	for it, err := range manifest.Read([]string{"-"}, strings.NewReader(jsonl), manifest.FormatJSONL) {
		if err != nil {
			b.t.Fatalf("manifest: %v", err)
		}
		items = append(items, it)
	}
	if _, err := b.store.AddItems(context.Background(), batchName, "-", items, batch.AddRun(run)); err != nil {
		b.t.Fatal(err)
	}
	return items
}
