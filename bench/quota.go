package main

import (
	"context"
	"fmt"
	"time"
)

// quota runs a backlog of songs with 1, 4 and 8 worker processes at the account's rate,
// and one at a ten times higher rate, in the default mode.
func (e *env) quota(ctx context.Context, rep *report) error {
	p := e.p
	type run struct{ procs, rate, songs int }
	var runs []run
	for _, n := range p.quotaProcs {
		runs = append(runs, run{n, p.rate, p.quotaSongs})
	}
	runs = append(runs, run{p.fastProcs, p.fastRate, p.fastSongs})
	for _, c := range runs {
		e.logf("  %d songs, %d processes, %d req/s ...", c.songs, c.procs, c.rate)
		r, err := e.runSingbatch(ctx, mode{name: "grouped polling (default)"}, c.procs, c.rate, songsManifest(c.songs))
		if err != nil {
			return fmt.Errorf("%d processes at %d req/s: %w", c.procs, c.rate, err)
		}
		e.logf("    quota use %.3f, %d throttled, at most %d req in 1 s, makespan %v",
			r.quotaUse, r.throttled, r.maxPerSec, r.makespan.Round(time.Millisecond))
		rep.quota = append(rep.quota, r)
	}
	return nil
}
