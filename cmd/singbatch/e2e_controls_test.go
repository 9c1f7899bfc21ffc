package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// runCLI runs the built binary once with the workers' environment.
func (b *e2eBundle) runCLI(args ...string) string {
	b.t.Helper()
	cmd := exec.Command(b.bin, args...)
	cmd.Env = b.vars
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.t.Fatalf("singbatch %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The operator's controls against three worker processes, through the command line:
// a cap is exact (while a tenth of CreateJob answers are lost and a worker is killed
// mid-way), pause holds CreateJob at zero while the cap is lifted, resume lets the
// rest go, and the batch's end is announced once, signed.
func TestControlsAcrossWorkerProcesses(t *testing.T) {
	t.Parallel()
	const songs, capJobs = 60, 20
	key := []byte("e2e-notify-key-0123456789abcdef!")
	secret := "whsec_" + base64.StdEncoding.EncodeToString(key)
	var (
		mu       sync.Mutex
		received []*http.Request
		bodies   [][]byte
	)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		received, bodies = append(received, r), append(bodies, body)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)

	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 41, Faults: sim.Faults{LoseCreate: 0.1}},
		"UPSTREAM_RATE=50", "NOTIFY_SECRET="+secret)
	manifest := b.songsManifest("ctl", songs)
	b.runCLI("enqueue", "--batch", "ctl", "--max-jobs", "20", "--notify", hook.URL+"/done?token=tok-S3CR3T", manifest)
	victim := b.startWorker("w1")
	b.startWorker("w2")
	b.startWorker("w3")
	b.waitFor("ctl", 60*time.Second, "5 jobs", func(r batch.BatchRecord) bool { return r.Jobs >= 5 })
	victim.kill()
	b.startWorker("w1-again")

	// The killed worker's tasks come back when Asynq finds its lease expired (about a
	// minute), hence the long wait.
	rec := b.waitFor("ctl", 150*time.Second, "at its cap", func(r batch.BatchRecord) bool {
		return r.Counts[batch.StateCompleted] == capJobs && r.Parked == songs-capJobs
	})
	if created := b.sim.Stats().JobsCreated; created != capJobs || rec.Jobs != capJobs {
		t.Fatalf("cap %d: %d jobs at the service, %d counted", capJobs, created, rec.Jobs)
	}
	t.Logf("at the cap: %d jobs, %d CreateJob answers lost", capJobs, b.sim.Stats().Count(upstream.ActionCreateJob, sim.OutcomeLost))
	if out := b.runCLI("status", "--batch", "ctl"); !strings.Contains(out, "40 items held back: the batch's job cap") {
		t.Errorf("status at the cap:\n%s", out)
	}

	// Paused, then the cap lifted: the parked items are queued again, and park again.
	b.runCLI("pause", "--batch", "ctl")
	b.runCLI("enqueue", "--batch", "ctl", "--max-jobs", "0", manifest)
	time.Sleep(2 * time.Second) // long enough for every worker to have taken the queued items
	if created := b.sim.Stats().JobsCreated; created != capJobs {
		t.Fatalf("paused: %d jobs created, want still %d", created, capJobs)
	}
	if rec, _ := b.store.Batch(t.Context(), "ctl"); rec.Parked != songs-capJobs {
		t.Errorf("paused: %d items parked, want %d", rec.Parked, songs-capJobs)
	}

	b.runCLI("resume", "--batch", "ctl")
	rec = b.waitDone("ctl", 60*time.Second)
	if rec.Counts[batch.StateCompleted] != songs || b.sim.Stats().JobsCreated != songs || len(b.sim.Stats().PaidTwice) > 0 {
		t.Fatalf("after resume: %v, %d jobs created", rec.Counts, b.sim.Stats().JobsCreated)
	}

	// One notification, signed with the secret.
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(received)
		mu.Unlock()
		if n > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a second delivery would come now
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 {
		t.Fatalf("%d notifications, want 1", len(received))
	}
	r, body := received[0], bodies[0]
	id, ts := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(id + "." + ts + "." + string(body)))
	if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); r.Header.Get("webhook-signature") != want || r.URL.Query().Get("token") != "tok-S3CR3T" {
		t.Errorf("notification: signature %q (want %q), token %q", r.Header.Get("webhook-signature"), want, r.URL.Query().Get("token"))
	}
	var note struct {
		Data struct {
			Batch  string           `json:"batch"`
			Counts map[string]int64 `json:"counts"`
			Jobs   int64            `json:"jobs"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &note); err != nil || note.Data.Batch != "ctl" || note.Data.Counts["completed"] != songs || note.Data.Jobs != songs {
		t.Errorf("notification body %s (%v)", body, err)
	}
	b.assertNoSecretInLogs()
	for _, w := range b.workers {
		if logs := e2eTail(w.logFile, 1<<20); strings.Contains(logs, "tok-S3CR3T") {
			t.Errorf("%s logged the notification URL's token", w.name)
		}
	}
}
