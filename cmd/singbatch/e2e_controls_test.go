package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
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

	// Every CreateJob answer is lost at first, so that the cap is shown to hold with
	// lost answers; a tenth of them once two were.
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 41, Faults: sim.Faults{LoseCreate: 1}},
		"UPSTREAM_RATE=50", "NOTIFY_SECRET="+secret)
	lost := func() int { return b.sim.Stats().Count(upstream.ActionCreateJob, sim.OutcomeLost) }
	manifest := b.songsManifest("ctl", songs)
	b.runCLI("enqueue", "--batch", "ctl", "--max-jobs", "20", "--notify", hook.URL+"/done?token=tok-S3CR3T", manifest)
	victim := b.startWorker("w1")
	b.startWorker("w2")
	b.startWorker("w3")
	b.waitFor("ctl", 60*time.Second, "2 CreateJob answers lost", func(batch.BatchRecord) bool { return lost() >= 2 })
	if err := b.sim.SetFaults(sim.Faults{LoseCreate: 0.1}); err != nil {
		t.Fatal(err)
	}
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
	t.Logf("at the cap: %d jobs, %d CreateJob answers lost", capJobs, lost())
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
	got, gotBodies := received, bodies
	mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("%d notifications, want 1", len(got))
	}
	r, body := got[0], gotBodies[0]
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

	pauseAndCancelWhileSending(b, songs)

	b.assertNoSecretInLogs()
	for _, w := range b.workers {
		logs := e2eTail(w.logFile, 1<<20)
		for what, s := range map[string]string{"the notification URL's token": "tok-S3CR3T", "NOTIFY_SECRET": secret,
			"NOTIFY_SECRET's key": strings.TrimPrefix(secret, "whsec_"), "the notification key": string(key)} {
			if strings.Contains(logs, s) {
				t.Errorf("%s logged %s", w.name, what)
			}
		}
	}
}

// pauseAndCancelWhileSending pauses a batch while three workers send it, and then
// cancels it while they send it again: no CreateJob leaves a second after either, the
// jobs at the service are followed to their end meanwhile, and the cancel leaves
// every item completed or canceled, as status, report and the dashboard's metrics
// say. before is the number of jobs created before.
func pauseAndCancelWhileSending(b *e2eBundle, before int) {
	t := b.t
	const live, songs = "live", 300
	created := func() int { return b.sim.Stats().JobsCreated - before }
	b.runCLI("enqueue", "--batch", live, b.songsManifest(live, songs))
	// held checks that nothing is created from a second after the control on.
	held := func(what string) int {
		time.Sleep(time.Second)
		at := created()
		time.Sleep(time.Second)
		if now := created(); now != at || at >= songs {
			t.Fatalf("%s: %d jobs created a second after it, %d a second later; want none more (and not all %d)", what, at, now, songs)
		}
		return at
	}

	b.waitFor(live, 60*time.Second, "5 jobs", func(r batch.BatchRecord) bool { return r.Jobs >= 5 })
	b.runCLI("pause", "--batch", live)
	paused := held("pause")
	// The jobs already at the service are followed and recorded while it is paused.
	b.waitFor(live, 60*time.Second, "its jobs' ends recorded", func(r batch.BatchRecord) bool {
		return r.Counts[batch.StateCompleted] == int64(paused) && r.Counts[batch.StateSubmitted] == 0
	})

	b.runCLI("resume", "--batch", live)
	b.waitFor(live, 60*time.Second, "20 more jobs", func(batch.BatchRecord) bool { return created() >= paused+20 })
	b.runCLI("cancel", "--batch", live)
	sent := held("cancel")
	rec := b.waitDone(live, 60*time.Second)
	if rec.Counts[batch.StateCompleted] != int64(sent) || rec.Counts[batch.StateCanceled] != int64(songs-sent) || !rec.Canceled {
		t.Fatalf("after cancel: %v (canceled %v); want %d completed, as many as jobs were created, and the rest canceled", rec.Counts, rec.Canceled, sent)
	}
	if st := b.sim.Stats(); len(st.PaidTwice) > 0 {
		t.Errorf("paid twice: %v", st.PaidTwice)
	}
	t.Logf("paused at %d jobs, canceled at %d of %d", paused, sent, songs)

	if out := b.runCLI("status", "--batch", live); !strings.Contains(out, fmt.Sprintf("canceled %d", songs-sent)) {
		t.Errorf("status after cancel:\n%s", out)
	}
	n := 0
	for line := range strings.Lines(b.runCLI("report", "--batch", live, "--state", "canceled")) {
		var r batch.ReportRow
		if err := json.Unmarshal([]byte(line), &r); err != nil || r.State != batch.StateCanceled || r.JobID != "" {
			t.Errorf("report --state canceled: line %q (%v)", line, err)
		}
		n++
	}
	if n != songs-sent {
		t.Errorf("report --state canceled: %d lines, want %d", n, songs-sent)
	}
	dash := b.startProc("dashboard", "dashboard", "--addr", "127.0.0.1:0")
	metrics := httpGet(t, dash.waitServing(t)+"/metrics")
	if want := fmt.Sprintf(`singbatch_batch_items{batch="%s",state="canceled"} %d`, live, songs-sent); !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// waitServing waits for a dashboard process to say where it serves, and returns it.
func (p *e2eProc) waitServing(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/`)
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(e2eTail(p.logFile, 1<<16)); m != nil {
			return m[1]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never said where it serves:\n%s", p.name, e2eTail(p.logFile, 4096))
	return ""
}

// httpGet fetches a URL and returns its body, failing the test unless it is a 200.
func httpGet(t *testing.T, u string) string {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", u, resp.Status, err)
	}
	return string(body)
}
