package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary be the bare-Asynq child, as the program is under go run.
func TestMain(m *testing.M) {
	if isChild, err := runChild(context.Background()); isChild {
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The benchmark program end to end on a small manifest, as CI runs it; the 1,000,000-line
// run is part of `go run ./bench` (docs/BENCHMARKS.md, section 5). SINGBATCH_BIN may name a prebuilt
// binary; otherwise ./cmd/singbatch is built.
func TestBenchmarkSmall(t *testing.T) {
	t.Parallel()
	o := options{sizes: []int{3000}, dir: t.TempDir(), self: []string{os.Args[0]}, singbatch: os.Getenv("SINGBATCH_BIN")}
	res, err := run(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.measures) != 4 {
		t.Fatalf("%d measures, want 4", len(res.measures))
	}
	for _, m := range res.measures {
		if m.lines != 3000 || m.wall <= 0 || m.maxRSSKB <= 0 || (m.redisMem <= 0) != strings.HasPrefix(m.name, "reading") {
			t.Errorf("measure %+v", m)
		}
	}
	for i, want := range []string{
		"batch bench: 3000 new, 0 already in batch, 0 rejected\nsubmit tasks: 3000 enqueued, 0 already queued",
		"batch bench: 0 new, 3000 already in batch, 0 rejected\nsubmit tasks: 0 enqueued, 3000 already queued",
		"3000 tasks enqueued",
		"3000 items read",
	} {
		if res.measures[i].output != want {
			t.Errorf("%s printed %q, want %q", res.measures[i].name, res.measures[i].output, want)
		}
	}
	md := markdown(res, o)
	for _, want := range []string{"| 3,000 | singbatch enqueue | ", "| 3,000 | bare asynq Enqueue, 8 goroutines | "} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
}

func TestParseSizes(t *testing.T) {
	t.Parallel()
	if got, err := parseSizes("1_000,20"); err != nil || len(got) != 2 || got[0] != 1000 || got[1] != 20 {
		t.Errorf("parseSizes: %v %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "10,-1"} {
		if _, err := parseSizes(bad); err == nil {
			t.Errorf("parseSizes(%q) accepted", bad)
		}
	}
	if thousands(1234567) != "1,234,567" || thousands(999) != "999" {
		t.Error("thousands")
	}
}

// A rewrite of the results file keeps its hand-written part, after the new section.
func TestWithNotes(t *testing.T) {
	t.Parallel()
	notes := keepMarker + "\n\n## Reading the figures\n\nsome words\n"
	old := "# Enqueue benchmark\n\nold table\n\n" + notes
	if got, want := withNotes("# Enqueue benchmark\n\nnew table\n", old), "# Enqueue benchmark\n\nnew table\n\n"+notes; got != want {
		t.Errorf("withNotes = %q, want %q", got, want)
	}
	if got := withNotes("new\n", "old, no notes\n"); got != "new\n" {
		t.Errorf("without a marker: %q", got)
	}
	if got := withNotes("new\n", ""); got != "new\n" {
		t.Errorf("no old file: %q", got)
	}
}
