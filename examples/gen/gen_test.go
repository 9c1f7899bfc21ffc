package main

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/upstream/sim"
)

// The committed example is what the generator writes: same files, same manifests, and
// audio equal up to ±1 in a sample (floating-point rounding may differ between CPUs).
func TestCommittedExampleIsCurrent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join("..", rel))
		if err != nil {
			t.Errorf("%s: not committed (run: go run ./examples/gen): %v", rel, err)
			return nil
		}
		if !nearlyEqual(got, want, strings.HasSuffix(rel, ".wav")) {
			t.Errorf("examples/%s differs from what the generator writes (run: go run ./examples/gen)", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func nearlyEqual(a, b []byte, audio bool) bool {
	if !audio || len(a) != len(b) || len(a) < 44 {
		return bytes.Equal(a, b)
	}
	if !bytes.Equal(a[:44], b[:44]) {
		return false
	}
	for i := 44; i < len(a); i++ {
		if d := int(a[i]) - int(b[i]); d < -1 || d > 1 {
			return false
		}
	}
	return true
}

// The example's audio is what the service accepts: the simulator's probe reads every
// file, the training set holds at least 60 s, and the whole stays small.
func TestExampleAudio(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := Write(dir); err != nil {
		t.Fatal(err)
	}
	var training time.Duration
	var size int64
	for _, c := range clips {
		b, err := os.ReadFile(filepath.Join(dir, "audio", c.name))
		if err != nil {
			t.Fatal(err)
		}
		size += int64(len(b))
		d, format, err := sim.ProbeAudio(bytes.NewReader(b))
		if err != nil || format != sim.FormatWAV || d != time.Duration(c.seconds)*time.Second {
			t.Errorf("%s: probe = %v %s %v; want %ds of wav", c.name, d, format, err, c.seconds)
		}
		if strings.HasPrefix(c.name, "alice-") {
			training += d
		}
	}
	if training < 60*time.Second {
		t.Errorf("training set holds %v, the service needs 60 s", training)
	}
	if size > 1<<20 {
		t.Errorf("audio takes %d bytes, keep it well under 1 MB", size)
	}
}

// Both demo manifests read without errors once the placeholder is replaced, and hold
// the same items.
func TestDemoManifestsRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	read := func(name, text string) []batch.Item {
		p := filepath.Join(dir, name)
		text = strings.ReplaceAll(text, Placeholder, "http://127.0.0.1:1/examples")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var items []batch.Item
		for it, err := range manifest.Read([]string{p}, nil, manifest.FormatAuto) {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			it.Origin = ""
			items = append(items, it)
		}
		return items
	}
	jsonl, csv := read("demo.jsonl", demoJSONL), read("demo.csv", demoCSV)
	if len(jsonl) != 6 || len(csv) != len(jsonl) {
		t.Fatalf("items: jsonl %d, csv %d; want 6 each", len(jsonl), len(csv))
	}
	for i := range jsonl {
		a, b := jsonl[i], csv[i]
		if a.ID != b.ID || a.Kind != b.Kind || a.Model != b.Model || !reflect.DeepEqual(a.Spec, b.Spec) {
			t.Errorf("item %d: jsonl %+v, csv %+v", i, a, b)
		}
	}
}
