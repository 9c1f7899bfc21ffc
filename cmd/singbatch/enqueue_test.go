package main

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/tasks"
)

// mixedJSONL has every kind of line: valid songs (url, text, repository source, derived
// id), a training, a blank line, and invalid lines of each sort. Line 12 is valid but
// trains a model another batch is training.
const mixedJSONL = `{"id":"s-url","kind":"song","url":"https://cdn.example.com/a.mp3","contentId":"repo1"}
{"id":"s-text","kind":"song","text":"la la la","contentId":"repo1","model":"alice_v1"}
{"id":"s-src","kind":"song","source":{"contentId":"repo2","path":"/in/b.mp3"},"contentId":"repo1","separate":true}
{"id":"t-alice","kind":"train","model":"alice_v1","urls":["https://cdn.example.com/1.wav"]}
{"kind":"song","url":"https://cdn.example.com/c.mp3","contentId":"repo1"}

this is not json
{"id":"typo","kind":"song","modle":"default","url":"https://cdn.example.com/a.mp3","contentId":"repo1"}
{"id":"bad-url","kind":"song","url":"ftp://cdn.example.com/a.mp3"}
{"id":"s-url","kind":"song","url":"https://cdn.example.com/b.mp3","contentId":"repo1"}
{"id":"t-nomodel","kind":"train","urls":["https://cdn.example.com/d.wav"]}
{"id":"t-bob","kind":"train","model":"bob_v1","urls":["https://cdn.example.com/2.wav"]}
{"id":"k1","kind":"karaoke"}
{"id":"t-alice2","kind":"train","model":"alice_v1","urls":["https://cdn.example.com/3.wav"],"epochs":0}
`

const mixedCSV = `id,kind,model,url,urls,content_id,epochs
c-song,song,bob_v1,https://cdn.example.com/x.mp3,,repo1,
c-bad,song,,https://cdn.example.com/y.mp3,,,
c-train,train,carol_v1,,https://cdn.example.com/c1.wav https://cdn.example.com/c2.wav,,20
`

// derivedID is the id the reader derives for line 5 of mixedJSONL.
func cliDerivedID(t *testing.T) string {
	t.Helper()
	for it, err := range manifest.Read([]string{"-"}, strings.NewReader(mixedJSONL), manifest.FormatJSONL) {
		if err == nil && strings.HasSuffix(it.Origin, ":5") {
			return it.ID
		}
	}
	t.Fatal("line 5 yields no item")
	return ""
}

// mixedProblems is what enqueue prints on stderr for mixedJSONL and mixedCSV.
func mixedProblems(jsonl, csv string) string {
	return jsonl + `:7: line: invalid JSON: invalid character 'h' in literal true (expecting 'r') at byte 2
` + jsonl + `:8: modle: unknown field (did you mean "model"?)
` + jsonl + `:9: url: must be an absolute http(s) URL, not "ftp://cdn.example.com/a.mp3"
` + jsonl + `:9: contentId: required for generation jobs
` + jsonl + `:10: id: duplicate id "s-url" in this batch (first at ` + jsonl + `:1)
` + jsonl + `:11: model: required
` + jsonl + `:13: kind: must be "song" or "train", not "karaoke"
` + jsonl + `:14: epochs: must be between 1 and 50, not 0
` + jsonl + `:14: model: training model "alice_v1" already trained by an earlier line of this batch
` + jsonl + `:12: item t-bob: model: "bob_v1" is already being trained by batch other item t-bob; a model name can be trained once
` + csv + `:3: content_id: required for generation jobs
`
}

