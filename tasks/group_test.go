package tasks

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// groupBundle is a bundle whose customIds are grouped (20 an item, the default).
func groupBundle(t *testing.T, configure func(*bundleConfig)) *bundle {
	t.Helper()
	return newBundle(t, func(c *bundleConfig) {
		c.settings.GroupSize = DefaultSettings().GroupSize
		if configure != nil {
			configure(c)
		}
	})
}

// songsManifest is n songs with distinct requests (their destinations differ by id),
// ids prefix00, prefix01, ….
func songsManifest(prefix string, n int) string {
	var m strings.Builder
	for i := range n {
		fmt.Fprintf(&m, `{"id":"%s%02d","kind":"song","url":"AUDIO/song.wav","contentId":"repo1"}`+"\n", prefix, i)
	}
	return m.String()
}

// assertOwnResults checks that every item of the batch completed with its own job: the
// simulator's job under the item's customId whose request is the item's, and the
// result that job produced. It returns how many customIds the items used.
func assertOwnResults(t *testing.T, b *bundle, batchName string) int {
	t.Helper()
	st := b.sim.Stats()
	if len(st.PaidTwice) > 0 {
		t.Errorf("requests paid for twice under %v", st.PaidTwice)
	}
	ids := map[string]bool{}
	err := b.store.Items(t.Context(), batchName, nil, func(r batch.ItemRecord) error {
		ids[r.CustomID] = true
		job, ok := b.sim.Job(r.JobID)
		switch {
		case r.State != batch.StateCompleted:
			t.Errorf("%s: %s (%q)", r.ID, r.State, r.Error)
		case !ok || job.CustomID != r.CustomID:
			t.Errorf("%s: job %s is not at the service under customId %s", r.ID, r.JobID, r.CustomID)
		case echo(job.Inputs, job.Outputs) != requestEcho(r):
			t.Errorf("%s: job %s was created for another item's request", r.ID, r.JobID)
		case r.SongName != job.Result().SongName || r.OutputPath != strings.TrimSuffix(job.Outputs[0].Destination, "/")+"/"+job.Result().SongName:
			t.Errorf("%s: recorded %s, its job made %s in %s", r.ID, r.OutputPath, job.Result().SongName, job.Outputs[0].Destination)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return len(ids)
}

// Items claimed together share a customId, and polling lists the group: fewer calls
// than one per job, every item with its own result.
func TestGroupsShareCustomIDsAndListTogether(t *testing.T) {
	t.Parallel()
	b := groupBundle(t, nil)
	const n = 40
	b.addManifest("b", songsManifest("s", n))
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 30*time.Second)
	groups := assertOwnResults(t, b, "b")
	st := b.sim.Stats()
	polls := st.Count(upstream.ActionGetJob, sim.OutcomeOK) + st.Count(upstream.ActionListJobs, sim.OutcomeOK)
	t.Logf("%d groups; %d GetJob, %d ListJobs for %d jobs", groups, st.Count(upstream.ActionGetJob, sim.OutcomeOK),
		st.Count(upstream.ActionListJobs, sim.OutcomeOK), n)
	if st.JobsCreated != n || groups > n/2 || groups < n/20 {
		t.Errorf("%d jobs in %d groups; want %d jobs, 2 to 20 a group", st.JobsCreated, groups, n)
	}
	if polls >= n {
		t.Errorf("%d polling calls for %d jobs: grouping saved nothing", polls, n)
	}
}

// Lost CreateJob answers and redelivered tasks are reconciled within the group: each
// item adopts its own job, never another member's, and nothing is created twice.
func TestGroupsReconcileLostAnswers(t *testing.T) {
	t.Parallel()
	b := groupBundle(t, func(c *bundleConfig) {
		c.sim.Faults = sim.Faults{LoseCreate: 0.3, InternalError: 0.1}
	})
	const n = 40
	b.addManifest("b", songsManifest("s", n))
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 60*time.Second)
	assertOwnResults(t, b, "b")
	st := b.sim.Stats()
	if lost := st.Count(upstream.ActionCreateJob, sim.OutcomeLost); lost == 0 || st.JobsCreated != n {
		t.Errorf("%d answers lost, %d jobs created; want some lost and %d jobs", lost, st.JobsCreated, n)
	}
}

// A service that returns at most 3 jobs a ListJobs: the jobs left out are asked for
// one by one, every item still gets its own result, and the groups to come shrink.
func TestGroupsWithACappedList(t *testing.T) {
	t.Parallel()
	b := groupBundle(t, func(c *bundleConfig) { c.sim.JobsListCap = 3 })
	const n = 30
	b.addManifest("b", songsManifest("s", n))
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 60*time.Second)
	assertOwnResults(t, b, "b")
	if lc, err := b.store.ListCap(t.Context()); err != nil || lc != 3 {
		t.Errorf("list cap noted %d, %v; want 3", lc, err)
	}
	b.addManifest("c", songsManifest("c", 12))
	b.enqueueAll("c")
	b.waitDone("c", 60*time.Second)
	members := map[string]int{}
	_ = b.store.Items(t.Context(), "c", nil, func(r batch.ItemRecord) error { members[r.CustomID]++; return nil })
	for cid, k := range members {
		if k > 3 {
			t.Errorf("group %s has %d members after the cap of 3 was seen", cid, k)
		}
	}
	assertOwnResults(t, b, "c")
}

