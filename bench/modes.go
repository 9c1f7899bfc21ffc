package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/singbatch/singbatch/internal/redismem"
	"github.com/singbatch/singbatch/upstream/sim"
)

// modes are the ways of running singbatch that the modes section compares.
func modes() []mode {
	return []mode{
		{name: "per-job polling", groupSize: 1},
		{name: "grouped polling (default)"},
		{name: "grouped, POLL_GROUP_SIZE=100", groupSize: 100},
		{name: "callbacks", callbacks: true},
		{name: "callbacks, 10 % lost", callbacks: true, drop: 0.1},
	}
}

// modeSection holds the modes section's runs: singbatch's modes, then the naive way.
type modeSection struct {
	runs  []runResult
	naive runResult
}

// modes runs the mixed manifest (trainings, songs on their models, songs on default) in
// every mode, then the naive way, each on a fresh Redis and simulator.
func (e *env) modes(ctx context.Context, rep *report) error {
	p := e.p
	sec := &modeSection{}
	for _, m := range modes() {
		if p.onlyMode != "" {
			if strings.Contains(m.name, p.onlyMode) {
				_, err := e.runMode(ctx, m)
				return err
			}
			continue
		}
		r, err := e.runMode(ctx, m)
		if err != nil {
			return err
		}
		sec.runs = append(sec.runs, r)
	}
	if p.onlyMode != "" {
		return fmt.Errorf("no mode named like %q", p.onlyMode)
	}
	e.logf("  the naive way, %d processes ...", p.modeProcs)
	r, err := e.runNaive(ctx, p.modeProcs, p.rate, e.mixedManifest)
	if err != nil {
		return fmt.Errorf("naive: %w", err)
	}
	e.logf("    makespan %v (%.2f× the bound), %.2f calls/job, %d throttled", r.makespan.Round(time.Millisecond),
		r.ratio(), r.callsPerJob(), r.throttled)
	sec.naive = r
	rep.modes = sec
	return nil
}

// runMode runs the mixed manifest in mode m.
func (e *env) runMode(ctx context.Context, m mode) (runResult, error) {
	p := e.p
	e.logf("  %s, %d processes ...", m.name, p.modeProcs)
	r, err := e.runSingbatch(ctx, m, p.modeProcs, p.rate, e.mixedManifest)
	if err != nil {
		return r, fmt.Errorf("%s: %w", m.name, err)
	}
	e.logf("    makespan %v (%.3f× the bound, %.3f× in creation order), last CreateJob at %v, %.2f calls/job (%s), lag p95 %v max %v",
		r.makespan.Round(time.Millisecond), r.ratio(), r.orderRatio(), r.lastCreate.Round(time.Millisecond), r.callsPerJob(), r.actions(),
		r.lagP95.Round(time.Millisecond), r.lagMax.Round(time.Millisecond))
	return r, nil
}

// simOptions are the simulator's for a section: default (realistic) durations, scaled.
func (e *env) simOptions(rate int) sim.Options {
	return sim.Options{TimeScale: e.p.timeScale, Rate: rate, Seed: 7}
}

// runSingbatch enqueues a manifest and runs procs worker processes in mode m until every
// item is final.
func (e *env) runSingbatch(ctx context.Context, m mode, procs, rate int, manifest func(dir string) (string, int, error)) (runResult, error) {
	opts := e.simOptions(rate)
	opts.Faults.CallbackDrop = m.drop
	s, err := e.newStack(ctx, opts)
	if err != nil {
		return runResult{}, err
	}
	defer s.close()
	path, n, err := manifest(s.dir)
	if err != nil {
		return runResult{}, err
	}
	empty, err := redismem.UsedMemory(ctx, s.rdb)
	if err != nil {
		return runResult{}, err
	}
	if err := s.enqueue(ctx, rate, path); err != nil {
		return runResult{}, err
	}
	r := runResult{label: m.name, procs: procs, items: n}
	start := time.Now()
	if err := s.startWorkers(procs, e.p.timeScale, rate, m); err != nil {
		return r, err
	}
	finals, end, err := s.waitBatch(ctx, start, n)
	r.finals = finals
	if err != nil {
		return r, err
	}
	r.makespan = end.Sub(start)
	r.cpu = s.stopProcs()
	finished, err := s.batchDone(ctx)
	if err != nil {
		return r, err
	}
	if err := s.measure(&r, start, finished, rate); err != nil {
		return r, err
	}
	mem, err := redismem.UsedMemory(ctx, s.rdb)
	r.redisBytes = mem - empty
	return r, err
}

// mixedManifest is the modes section's load: trainings, songs on their models, songs
// on the default model.
func (e *env) mixedManifest(dir string) (string, int, error) {
	p := e.p
	var b strings.Builder
	for t := range p.trainings {
		fmt.Fprintf(&b, `{"id":"t%03d","kind":"train","model":"voice_%03d","urls":["https://cdn.example.com/voice/%d.wav"],"epochs":%d}`+"\n", t, t, t, p.epochs)
	}
	for i := range p.songsOnModels {
		fmt.Fprintf(&b, `{"id":"m%05d","kind":"song","model":"voice_%03d","url":"https://cdn.example.com/song/m%d.mp3","contentId":"bench"}`+"\n", i, i%max(p.trainings, 1), i)
	}
	for i := range p.songs {
		fmt.Fprintf(&b, `{"id":"s%05d","kind":"song","url":"https://cdn.example.com/song/%d.mp3","contentId":"bench"}`+"\n", i, i)
	}
	path := filepath.Join(dir, "mixed.jsonl")
	return path, p.trainings + p.songsOnModels + p.songs, os.WriteFile(path, []byte(b.String()), 0o644)
}

// songsManifest is n songs on the default model.
func songsManifest(n int) func(dir string) (string, int, error) {
	return func(dir string) (string, int, error) {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, `{"id":"s%06d","kind":"song","url":"https://cdn.example.com/song/%d.mp3","contentId":"bench"}`+"\n", i, i)
		}
		path := filepath.Join(dir, "songs.jsonl")
		return path, n, os.WriteFile(path, []byte(b.String()), 0o644)
	}
}
