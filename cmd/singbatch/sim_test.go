package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

func simTestEnv(stdout, stderr *syncBuffer, vars ...string) env {
	return testEnv("", stdout, stderr, vars)
}

const (
	simTestID  = "AKIDcmdsim"
	simTestKey = "cmd-sim-s3cret"
)

func TestSimCommandServesTheExample(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var wav bytes.Buffer
	if err := sim.WriteWAV(&wav, 30*time.Second, 440); err != nil {
		t.Fatal(err)
	}
	audio := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write(wav.Bytes()) }))
	t.Cleanup(audio.Close)

	var stdout, stderr syncBuffer
	e := simTestEnv(&stdout, &stderr, "UPSTREAM_SECRET_ID="+simTestID, "UPSTREAM_SECRET_KEY="+simTestKey, "LOG_FORMAT=json", "LOG_LEVEL=debug")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = dispatch(ctx, e, []string{"sim", "--addr", "127.0.0.1:0", "--time-scale", "0.001", "--output-dir", dir, "--seed", "3"})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("sim command did not stop")
		}
	})

	urlRE := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)`)
	var base string
	simEventually(t, func() bool {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})

	example, err := os.ReadFile(filepath.Join("..", "..", "testdata", "upstream", "create-generate.request.json"))
	if err != nil {
		t.Fatal(err)
	}
	body := strings.NewReplacer("{secretId}", simTestID, "{secretKey}", simTestKey, "{customId}", "cmd-1",
		`"{callback}"`, `""`, "{url}", audio.URL+"/song.wav", "{contentId}", "repo", "{outputPrefix}", "cmd_").Replace(string(example))
	var created upstream.Response
	simPost(t, base+upstream.PathJob, body, &created)
	if created.CreateJobResponse == nil || created.CreateJobResponse.Job.State != upstream.StateSubmitted {
		t.Fatalf("CreateJob reply: %+v", created)
	}
	id := created.CreateJobResponse.Job.ID

	var job *upstream.Job
	simEventually(t, func() bool {
		var got upstream.Response
		simPost(t, base+upstream.PathJob, `{"action":"GetJob","secretId":"`+simTestID+`","secretKey":"`+simTestKey+`","getJobRequest":{"id":"`+id+`"}}`, &got)
		job = got.GetJobResponse.Job
		return job.State.Final()
	})
	res := job.Result()
	if job.State != upstream.StateCompleted || res == nil || res.SongName != "cmd_out.wav" {
		t.Fatalf("job = %v %+v %q", job.State, res, job.Message)
	}
	song := filepath.Join(dir, "repo", filepath.FromSlash(job.Outputs[0].Destination), res.SongName)
	if _, err := os.Stat(song); err != nil {
		t.Fatalf("result file: %v", err)
	}

	cancel()
	select {
	case <-done:
		if runErr != nil {
			t.Fatalf("sim command: %v", runErr)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim command did not stop on cancel")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "simulator serving") || !strings.Contains(logs, "simulator stopped") {
		t.Errorf("logs lack start/stop lines:\n%s", logs)
	}
	if strings.Contains(logs+stdout.String(), simTestKey) {
		t.Errorf("output leaks the secret key:\n%s", logs)
	}
}

func TestSimCommandFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out, errOut syncBuffer
	e := simTestEnv(&out, &errOut, "UPSTREAM_SECRET_ID=id-from-env", "UPSTREAM_SECRET_KEY="+simTestKey)
	if err := dispatch(ctx, e, []string{"sim", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if help := out.String(); !strings.Contains(help, "--time-scale") && !strings.Contains(help, "-time-scale") || strings.Contains(help, simTestKey) || strings.Contains(help, "id-from-env") {
		t.Fatalf("help output:\n%s", help)
	}

	none := simTestEnv(&out, &errOut)
	for _, args := range [][]string{
		{"sim", "--addr", "127.0.0.1:0"},                                            // no credentials
		{"sim", "--secret-id", "a", "--secret-key", "b", "--time-scale", "0"},       // bad scale
		{"sim", "--secret-id", "a", "--secret-key", "b", "--fault-hang", "1.5"},     // bad probability
		{"sim", "--secret-id", "a", "--secret-key", "b", "--no-such-flag"},          // unknown flag
		{"sim", "--secret-id", "a", "--secret-key", "b", "extra"},                   // stray argument
		{"sim", "--secret-id", "a", "--secret-key", "b", "--output-format", "flac"}, // bad format
	} {
		err := dispatch(ctx, none, args)
		var ue usageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args[1:], err)
		}
	}
}

func simPost(t *testing.T, url, body string, into *upstream.Response) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: HTTP %d %+v", url, resp.StatusCode, into.Error)
	}
}

func simEventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