func TestEnqueueMixedManifests(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	ctx := t.Context()
	// Another batch trains bob_v1 already.
	other := b.write("other.jsonl", `{"id":"t-bob","kind":"train","model":"bob_v1","urls":["https://cdn.example.com/2.wav"]}`+"\n")
	b.mustRun("", "enqueue", "--batch", "other", other)

	jsonl, csv := b.write("mixed.jsonl", mixedJSONL), b.write("more.csv", mixedCSV)
	out, errOut, err := b.run(ctx, "", "enqueue", "--batch", "spring", jsonl, csv)
	if err == nil || err.Error() != "batch spring: 8 lines rejected, 1 training refused" {
		t.Errorf("error %v, want the rejections counted", err)
	}
	assertText(t, "stderr", errOut, mixedProblems(jsonl, csv))
	assertText(t, "stdout", out, "batch spring: 7 new, 0 already in batch, 8 rejected, 1 refused (model taken)\n"+
		"submit tasks: 7 enqueued, 0 already queued\n")

	k := cliDerivedID(t)
	assertList(t, "records", b.items("spring"), []string{
		"s-url pending 1 " + jsonl + ":1",
		"s-text pending 1 " + jsonl + ":2",
		"s-src pending 1 " + jsonl + ":3",
		"t-alice pending 1 " + jsonl + ":4",
		k + " pending 1 " + jsonl + ":5",
		"c-song pending 1 " + csv + ":2",
		"c-train pending 1 " + csv + ":4",
	})
	wantSongs := []string{
		submitEntry("spring", "c-song", 1), submitEntry("spring", k, 1), submitEntry("spring", "s-src", 1),
		submitEntry("spring", "s-text", 1), submitEntry("spring", "s-url", 1),
	}
	slices.Sort(wantSongs)
	assertList(t, "songs queue", b.queued(tasks.QueueSongs), wantSongs)
	assertList(t, "train queue", b.queued(tasks.QueueTrain), []string{
		submitEntry("other", "t-bob", 1), submitEntry("spring", "c-train", 1), submitEntry("spring", "t-alice", 1),
	})
	rec, err := b.store.Batch(ctx, "spring")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Total != 7 || rec.Counts[batch.StatePending] != 7 {
		t.Errorf("batch record total %d counts %v, want 7 pending", rec.Total, rec.Counts)
	}
	m, err := b.store.ModelState(ctx, "alice_v1")
	if err != nil || m.State != batch.ModelTraining || m.Batch != "spring" || m.Item != "t-alice" {
		t.Errorf("model alice_v1: %+v %v", m, err)
	}

	// Again: nothing new, nothing queued twice, the same problems.
	out, errOut, err = b.run(ctx, "", "enqueue", "--batch", "spring", jsonl, csv)
	if err == nil {
		t.Error("second run: rejected lines must still fail the run")
	}
	assertText(t, "second stderr", errOut, mixedProblems(jsonl, csv))
	assertText(t, "second stdout", out, "batch spring: 0 new, 7 already in batch, 8 rejected, 1 refused (model taken)\n"+
		"submit tasks: 0 enqueued, 7 already queued\n")
	if got := len(b.queued(tasks.QueueSongs)) + len(b.queued(tasks.QueueTrain)); got != 8 {
		t.Errorf("%d tasks after the second run, want 8", got)
	}
}

func TestEnqueueTwiceIsANoOp(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	path := b.write("songs.jsonl", cliSongLines("s", 1, 1200))
	out := b.mustRun("", "enqueue", "--batch", "b1", path)
	assertText(t, "first", out, "batch b1: 1200 new, 0 already in batch, 0 rejected\nsubmit tasks: 1200 enqueued, 0 already queued\n")
	before := withoutRuns(b.keys())
	out = b.mustRun("", "enqueue", "--batch", "b1", path)
	assertText(t, "second", out, "batch b1: 0 new, 1200 already in batch, 0 rejected\nsubmit tasks: 0 enqueued, 1200 already queued\n")
	// Only the second run's own record (an ended run) is new.
	after := b.keys()
	if runs := len(after) - len(withoutRuns(after)); runs != 2 {
		t.Errorf("%d enqueue run records, want 2", runs)
	}
	assertList(t, "keys after the second run", withoutRuns(after), before)
	if n := len(b.queued(tasks.QueueSongs)); n != 1200 {
		t.Errorf("%d tasks, want 1200", n)
	}

	// A second manifest, overlapping the first, adds only its new items.
	more := b.write("more.jsonl", cliSongLines("s", 1101, 200))
	out = b.mustRun("", "enqueue", "--batch", "b1", more)
	assertText(t, "overlapping manifest", out, "batch b1: 100 new, 100 already in batch, 0 rejected\nsubmit tasks: 100 enqueued, 100 already queued\n")
	rec, err := b.store.Batch(t.Context(), "b1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Total != 1300 || rec.Counts[batch.StatePending] != 1300 {
		t.Errorf("total %d, counts %v; want 1300 pending", rec.Total, rec.Counts)
	}
	if n := len(b.queued(tasks.QueueSongs)); n != 1300 {
		t.Errorf("%d tasks, want 1300", n)
	}
}

