package main

import (
	"context"
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMain lets the test binary be the baselines' child processes, as the program is
// under go run.
func TestMain(m *testing.M) {
	if role := os.Getenv(roleEnv); role != "" {
		if err := runRole(context.Background(), role); err != nil {
			fmt.Fprintln(os.Stderr, "bench", role+":", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The short profile end to end, as CI runs it: every section measures real runs and the
// report and its plots are written. It asserts what each run did (every item final,
// nothing paid twice, nothing throttled), never how fast: the figures are the report's.
func TestShortProfile(t *testing.T) {
	p, err := profileNamed("short")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "BENCHMARKS.md")
	if err := os.WriteFile(out, []byte("old figures\n"+notesMarker+"\nWhat was tried.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err := run(t.Context(), p, out, filepath.Join(dir, "plots"), testLog{t})
	if err != nil {
		t.Fatal(err)
	}

	if rep.modes == nil || len(rep.modes.runs) != len(modes()) {
		t.Fatalf("modes section: %+v", rep.modes)
	}
	for _, r := range append(append([]runResult{}, rep.modes.runs...), rep.quota...) {
		if r.completed != r.items || r.failed != 0 || r.jobs != r.items {
			t.Errorf("%s, %d processes: %d of %d items completed, %d failed, %d jobs paid", r.label, r.procs, r.completed, r.items, r.failed, r.jobs)
		}
		if r.throttled != 0 || r.maxPerSec > r.rate {
			t.Errorf("%s, %d processes: %d throttled, %d requests in one second at %d/s", r.label, r.procs, r.throttled, r.maxPerSec, r.rate)
		}
		if r.calls < r.jobs || r.lowerBound <= 0 || r.makespan <= 0 || len(r.perSecond) == 0 || r.quotaUse <= 0 {
			t.Errorf("%s: figures missing: %+v", r.label, r)
		}
	}
	if nv := rep.modes.naive; nv.completed+nv.failed != nv.items || nv.calls < nv.jobs {
		t.Errorf("naive way: %d completed + %d failed of %d items, %d calls for %d jobs", nv.completed, nv.failed, nv.items, nv.calls, nv.jobs)
	}
	if len(rep.quota) != len(p.quotaProcs)+1 {
		t.Errorf("%d quota runs, want %d", len(rep.quota), len(p.quotaProcs)+1)
	}
	if o := rep.overhead; o == nil || o.singbatch <= 0 || o.bare <= 0 || o.cpu <= 0 || o.bareCPU <= 0 {
		t.Errorf("overhead section: %+v", o)
	} else if f := o.floor; f.wall <= 0 || f.cpu <= 0 || f.gets < o.jobs {
		// runFloor itself required n jobs created, each final.
		t.Errorf("the floor: %+v for %d jobs", f, o.jobs)
	}
	if len(rep.enqueue) != 4 {
		t.Fatalf("enqueue section: %+v", rep.enqueue)
	}
	for i, m := range rep.enqueue {
		if m.Lines != p.enqueueLines || m.WallSec <= 0 || m.MaxRSSKB <= 0 || (i < 3) != (m.RedisBytes > 0) {
			t.Errorf("enqueue measure %+v", m)
		}
	}

	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Summary", "## 1, 3, 4, 7", "## 2: quota", "## 5: enqueue", "## 6: worker overhead", "| the floor, bare asynq CreateJob → GetJob: finished jobs |",
		"go run ./bench -profile short", notesMarker + "\nWhat was tried.\n"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(string(md), "old figures") {
		t.Error("report kept the old figures")
	}
	for _, name := range []string{plotRate, plotFinals, plotCalls} {
		if !strings.Contains(string(md), "plots/"+name) {
			t.Errorf("report does not embed %s", name)
		}
		checkSVG(t, filepath.Join(dir, "plots", name))
	}
}

// checkSVG parses a plot as XML with an <svg> root.
func checkSVG(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var root struct{ XMLName xml.Name }
	if err := xml.NewDecoder(f).Decode(&root); err != nil || root.XMLName.Local != "svg" {
		t.Errorf("%s: not an SVG document: root %q, %v", path, root.XMLName.Local, err)
	}
}

// testLog passes the benchmark's progress to t.Log.
type testLog struct{ t *testing.T }

func (l testLog) Write(b []byte) (int, error) {
	l.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}
