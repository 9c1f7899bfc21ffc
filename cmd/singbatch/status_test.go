package main

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
)

// statusFixture enqueues two batches and moves some items of b1 along: of 4 songs and
// 1 training, 2 completed, 1 failed, 1 submitted, 1 pending; 4 jobs, 10 calls.
func statusFixture(t *testing.T) *cliBundle {
	t.Helper()
	b := newCLI(t)
	songs := b.write("songs.jsonl", cliSongLines("s", 1, 4)+
		`{"id":"t1","kind":"train","model":"alice_v1","urls":["https://cdn.example.com/1.wav"]}`+"\n")
	b.mustRun("", "enqueue", "--batch", "b1", songs)
	b.mustRun("", "enqueue", "--batch", "b2", b.write("b2.jsonl", cliSongLines("x", 1, 2)))
	ctx := t.Context()
	move := func(id string, to batch.State, u batch.Update) {
		t.Helper()
		if ok, _, err := b.store.Transition(ctx, "b1", id, 1, nil, to, u); !ok || err != nil {
			t.Fatalf("%s to %s: %v %v", id, to, ok, err)
		}
	}
	for _, id := range []string{"s-0001", "s-0002", "s-0003", "t1"} {
		// Claimed as a worker claims: each counts a job.
		if o, _, err := b.store.Claim(ctx, "b1", id, 1, "c-"+id, batch.ClaimCaps{}); o != batch.Claimed || err != nil {
			t.Fatalf("claim %s: %v %v", id, o, err)
		}
		move(id, batch.StateSubmitted, batch.Update{JobID: "job-" + id})
	}
	for range 10 { // 10 calls over the 3 jobs that ended
		if err := b.store.AddCall(ctx, "b1", "s-0001"); err != nil {
			t.Fatal(err)
		}
	}
	move("s-0001", batch.StateCompleted, batch.Update{SongName: "out.mp3", OutputRepository: "repo1", OutputPath: "/singbatch/s-0001/out.mp3"})
	move("t1", batch.StateCompleted, batch.Update{TrainedModel: "alice_v1"})
	move("s-0002", batch.StateFailed, batch.Update{Error: "job ended in ERROR: bad audio"})
	return b
}

// cliVarying masks what depends on the clock.
var cliVarying = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`rate [0-9.]+/s`), "rate R/s"},
	{regexp.MustCompile(`ETA [0-9hms.]+`), "ETA E"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "TIME"},
}