// A run that died between storing records and enqueueing tasks leaves pending items
// without tasks; the next enqueue queues them, at their current attempt, and leaves
// items that have moved on alone.
func TestEnqueueRequeuesPendingItems(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	ctx := t.Context()
	path := b.write("songs.jsonl", cliSongLines("s", 1, 4))
	var items []batch.Item
	for it, err := range manifest.Read([]string{path}, nil, manifest.FormatAuto) {
		if err != nil {
			t.Fatal(err)
		}
		items = append(items, it)
	}
	if _, err := b.store.AddItems(ctx, "b1", path, items); err != nil { // the records, no task
		t.Fatal(err)
	}
	move := func(id string, attempt int, to batch.State, u batch.Update) {
		t.Helper()
		if ok, _, err := b.store.Transition(ctx, "b1", id, attempt, nil, to, u); !ok || err != nil {
			t.Fatalf("%s to %s: %v %v", id, to, ok, err)
		}
	}
	move("s-0002", 1, batch.StateSubmitting, batch.Update{CustomID: "c2"})
	move("s-0003", 1, batch.StateFailed, batch.Update{Error: "boom"})
	if ok, _, err := b.store.NewAttempt(ctx, "b1", "s-0003", batch.StateFailed); !ok || err != nil {
		t.Fatal(ok, err)
	}
	out := b.mustRun("", "enqueue", "--batch", "b1", path)
	assertText(t, "stdout", out, "batch b1: 0 new, 4 already in batch, 0 rejected\nsubmit tasks: 3 enqueued, 0 already queued\n")
	assertList(t, "songs queue", b.queued(tasks.QueueSongs), []string{
		submitEntry("b1", "s-0001", 1), submitEntry("b1", "s-0003", 2), submitEntry("b1", "s-0004", 1),
	})
}

func TestEnqueueStrictWritesNothing(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	ctx := t.Context()
	jsonl, csv := b.write("mixed.jsonl", mixedJSONL), b.write("more.csv", mixedCSV)
	for _, args := range [][]string{
		{"enqueue", "--strict", "--batch", "spring", jsonl, csv},
		{"enqueue", "--batch", "spring", "--format", "jsonl", "-", "--strict"},
	} {
		stdin := ""
		if slices.Contains(args, "-") {
			stdin = mixedJSONL
		}
		out, errOut, err := b.run(ctx, stdin, args...)
		if err == nil || !strings.Contains(err.Error(), "lines rejected") {
			t.Errorf("%v: error %v", args, err)
		}
		if !strings.HasPrefix(out, "batch spring: nothing written (--strict): ") {
			t.Errorf("%v: stdout %q", args, out)
		}
		if !strings.Contains(errOut, ":9: contentId: required for generation jobs\n") {
			t.Errorf("%v: stderr lacks the problems:\n%s", args, errOut)
		}
	}
	assertList(t, "keys", b.keys(), nil)

	// A training whose model another batch holds stops a strict run too, before writing.
	other := b.write("other.jsonl", `{"id":"t-bob","kind":"train","model":"bob_v1","urls":["https://cdn.example.com/2.wav"]}`+"\n")
	b.mustRun("", "enqueue", "--batch", "other", other)
	before := b.keys()
	clash := b.write("clash.jsonl", cliSongLines("s", 1, 3)+`{"id":"t-bob2","kind":"train","model":"bob_v1","urls":["https://cdn.example.com/3.wav"]}`+"\n")
	out, errOut, err := b.run(ctx, "", "enqueue", "--strict", "--batch", "spring", clash)
	if err == nil || err.Error() != "batch spring: 1 training refused" {
		t.Errorf("clash: error %v", err)
	}
	assertText(t, "clash stdout", out, "batch spring: nothing written (--strict): 0 rejected, 1 refused\n")
	assertText(t, "clash stderr", errOut, clash+`:4: item t-bob2: model: "bob_v1" is already being trained by batch other item t-bob; a model name can be trained once`+"\n")
	assertList(t, "keys after the refused strict run", b.keys(), before)

	// A valid manifest on standard input goes through both passes.
	out = b.mustRun(cliSongLines("s", 1, 3), "enqueue", "--strict", "--batch", "spring", "--format", "jsonl", "-")
	assertText(t, "valid stdin", out, "batch spring: 3 new, 0 already in batch, 0 rejected\nsubmit tasks: 3 enqueued, 0 already queued\n")
	assertList(t, "records from stdin", b.items("spring"), []string{
		"s-0001 pending 1 stdin:1", "s-0002 pending 1 stdin:2", "s-0003 pending 1 stdin:3",
	})
}

