package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/internal/redisproc"
	"github.com/singbatch/singbatch/upstream/sim"
)

// runEnv is the environment of an in-process `singbatch run`.
func runEnv(stdout, stderr *syncBuffer, vars ...string) env {
	vars = append([]string{"LOG_FORMAT=json", "LOG_LEVEL=info"}, vars...)
	return testEnv("", stdout, stderr, vars)
}

// runCmd runs `singbatch run` in-process to its end.
func runCmd(ctx context.Context, vars []string, args ...string) (stdout, stderr string, err error) {
	var out, errOut syncBuffer
	err = dispatch(ctx, runEnv(&out, &errOut, vars...), append([]string{"run"}, args...))
	return out.String(), errOut.String(), err
}

var runRedisLine = regexp.MustCompile(`redis-server\s+redis://([0-9.]+:[0-9]+)/0`)

// assertRedisStopped checks that the redis-server a run printed no longer listens.
func assertRedisStopped(t *testing.T, stdout string) {
	t.Helper()
	m := runRedisLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("no redis-server line in the output:\n%s", stdout)
	}
	if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		_ = c.Close()
		t.Errorf("redis-server on %s still accepts connections after run returned", m[1])
	}
}

// runReport reads the CSV report a run wrote: one map per item.
func runReport(t *testing.T, dir, batchName string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, "reports", batchName+".csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil || len(rows) < 1 {
		t.Fatalf("report: %v", err)
	}
	var items []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = row[i]
		}
		items = append(items, m)
	}
	return items
}

// The README's first command: the bundled demo runs to the end with every item
// completed, every song's file is in the outputs folder, and nothing keeps running.
func TestRunSimDemo(t *testing.T) {
	t.Parallel()
	for _, manifest := range []string{"demo.jsonl", "demo.csv"} {
		t.Run(manifest, func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "run")
			stdout, stderr, err := runCmd(t.Context(), nil, "--sim", "--dir", dir, filepath.Join("..", "..", "examples", manifest))
			if err != nil {
				t.Fatalf("run: %v\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
			}
			if !strings.Contains(stdout, "batch demo finished after") || !strings.Contains(stdout, "6 completed, 0 failed of 6") {
				t.Errorf("summary missing:\n%s", stdout)
			}
			items := runReport(t, dir, "demo")
			if len(items) != 6 {
				t.Fatalf("report has %d items, want 6", len(items))
			}
			songs := 0
			for _, it := range items {
				if it["state"] != "completed" {
					t.Errorf("%s: %s (%s)", it["id"], it["state"], it["error"])
					continue
				}
				if it["kind"] == "train" {
					if it["trainedModel"] != "alice_v1" {
						t.Errorf("%s trained %q", it["id"], it["trainedModel"])
					}
					continue
				}
				songs++
				file := filepath.Join(dir, "outputs", it["outputRepository"], filepath.FromSlash(it["outputPath"]))
				b, err := os.ReadFile(file)
				if err != nil {
					t.Errorf("%s: output: %v", it["id"], err)
					continue
				}
				if _, format, err := sim.ProbeAudio(bytes.NewReader(b)); err != nil || format != sim.FormatWAV {
					t.Errorf("%s: output %s is not audio: %v", it["id"], file, err)
				}
				if !strings.Contains(stdout, file) {
					t.Errorf("the summary does not show where %s is (%s)", it["id"], file)
				}
				// The records' origins are the rewritten copy's lines.
				if !strings.HasPrefix(it["origin"], filepath.Join(dir, "manifests")) {
					t.Errorf("%s: origin %q", it["id"], it["origin"])
				}
			}
			if songs != 5 {
				t.Errorf("%d songs completed, want 5", songs)
			}
			assertRedisStopped(t, stdout)
		})
	}
}

