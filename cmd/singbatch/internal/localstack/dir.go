package localstack

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// workDir is the working folder of `singbatch run` (--dir) and what it holds.
type workDir struct {
	root      string
	redis     string // redis-server's data: appendonly files, redis.log
	outputs   string // the simulator's content repositories (--sim)
	manifests string // manifests with the placeholder replaced (--sim)
	reports   string // the batch's report, written at the end
	log       string // the processes' log
}

// runMarker names the file that marks a folder as made by `singbatch run`; it holds
// the kind of run ("sim" or "service") that owns the folder.
const runMarker = ".singbatch-run"

// Kinds of run, as written in the marker.
const (
	runKindSim     = "sim"
	runKindService = "service"
)

// prepareWorkDir creates the working folder, or takes up one of an earlier run.
//
// A simulated run starts from empty data: the simulator keeps no state across runs, so
// records of an earlier simulated run would name jobs it no longer knows. A run against
// the service keeps its data, which is what lets it resume after Ctrl-C or a crash. The
// marker keeps the two kinds apart (neither ever touches the other's data), and a folder
// that is not empty and has no marker is refused rather than cleaned.
func prepareWorkDir(root string, simulated bool) (workDir, error) {
	kind := runKindService
	if simulated {
		kind = runKindSim
	}
	d := workDir{
		root:      root,
		redis:     filepath.Join(root, "redis"),
		outputs:   filepath.Join(root, "outputs"),
		manifests: filepath.Join(root, "manifests"),
		reports:   filepath.Join(root, "reports"),
		log:       filepath.Join(root, "singbatch.log"),
	}
	marker := filepath.Join(root, runMarker)
	b, err := os.ReadFile(marker)
	switch {
	case err == nil:
		if had := strings.TrimSpace(string(b)); had != kind {
			return d, fmt.Errorf("run: --dir %s holds a run against the %s; use another --dir for a run against the %s",
				root, runKindName(had), runKindName(kind))
		}
	case errors.Is(err, fs.ErrNotExist):
		entries, err := os.ReadDir(root)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return d, fmt.Errorf("run: --dir: %w", err)
		}
		if len(entries) > 0 {
			return d, fmt.Errorf("run: --dir %s is not empty and was not made by singbatch run; give an empty or new folder", root)
		}
		if err := os.MkdirAll(root, 0o755); err != nil {
			return d, fmt.Errorf("run: --dir: %w", err)
		}
		if err := os.WriteFile(marker, []byte(kind+"\n"), 0o644); err != nil {
			return d, fmt.Errorf("run: --dir: %w", err)
		}
	default:
		return d, fmt.Errorf("run: --dir: %w", err)
	}
	if simulated {
		for _, p := range []string{d.redis, d.outputs, d.manifests, d.reports, d.log} {
			if err := os.RemoveAll(p); err != nil {
				return d, fmt.Errorf("run: clear the previous simulated run: %w", err)
			}
		}
	}
	for _, p := range []string{d.redis, d.outputs, d.manifests, d.reports} {
		if err := os.MkdirAll(p, 0o755); err != nil {
			return d, fmt.Errorf("run: --dir: %w", err)
		}
	}
	return d, nil
}

func runKindName(kind string) string {
	if kind == runKindSim {
		return "simulator (--sim)"
	}
	return "service"
}