func TestEnqueueDryRun(t *testing.T) {
	t.Parallel()
	b := newCLI(t, "UPSTREAM_RATE=2")
	jsonl, csv := b.write("mixed.jsonl", mixedJSONL), b.write("more.csv", mixedCSV)
	out, errOut, err := b.run(t.Context(), "", "enqueue", "--dry-run", "--batch", "spring", jsonl, csv)
	if err == nil || err.Error() != "batch spring: 8 lines rejected" {
		t.Errorf("error %v", err)
	}
	// Without Redis, the taken model of line 12 is not known: only the lines' problems.
	// The reader's own duplicate check keeps only hashes: it cannot name the first line.
	wantErr := strings.Replace(mixedProblems(jsonl, csv),
		jsonl+`:12: item t-bob: model: "bob_v1" is already being trained by batch other item t-bob; a model name can be trained once`+"\n", "", 1)
	wantErr = strings.Replace(wantErr, " (first at "+jsonl+":1)", "", 1)
	assertText(t, "stderr", errOut, wantErr)
	assertText(t, "plan", out, `batch spring: dry run, nothing written
  items           8: 5 songs, 3 trainings
  rejected lines  8
  models trained  3: alice_v1, bob_v1, carol_v1
  models used     3: default (3 songs, built in), alice_v1 (1 song, trained here), bob_v1 (1 song, trained here)
  upstream calls  ≈ 19: 8 CreateJob (1 per item) + ≈ 11 GetJob (1.3 per item)
  request time    ≈ 10s at UPSTREAM_RATE 2/s (19 calls ÷ 2/s); the jobs' own run time comes on top
  polls estimate  the worker polls a job first at the 90th percentile of the durations it learned for
                  its class, which finds most done; the rest need a second poll (≈ 1.1 per job). 1.3 adds a
                  margin for the scouts of a class not learned yet, and for reconciliation.
  job durations   song: 4 items, not learned yet (its first jobs find out)
                  song-separate: 1 item, not learned yet (its first jobs find out)
                  train-e20: 1 item, not learned yet (its first jobs find out)
                  train-e30: 2 items, not learned yet (its first jobs find out)
`)
	assertList(t, "keys", b.keys(), nil)

	// A clean manifest: exit status 0.
	path := b.write("songs.jsonl", cliSongLines("s", 1, 1000))
	out = b.mustRun("", "enqueue", "--dry-run", "--batch", "b1", path)
	if !strings.Contains(out, "  upstream calls  ≈ 2300: 1000 CreateJob (1 per item) + ≈ 1300 GetJob (1.3 per item)\n") ||
		!strings.Contains(out, "  request time    ≈ 19m10s at UPSTREAM_RATE 2/s (2300 calls ÷ 2/s)") {
		t.Errorf("plan of 1000 songs:\n%s", out)
	}
	assertList(t, "keys", b.keys(), nil)
}

// Two enqueues of the same manifest at once store each item once, and queue each task once.
func TestEnqueueConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	path := b.write("songs.jsonl", cliSongLines("s", 1, 1200))
	outs := make([]string, 2)
	var wg sync.WaitGroup
	for i := range outs {
		wg.Go(func() {
			out, errOut, err := b.run(t.Context(), "", "enqueue", "--batch", "b1", path)
			if err != nil {
				t.Errorf("run %d: %v\n%s", i, err, errOut)
			}
			outs[i] = out
		})
	}
	wg.Wait()
	t.Logf("outputs: %q", outs)
	re := regexp.MustCompile(`^batch b1: (\d+) new, (\d+) already in batch, 0 rejected\nsubmit tasks: (\d+) enqueued, (\d+) already queued\n$`)
	var added, existing, queued, already int
	for i, out := range outs {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("run %d: %q", i, out)
		}
		var a, e, q, al int
		fmt.Sscan(m[1]+" "+m[2]+" "+m[3]+" "+m[4], &a, &e, &q, &al)
		added, existing, queued, already = added+a, existing+e, queued+q, already+al
	}
	if added != 1200 || existing != 1200 || queued != 1200 {
		t.Errorf("together: %d new, %d existing, %d queued; want 1200 each (outputs %q)", added, existing, queued, outs)
	}
	rec, err := b.store.Batch(t.Context(), "b1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Total != 1200 || rec.Counts[batch.StatePending] != 1200 {
		t.Errorf("total %d counts %v, want 1200 pending", rec.Total, rec.Counts)
	}
	if got := b.queued(tasks.QueueSongs); len(got) != 1200 || len(slices.Compact(got)) != 1200 {
		t.Errorf("%d tasks queued, want 1200 distinct", len(got))
	}
}

