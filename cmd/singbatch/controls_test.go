package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
)

// `singbatch pause` holds a batch's items back on a running worker; `resume` sends them.
func TestPauseAndResumeCommands(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	b := newCLI(t, vars...)
	b.addSongs("w", "s1", "s2", "s3")
	if out := b.mustRun("", "pause", "--batch", "w"); !strings.Contains(out, "batch w paused") {
		t.Errorf("pause printed %q", out)
	}
	var stderr syncBuffer
	stop := b.startWorkerCommand(&stderr)
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for n := int64(0); n < 3; {
		if n, _ = b.rdb.SCard(t.Context(), keyspace.Keys{Prefix: b.prefix}.BatchParked("w")).Result(); time.Now().After(deadline) {
			t.Fatalf("%d items parked, want 3\n%s", n, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st := srv.Stats(); st.JobsCreated != 0 {
		t.Fatalf("%d jobs created while paused", st.JobsCreated)
	}
	if out := b.mustRun("", "status", "--batch", "w"); !strings.Contains(out, "paused (singbatch resume)") {
		t.Errorf("status of a paused batch: %q", out)
	}
	// The report says why each item waits.
	for line := range strings.Lines(b.mustRun("", "report", "--batch", "w")) {
		var r batch.ReportRow
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.Held != "paused" || r.State != batch.StatePending {
			t.Errorf("report line %q (%v): want a pending item held as paused", line, err)
		}
	}
	if out := b.mustRun("", "resume", "--batch", "w"); !strings.Contains(out, "3 parked items queued again") {
		t.Errorf("resume printed %q", out)
	}
	b.waitCompleted("w", 3, &stderr)
	if _, _, err := b.run(t.Context(), "", "pause"); !errors.As(err, new(usageError)) {
		t.Errorf("pause without --batch: %v, want a usage error", err)
	}
	if _, _, err := b.run(t.Context(), "", "pause", "--batch", "nope"); err == nil {
		t.Error("pausing an unknown batch succeeded")
	}
}

// `singbatch cancel` ends the items a running worker holds back; `retry --state
// canceled` takes them back and they complete. `enqueue --notify` needs NOTIFY_SECRET
// and an http(s) URL, and says so without echoing the URL.
func TestCancelCommandAndNotifyFlag(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	b := newCLI(t, vars...)
	b.addSongs("c", "s1", "s2", "s3")
	b.mustRun("", "pause", "--batch", "c")
	var stderr syncBuffer
	stop := b.startWorkerCommand(&stderr)
	defer stop()
	deadline := time.Now().Add(15 * time.Second)
	for n := int64(0); n < 3; {
		if n, _ = b.rdb.SCard(t.Context(), keyspace.Keys{Prefix: b.prefix}.BatchParked("c")).Result(); time.Now().After(deadline) {
			t.Fatalf("%d items parked, want 3\n%s", n, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if out := b.mustRun("", "cancel", "--batch", "c"); !strings.Contains(out, "3 items canceled") {
		t.Errorf("cancel printed %q", out)
	}
	if out := b.mustRun("", "status", "--batch", "c"); !strings.Contains(out, "3/3 done") || !strings.Contains(out, "canceled 3") {
		t.Errorf("status of a canceled batch: %q", out)
	}
	if st := srv.Stats(); st.JobsCreated != 0 {
		t.Fatalf("%d jobs created for a canceled batch", st.JobsCreated)
	}
	b.mustRun("", "resume", "--batch", "c")
	if out := b.mustRun("", "retry", "--batch", "c", "--state", "canceled"); !strings.Contains(out, "3 items retried") {
		t.Errorf("retry printed %q", out)
	}
	b.waitCompleted("c", 3, &stderr)

	manifest := filepath.Join(t.TempDir(), "n.jsonl")
	if err := os.WriteFile(manifest, []byte(`{"id":"n1","kind":"song","text":"la","contentId":"repo1"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const hook = "https://hooks.example/x?token=tok-S3CR3T"
	_, stderrOut, err := b.run(t.Context(), "", "enqueue", "--batch", "n", "--notify", hook, manifest)
	if !errors.As(err, new(usageError)) || !strings.Contains(err.Error(), "NOTIFY_SECRET") || strings.Contains(err.Error()+stderrOut, "tok-S3CR3T") {
		t.Errorf("--notify without NOTIFY_SECRET: %v (stderr %q)", err, stderrOut)
	}
	withSecret := newCLI(t, append(vars, "NOTIFY_SECRET=whsec_"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef")))...)
	if _, _, err := withSecret.run(t.Context(), "", "enqueue", "--batch", "n", "--notify", "ftp://x/y", manifest); !errors.As(err, new(usageError)) {
		t.Errorf("--notify ftp://: %v, want a usage error", err)
	}
}
