package main

import (
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Three worker processes share one account-wide rate limit through Redis: with
// UPSTREAM_RATE=20 and a backlog that keeps them busy for several seconds, the
// simulator (whose own limit is 20 too) never sees more than 20 requests in any 1-second
// window and never has to throttle.
func TestE2ERateLimitAcrossWorkerProcesses(t *testing.T) {
	// Not parallel: it runs before the package's parallel tests, alone, because the
	// bound it checks is measured at the simulator and a loaded machine delays requests
	// between the limiter's grant and their arrival.
	const rate, songs = 20, 120
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true}, "UPSTREAM_RATE=20")
	simURL := b.startSimProcess("--rate", "20", "--time-scale", "0.01", "--skip-fetch", "--seed", "21")
	b.enqueue("rate", b.songsManifest("rate", songs))
	start := time.Now()
	for _, name := range []string{"w1", "w2", "w3"} {
		b.startWorker(name)
	}
	rec := b.waitDone("rate", 80*time.Second)
	elapsed := time.Since(start)

	st := b.simProcessStats(simURL)
	t.Logf("%d requests in %v (%.1f/s), busiest second %d, throttled %d", st.Requests, elapsed.Round(time.Millisecond),
		float64(st.Requests)/elapsed.Seconds(), st.MaxRequestsPerSecond, st.Throttled)
	if st.MaxRequestsPerSecond > rate {
		t.Errorf("the simulator saw %d requests within one second; the account's rate is %d", st.MaxRequestsPerSecond, rate)
	}
	if st.Throttled != 0 {
		t.Errorf("the simulator throttled %d requests", st.Throttled)
	}
	if rec.Counts[batch.StateCompleted] != songs {
		t.Errorf("counts %v, want %d completed", rec.Counts, songs)
	}
	if st.JobsCreated != songs || len(st.PaidTwice) > 0 {
		t.Errorf("jobs created %d (want %d), requests paid for twice under customIds %v", st.JobsCreated, songs, st.PaidTwice)
	}
	b.assertNoSecretInLogs()
}

// With 5 % of CreateJob responses lost and one of three worker processes killed
// (SIGKILL) mid-batch and started again, every item still ends final and no customId
// ever has two jobs at the simulator.
//
// The tasks the killed worker held come back only when Asynq's recoverer finds their
// lease expired (30 s lease, plus 30 s of allowed clock skew, checked every minute), so
// this test takes about a minute and a half.
func TestE2ELostResponsesAndKilledWorker(t *testing.T) {
	t.Parallel()
	const songs = 200
	b := newE2E(t, sim.Options{TimeScale: 0.01, SkipFetch: true, Seed: 31, Faults: sim.Faults{LoseCreate: 0.05}},
		"UPSTREAM_RATE=50")
	b.enqueue("crash", b.songsManifest("crash", songs))
	victim := b.startWorker("w1")
	b.startWorker("w2")
	b.startWorker("w3")

	// Mid-batch: some items already have their job, most do not.
	b.waitFor("crash", 60*time.Second, "a fifth submitted", func(r batch.BatchRecord) bool {
		return r.Counts[batch.StateSubmitted]+r.Counts[batch.StateCompleted]+r.Counts[batch.StateFailed] >= songs/5
	})
	victim.kill()
	killed := time.Now()
	b.startWorker("w1-restarted")

	rec := b.waitDone("crash", 150*time.Second)
	st := b.sim.Stats()
	t.Logf("done %v after the kill; counts %v; %d jobs created, %d CreateJob responses lost, %d ListJobs calls",
		time.Since(killed).Round(time.Millisecond), rec.Counts, st.JobsCreated,
		st.Count(upstream.ActionCreateJob, sim.OutcomeLost), st.Count(upstream.ActionListJobs, sim.OutcomeOK))
	if d := st.PaidTwice; len(d) > 0 {
		t.Errorf("requests paid for twice under customIds at the simulator: %v", d)
	}
	if st.Count(upstream.ActionCreateJob, sim.OutcomeLost) == 0 {
		t.Error("no CreateJob response was lost: the fault was not exercised")
	}
	if rec.Counts[batch.StateCompleted] != songs {
		t.Errorf("counts %v, want all %d completed", rec.Counts, songs)
	}
	// Each completed item has a job of its own, under its customId (grouped customIds
	// hold several items' jobs), and the customIds hold no job beyond the items'.
	byCustom, members, owner := st.JobsByCustomID, map[string]int{}, map[string]string{}
	if err := b.store.Items(t.Context(), "crash", nil, func(r batch.ItemRecord) error {
		members[r.CustomID]++
		if other, dup := owner[r.JobID]; dup {
			t.Errorf("%s and %s share job %s", r.ID, other, r.JobID)
		}
		owner[r.JobID] = r.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for cid, n := range members {
		if byCustom[cid] != n {
			t.Errorf("customId %s: %d jobs at the simulator for %d items", cid, byCustom[cid], n)
		}
	}
	if st.JobsCreated != songs {
		t.Errorf("%d jobs created for %d songs", st.JobsCreated, songs)
	}
	b.assertNoSecretInLogs()
}