func TestEnqueueUsage(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	path := b.write("songs.jsonl", cliSongLines("s", 1, 1))
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"enqueue", path}, "enqueue: --batch is required"},
		{[]string{"enqueue", "--batch", "a:b", path}, `enqueue: --batch: batch name "a:b": only ASCII letters, digits, '_', '-' and '.' are allowed`},
		{[]string{"enqueue", "--batch", "b1"}, "enqueue: no manifest given (FILE..., or - for standard input)"},
		{[]string{"enqueue", "--batch", "b1", "--format", "xml", path}, `enqueue: --format: unknown manifest format "xml": use jsonl or csv`},
		{[]string{"enqueue", "--batch", "b1", "--priority", "urgent", path}, `enqueue: --priority: priority "urgent": must be high, normal or low`},
		{[]string{"enqueue", "--batch", "b1", "--max-jobs", "-1", path}, "enqueue: --max-jobs -1: must not be negative (0: no cap)"},
	} {
		_, _, err := b.run(t.Context(), "", tc.args...)
		var u usageError
		if !errors.As(err, &u) || err.Error() != tc.want {
			t.Errorf("%v: error %v, want usage error %q", tc.args, err, tc.want)
		}
	}
	// Errors that are not about the command line.
	missing := b.dir + "/missing.jsonl"
	out, _, err := b.run(t.Context(), "", "enqueue", "--batch", "b1", path, missing)
	if err == nil || !strings.Contains(err.Error(), missing) || out != "" {
		t.Errorf("missing file: %v, stdout %q", err, out)
	}
	assertList(t, "keys after failed runs", b.keys(), nil)
	canceled, cancel := context.WithCancel(t.Context())
	cancel()
	_, _, err = b.run(canceled, "", "enqueue", "--batch", "b1", path)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "run the same command again to finish") {
		t.Errorf("interrupted: %v", err)
	}
}

// An empty manifest (no byte, a BOM only, a CSV header only) is no error: it adds
// nothing, says so, and stores nothing.
func TestEnqueueEmptyManifest(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	for _, tc := range []struct{ name, content string }{
		{"empty.jsonl", ""}, {"bom.jsonl", "\uFEFF"}, {"header.csv", "id,kind,url,content_id\n"},
	} {
		out, errOut, err := b.run(t.Context(), "", "enqueue", "--batch", "b1", b.write(tc.name, tc.content))
		if err != nil || errOut != "" {
			t.Errorf("%s: %v, stderr %q", tc.name, err, errOut)
		}
		assertText(t, tc.name, out, "batch b1: 0 new, 0 already in batch, 0 rejected\nsubmit tasks: 0 enqueued, 0 already queued\n")
	}
	out, _, err := b.run(t.Context(), "", "enqueue", "--batch", "b2", "--strict", "-")
	if err != nil || !strings.HasPrefix(out, "batch b2: 0 new") {
		t.Errorf("empty stdin, strict: %v, stdout %q", err, out)
	}
	// Nothing to store, so nothing is: no empty batch is left behind, only each run's
	// own record (kept a while so that a re-run is recognised).
	var stored []string
	for _, k := range b.keys() {
		if !strings.Contains(k, ":enqueue-run:") {
			stored = append(stored, k)
		}
	}
	assertList(t, "keys", stored, nil)
}