// writeRunAudio writes a small WAV into dir/audio and returns dir.
func writeRunAudio(t *testing.T, d time.Duration) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "audio"), 0o755); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sim.WriteWAV(&buf, d, 220); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "audio", "a.wav"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// A run with a failing item ends non-zero, after listing the failure with its reason
// and the line of the manifest as the user wrote it.
func TestRunReportsFailures(t *testing.T) {
	t.Parallel()
	mdir := writeRunAudio(t, 3*time.Second)
	manifest := filepath.Join(mdir, "mixed.jsonl")
	if err := os.WriteFile(manifest, []byte(
		`{"id":"ok","kind":"song","url":"{{dir}}/audio/a.wav","contentId":"r"}`+"\n"+
			`{"id":"missing","kind":"song","url":"{{dir}}/audio/none.wav","contentId":"r"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A relative --dir, as the default .run is.
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := filepath.Rel(wd, filepath.Join(t.TempDir(), "run"))
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := runCmd(t.Context(), nil, "--sim", "--dir", dir, "--batch", "b1", manifest)
	var rf *runFailedError
	if !errors.As(err, &rf) || rf.failed != 1 || rf.total != 2 {
		t.Fatalf("run: %v, want 1 of 2 failed\nstdout:\n%s\nstderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"1 completed, 1 failed of 2", "failed:", "missing", "fetch failed: HTTP 404", manifest + ":2"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("summary lacks %q:\n%s", want, stdout)
		}
	}
	assertRedisStopped(t, stdout)
}

// Ctrl-C (the context ending) stops a run gracefully: it returns, says so, and stops
// its redis-server.
func TestRunInterrupted(t *testing.T) {
	t.Parallel()
	mdir := writeRunAudio(t, 70*time.Second)
	manifest := filepath.Join(mdir, "long.jsonl")
	// 50 epochs on 70 s take about 20 simulated minutes: 12 s at the default scale.
	if err := os.WriteFile(manifest, []byte(
		`{"id":"t","kind":"train","model":"long_v1","urls":["{{dir}}/audio/a.wav"],"epochs":50}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, runEnv(&out, &errOut), []string{"run", "--sim", "--dir", filepath.Join(t.TempDir(), "run"), manifest})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "submit tasks:") {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not enqueue:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, errRunInterrupted) {
			t.Errorf("run: %v, want errRunInterrupted", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("run did not stop after its context ended")
	}
	if !strings.Contains(out.String(), "batch long stopped after") {
		t.Errorf("no summary:\n%s", out.String())
	}
	assertRedisStopped(t, out.String())
}

func TestRunUsage(t *testing.T) {
	t.Parallel()
	mdir := writeRunAudio(t, time.Second)
	withPlaceholder := filepath.Join(mdir, "p.jsonl")
	if err := os.WriteFile(withPlaceholder, []byte(`{"kind":"song","url":"{{dir}}/audio/a.wav","contentId":"r"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	creds := []string{"UPSTREAM_SECRET_ID=AKIDx", "UPSTREAM_SECRET_KEY=k"}
	for _, c := range []struct {
		name  string
		vars  []string
		args  []string
		usage bool
		want  string
	}{
		{"no manifest", nil, []string{"--sim"}, true, "no manifest given"},
		{"stdin", nil, []string{"--sim", "-"}, true, "must be files"},
		{"bad batch", nil, []string{"--sim", "--batch", "a:b", withPlaceholder}, true, "--batch"},
		{"bad time scale", nil, []string{"--sim", "--time-scale", "0", withPlaceholder}, true, "--time-scale"},
		{"missing manifest", nil, []string{"--sim", filepath.Join(mdir, "nope.jsonl")}, false, "nope.jsonl"},
		{"no credentials", nil, []string{withPlaceholder}, false, "UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY are required"},
		{"placeholder without --sim", creds, []string{withPlaceholder}, false, "uses {{dir}}, which only --sim serves"},
	} {
		dir := t.TempDir()
		_, _, err := runCmd(t.Context(), c.vars, append([]string{"--dir", dir}, c.args...)...)
		if err == nil || !strings.Contains(err.Error(), c.want) || errors.As(err, new(usageError)) != c.usage {
			t.Errorf("%s: %v; want a usage error %v naming %q", c.name, err, c.usage, c.want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) > 0 {
			t.Errorf("%s: the refused run wrote into --dir", c.name)
		}
	}
}

// Without redis-server the run stops before anything else, saying how to install it.
// Not parallel: it changes PATH.
func TestRunWithoutRedis(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, _, err := runCmd(t.Context(), nil, "--sim", "--dir", filepath.Join(t.TempDir(), "run"), filepath.Join("..", "..", "examples", "demo.jsonl"))
	if !errors.Is(err, redisproc.ErrNotInstalled) || !strings.Contains(err.Error(), "bash .ci/deps") {
		t.Errorf("run: %v, want redisproc.ErrNotInstalled naming bash .ci/deps", err)
	}
}

func TestDefaultBatchName(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"examples/demo.jsonl":   "demo",
		"/x/spring 2025.csv":    "spring-2025",
		"a/b/.jsonl":            "run",
		"songs:batch#1.ndjson":  "songs-batch-1",
		"noext":                 "noext",
		"dir.with.dots/m.v2.js": "m.v2",
	} {
		if got := defaultBatchName(in); got != want {
			t.Errorf("defaultBatchName(%q) = %q, want %q", in, got, want)
		}
	}
}