func cliMask(s string) string {
	for _, v := range cliVarying {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

func TestStatus(t *testing.T) {
	t.Parallel()
	b := statusFixture(t)
	songs, b2 := b.dir+"/songs.jsonl", b.dir+"/b2.jsonl"

	out := b.mustRun("", "status", "--batch", "b1")
	assertText(t, "status --batch b1", cliMask(out), `batch b1: 3/5 done (60.0%), rate R/s (average since created), ETA E
  pending 1 waiting 0 submitting 0 submitted 1 completed 2 failed 1 canceled 0
  jobs created 4, upstream calls 10 (3.33 per finished job)
  last 5 minutes: 0.6 items/min, 0.03 req/s of the account's 5 (UPSTREAM_RATE)
  manifest `+songs+`: 5 added, 0 found already in batch, 0 refused, over all reads (last TIME)
`)

	out = b.mustRun("", "status")
	assertText(t, "status", cliMask(out), `batch b1: 3/5 done (60.0%), rate R/s (average since created), ETA E
  pending 1 waiting 0 submitting 0 submitted 1 completed 2 failed 1 canceled 0
  jobs created 4, upstream calls 10 (3.33 per finished job)
  last 5 minutes: 0.6 items/min, 0.03 req/s of the account's 5 (UPSTREAM_RATE)
  manifest `+songs+`: 5 added, 0 found already in batch, 0 refused, over all reads (last TIME)
batch b2: 0/2 done (0.0%), rate R/s (average since created), ETA unknown
  pending 2 waiting 0 submitting 0 submitted 0 completed 0 failed 0 canceled 0
  jobs created 0, upstream calls 0
  manifest `+b2+`: 2 added, 0 found already in batch, 0 refused, over all reads (last TIME)
`)

	var one batchStatus
	if err := json.Unmarshal([]byte(b.mustRun("", "status", "--batch", "b1", "--json")), &one); err != nil {
		t.Fatal(err)
	}
	if one.Batch != "b1" || one.Total != 5 || one.Done != 3 || one.Finished || one.Rate <= 0 || one.ETASeconds == nil ||
		one.Counts["completed"] != 2 || one.Counts["failed"] != 1 || one.Counts["pending"] != 1 || one.Counts["submitted"] != 1 ||
		len(one.Manifests) != 1 || one.Manifests[0].File != songs || one.Manifests[0].Added != 5 {
		t.Errorf("status --json: %+v", one)
	}
	var all []batchStatus
	if err := json.Unmarshal([]byte(b.mustRun("", "status", "--json")), &all); err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Batch != "b1" || all[1].Batch != "b2" || all[1].Done != 0 || all[1].Counts["pending"] != 2 {
		t.Errorf("status --json: %+v", all)
	}

	_, _, err := b.run(t.Context(), "", "status", "--batch", "nope")
	if err == nil || err.Error() != "batch nope: batch not found" {
		t.Errorf("unknown batch: %v", err)
	}
}

func TestStatusEmpty(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	assertText(t, "status", b.mustRun("", "status"), "no batches\n")
	assertText(t, "status --json", b.mustRun("", "status", "--json"), "[]\n")
	assertText(t, "status --watch", b.mustRun("", "status", "--watch"), "no batches\n")
}

// --watch on a pipe prints a line whenever the counts change and ends once every item
// is final.
func TestStatusWatchPlain(t *testing.T) {
	t.Parallel()
	b := statusFixture(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, b.env("", &out, &errOut), []string{"status", "--watch", "--batch", "b1", "--interval", "20ms"})
	}()
	cliWaitFor(t, func() bool { return strings.Contains(out.String(), "3/5") })
	finish := func(id string) {
		t.Helper()
		if ok, _, err := b.store.Transition(ctx, "b1", id, 1, nil, batch.StateCompleted, batch.Update{}); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	finish("s-0003")
	cliWaitFor(t, func() bool { return strings.Contains(out.String(), "4/5") })
	finish("s-0004")
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
	case <-ctx.Done():
		t.Fatalf("watch did not end when the batch was done; output:\n%s", out.String())
	}
	lines := strings.Split(strings.TrimSuffix(cliMask(out.String()), "\n"), "\n")
	want := []string{
		"TIME b1  3/5 done (60.0%)  1 failed  0/s  ETA unknown",
		"TIME b1  4/5 done (80.0%)  1 failed  R/s  ETA E",
		"TIME b1  5/5 done (100.0%)  1 failed  finished",
	}
	// The first line's rate is the average since creation; later ones are measured.
	lines[0] = regexp.MustCompile(`  [0-9.]+/s  ETA \S+$`).ReplaceAllString(lines[0], "  0/s  ETA unknown")
	lines[1] = regexp.MustCompile(`  [0-9.]+/s  ETA \S+$`).ReplaceAllString(lines[1], "  R/s  ETA E")
	assertList(t, "watch lines", lines, want)
	if strings.Contains(out.String(), "\x1b") {
		t.Error("escape sequences on a pipe")
	}
}

// On a terminal the bars are redrawn in place; ctx ending stops the watch cleanly.
func TestStatusWatchTerminal(t *testing.T) {
	t.Parallel()
	b := statusFixture(t)
	var out syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	v := &statusView{store: b.store, flags: statusFlags{interval: 10 * time.Millisecond}, now: time.Now, out: &out}
	done := make(chan error, 1)
	go func() { done <- v.watch(ctx, true) }()
	cliWaitFor(t, func() bool { return strings.Count(out.String(), "\x1b[2A") >= 2 })
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("watch: %v", err)
	}
	s := out.String()
	first, rest, _ := strings.Cut(s, "\x1b[2A")
	if !regexp.MustCompile(`^\r\x1b\[Kb1 \[##################------------\]  3/5   60\.0%  1 failed  [0-9.]+/s  ETA \S+\n` +
		`\r\x1b\[Kb2 \[------------------------------\]  0/2    0\.0%  [0-9.]+/s  ETA \S+\n$`).MatchString(first) {
		t.Errorf("first frame %q", first)
	}
	if !strings.HasPrefix(rest, "\r\x1b[Kb1 [") {
		t.Errorf("redraw %q", rest)
	}
}

func TestStatusUsage(t *testing.T) {
	t.Parallel()
	var out, errOut bytes.Buffer
	e := env{stdout: &out, stderr: &errOut, environ: func() []string { return nil }}
	for args, want := range map[string]string{
		"--interval 0":  "status: --interval must be positive, not 0s",
		"--batch a:b":   `status: --batch: batch name "a:b": only ASCII letters, digits, '_', '-' and '.' are allowed`,
		"extra":         `status: unexpected argument "extra"`,
		"--bogus":       "flag provided but not defined: -bogus",
		"--interval xx": `invalid value "xx" for flag -interval: parse error`,
	} {
		_, err := parseStatusFlags(e, strings.Fields(args))
		if _, ok := err.(usageError); !ok || err.Error() != want {
			t.Errorf("%s: %v, want usage error %q", args, err, want)
		}
	}
}

func cliWaitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