// Standard input's format is told from its content; --format still forces it.
func TestEnqueueStdinFormatFromContent(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	jsonl := "\n  " + cliSongLines("j", 1, 2)
	csv := "id,kind,url,content_id\nc-1,song,https://cdn.example.com/1.mp3,repo1\n"
	for _, strict := range []string{"", "--strict"} {
		name := "plain" + strict
		args := []string{"enqueue", "--batch", name, "-"}
		if strict != "" {
			args = append(args, strict)
		}
		b.mustRun(jsonl, args...)
		b.mustRun(csv, args...)
		assertList(t, name+" records", b.items(name), []string{
			"j-0001 pending 1 stdin:2", "j-0002 pending 1 stdin:3", "c-1 pending 1 stdin:2",
		})
	}
	// Forced: JSON read as CSV is a bad line, not a guess.
	_, errOut, err := b.run(t.Context(), cliSongLines("f", 1, 1), "enqueue", "--batch", "forced", "--format", "csv", "-")
	if err == nil || !strings.Contains(errOut, "stdin:1: line: invalid CSV") {
		t.Errorf("forced csv: %v, stderr %q", err, errOut)
	}
}

// With credentials, enqueue and its dry run reject trainings of names the service has,
// before anything is queued; songs on those models go on.
func TestEnqueueRejectsNamesTheServiceHas(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	if err := srv.AddModel("taken_v1", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	b := newCLI(t, vars...)
	path := b.write("m.jsonl", `{"id":"t1","kind":"train","model":"taken_v1","urls":["https://cdn.example.com/1.wav"]}
{"id":"t2","kind":"train","model":"fresh_v1","urls":["https://cdn.example.com/1.wav"]}
{"id":"s1","kind":"song","url":"https://cdn.example.com/1.mp3","contentId":"r","model":"taken_v1"}
`)
	want := path + `:1: model: "taken_v1" already exists at the service (ListModels); a model name can be trained once` + "\n"
	out, errOut, err := b.run(t.Context(), "", "enqueue", "--dry-run", "--batch", "b1", path)
	if err == nil || errOut != want || !strings.Contains(out, "items           2: 1 song, 1 training") {
		t.Errorf("dry run: %v\nstderr %q\nstdout %s", err, errOut, out)
	}
	_, errOut, err = b.run(t.Context(), "", "enqueue", "--strict", "--batch", "b1", path)
	if _, berr := b.store.Batch(t.Context(), "b1"); err == nil || errOut != want || !errors.Is(berr, batch.ErrBatchNotFound) {
		t.Errorf("enqueue --strict: %v, stderr %q, batch %v (want nothing written)", err, errOut, berr)
	}
	_, errOut, err = b.run(t.Context(), "", "enqueue", "--batch", "b1", path)
	if err == nil || errOut != want {
		t.Errorf("enqueue: %v, stderr %q", err, errOut)
	}
	assertList(t, "records", b.items("b1"), []string{"t2 pending 1 " + path + ":2", "s1 pending 1 " + path + ":3"})

	// Once t2 has trained fresh_v1, the service lists it: a dry run of the same batch
	// finds its own training, one of another batch still sees the name taken.
	ctx := t.Context()
	for _, to := range []batch.State{batch.StateSubmitting, batch.StateSubmitted, batch.StateCompleted} {
		if ok, _, err := b.store.Transition(ctx, "b1", "t2", 1, nil, to, batch.Update{TrainedModel: "fresh_v1"}); !ok || err != nil {
			t.Fatalf("t2 to %s: %v %v", to, ok, err)
		}
	}
	if err := srv.AddModel("fresh_v1", time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err = b.run(ctx, "", "enqueue", "--dry-run", "--batch", "b1", path); err == nil || errOut != want {
		t.Errorf("dry run again after t2 trained fresh_v1: %v, stderr %q; want only line 1 rejected", err, errOut)
	}
	_, errOut, _ = b.run(ctx, "", "enqueue", "--dry-run", "--batch", "b2", path)
	if !strings.Contains(errOut, path+`:2: model: "fresh_v1" already exists at the service`) {
		t.Errorf("dry run of another batch: stderr %q; want fresh_v1 rejected", errOut)
	}
}

// withoutRuns drops the enqueue runs' records (keyspace.Keys.EnqueueRun) from keys.
func withoutRuns(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !strings.Contains(k, ":enqueue-run:") {
			out = append(out, k)
		}
	}
	return out
}
