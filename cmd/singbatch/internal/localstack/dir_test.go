package localstack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The working folder: a simulated run starts clean, a run against the service keeps its
// data, and neither takes a folder of the other kind or one it did not make.
func TestPrepareWorkDir(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "w")
	d, err := prepareWorkDir(root, true)
	if err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(d.outputs, "old.wav")
	if err := os.WriteFile(stale, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareWorkDir(root, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a new simulated run kept %s: %v", stale, err)
	}
	if _, err := prepareWorkDir(root, false); err == nil || !strings.Contains(err.Error(), "simulator") {
		t.Errorf("service run in a simulated run's folder: %v", err)
	}

	svc := filepath.Join(t.TempDir(), "s")
	d, err = prepareWorkDir(svc, false)
	if err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(d.redis, "appendonly.aof")
	if err := os.WriteFile(kept, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareWorkDir(svc, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(kept); err != nil {
		t.Errorf("a service run lost its data: %v", err)
	}
	if _, err := prepareWorkDir(svc, true); err == nil {
		t.Error("simulated run in a service run's folder: no error")
	}

	foreign := t.TempDir()
	mine := filepath.Join(foreign, "precious.txt")
	if err := os.WriteFile(mine, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := prepareWorkDir(foreign, true); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("foreign folder: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a refused folder lost a file: %v", err)
	}
}