// Two equal requests cannot be told apart by their jobs: they never share a group.
func TestIdenticalRequestsGoToDifferentGroups(t *testing.T) {
	t.Parallel()
	b := groupBundle(t, nil)
	b.addManifest("b", `{"id":"a","kind":"song","text":"la la","contentId":"repo1","destination":"/same"}
{"id":"b","kind":"song","text":"la la","contentId":"repo1","destination":"/same"}
{"id":"c","kind":"song","text":"la la","contentId":"repo1","destination":"/same"}
{"id":"d","kind":"song","text":"do re","contentId":"repo1","destination":"/same"}
`)
	b.enqueueAll("b")
	b.start()
	b.waitDone("b", 30*time.Second)
	assertOwnResults(t, b, "b")
	cids := map[string]string{}
	for _, id := range []string{"a", "b", "c"} {
		r := b.item("b", id)
		if other, dup := cids[r.CustomID]; dup {
			t.Errorf("%s and %s, equal requests, share customId %s", id, other, r.CustomID)
		}
		cids[r.CustomID] = id
	}
}

// A job's echo is matched on its inputs and where its outputs go, not on descriptors a
// service may fill in or rewrite.
func TestEchoIgnoresDescriptorsButNotPlaces(t *testing.T) {
	t.Parallel()
	rec := batch.ItemRecord{Kind: batch.KindSong, Model: "m1", Spec: batch.JobSpec{
		Inputs: []batch.Input{{URL: "https://h/a.mp3"}}, ContentID: "repo1", Destination: "/out/a"}}
	req := rec.Spec.Request(rec.Kind, rec.Model)
	filled := append([]upstream.Output(nil), req.Outputs...)
	sc := *filled[0].SmartContentDescriptor.SingingCloning
	sc.UseSeparate, sc.TotalEpoch = 0, 30 // a service's defaults
	filled[0].SmartContentDescriptor = &upstream.SmartContentDescriptor{SingingCloning: &sc, OutputPrefix: "x"}
	filled[0].SmartContentResult = &upstream.SmartContentResult{SingingCloning: &upstream.SingingCloningResult{SongName: "out.wav"}}
	if echo(req.Inputs, filled) != requestEcho(rec) {
		t.Error("a rewritten descriptor or a result changed the echo")
	}
	moved := append([]upstream.Output(nil), req.Outputs...)
	moved[0].Destination = "/out/b"
	other := []upstream.Input{{URL: "https://h/b.mp3"}}
	if echo(req.Inputs, moved) == requestEcho(rec) || echo(other, req.Outputs) == requestEcho(rec) {
		t.Error("another destination or input kept the echo")
	}
}
