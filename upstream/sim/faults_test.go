package sim_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// rawCreate posts a CreateJob with client and returns the transport error, if any.
func rawCreate(t *testing.T, b *bundle, client *http.Client, req *upstream.CreateJobRequest) (*http.Response, error) {
	t.Helper()
	body, err := json.Marshal(upstream.Envelope{Action: upstream.ActionCreateJob, SecretID: testSecretID, SecretKey: testSecretKey, CreateJobRequest: req})
	if err != nil {
		t.Fatal(err)
	}
	return postBody(client, b.srv.URL()+upstream.PathJob, body)
}

func postBody(client *http.Client, url string, body []byte) (*http.Response, error) {
	resp, err := client.Post(url, "application/json", bytes.NewReader(body))
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestFaultInternalError(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Faults.InternalError = 1 })
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionCreateJob, CreateJobRequest: req})
	wantError(t, r, http.StatusInternalServerError, upstream.CodeInternalError, "injected")
	// Before anything: not even the credentials are looked at.
	r = b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, SecretID: "x", SecretKey: "y", GetJobRequest: &upstream.GetJobRequest{ID: "x"}})
	wantError(t, r, http.StatusInternalServerError, upstream.CodeInternalError, "injected")
	if err := b.srv.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	b.create(t, req)
	st := b.srv.Stats()
	if st.Count(upstream.ActionCreateJob, sim.OutcomeInternal) != 1 || st.Count(upstream.ActionGetJob, sim.OutcomeInternal) != 1 || st.JobsCreated != 1 {
		t.Fatalf("stats: %v, jobs %d", st.Calls, st.JobsCreated)
	}
	if err := b.srv.SetFaults(sim.Faults{InternalError: -0.5}); err == nil {
		t.Fatal("SetFaults accepted a negative probability")
	}
}

func TestFaultHang(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { realTime(o); o.Faults.Hang = 1 })
	impatient := &http.Client{Timeout: 100 * time.Millisecond}
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	_, err := rawCreate(t, b, impatient, req)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("hung CreateJob: err = %v, want a client timeout", err)
	}
	eventually(t, func() bool { return b.srv.Stats().Count(upstream.ActionCreateJob, sim.OutcomeHung) == 1 })
	if n := len(b.srv.JobsByCustomID(req.CustomID)); n != 0 {
		t.Fatalf("a CreateJob abandoned while hung created %d jobs", n)
	}

	// A hang shorter than the client's patience is only a slow reply.
	if err := b.srv.SetFaults(sim.Faults{Hang: 1, HangFor: 20 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if j := b.create(t, req); j.State != upstream.StateSubmitted {
		t.Fatalf("slow CreateJob: %+v", j)
	}

	// Close ends a hang that nobody gives up on.
	if err := b.srv.SetFaults(sim.Faults{Hang: 1}); err != nil {
		t.Fatal(err)
	}
	body, err := json.Marshal(upstream.Envelope{Action: upstream.ActionCreateJob, SecretID: testSecretID, SecretKey: testSecretKey, CreateJobRequest: req})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := postBody(http.DefaultClient, b.srv.URL()+upstream.PathJob, body)
		done <- err
	}()
	eventually(t, func() bool { return b.srv.Stats().Count(upstream.ActionCreateJob, sim.OutcomeHung) == 3 })
	if err := b.srv.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a request hung at Close got an answer")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a hung request hanging")
	}
}

func TestFaultLostCreateResponse(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Faults.LoseCreate = 1 })
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	req.CustomID = "lost-1"
	if resp, err := rawCreate(t, b, http.DefaultClient, req); err == nil {
		t.Fatalf("lost CreateJob got HTTP %d", resp.StatusCode)
	}
	jobs := b.srv.JobsByCustomID("lost-1")
	if len(jobs) != 1 || jobs[0].State != upstream.StateSubmitted {
		t.Fatalf("the lost CreateJob stored %d jobs", len(jobs))
	}
	// The client can find it by customId.
	if r := b.listJobs(t, "lost-1"); r.body.ListJobsResponse.Total != 1 || r.body.ListJobsResponse.Jobs[0].ID != jobs[0].ID {
		t.Fatalf("ListJobs = %s", r.raw)
	}
	// Other actions are not affected.
	if r := b.listModels(t, 0, 1); r.status != http.StatusOK {
		t.Fatalf("ListModels under LoseCreate: HTTP %d", r.status)
	}
	if got := b.srv.Stats().Count(upstream.ActionCreateJob, sim.OutcomeLost); got != 1 {
		t.Fatalf("lost count = %d", got)
	}
}

func TestFaultNotFoundWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Faults = sim.Faults{NotFound: 1, NotFoundFor: 3 * time.Second} })
	j := b.create(t, generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel))
	wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: j.ID}}),
		http.StatusNotFound, upstream.CodeResourceNotFound, "not found")
	if r := b.listJobs(t, "gen-1"); r.body.ListJobsResponse.Total != 0 {
		t.Fatalf("ListJobs during the window = %s", r.raw)
	}
	if _, ok := b.srv.Job(j.ID); !ok {
		t.Fatal("inspection does not see the hidden job")
	}
	b.clock.Advance(3 * time.Second)
	if got := b.getJob(t, j.ID); got.ID != j.ID {
		t.Fatalf("GetJob after the window = %+v", got)
	}
	if r := b.listJobs(t, "gen-1"); r.body.ListJobsResponse.Total != 1 {
		t.Fatalf("ListJobs after the window = %s", r.raw)
	}
	if got := b.srv.Stats().Count(upstream.ActionGetJob, sim.OutcomeNotFound); got != 1 {
		t.Fatalf("404 count = %d", got)
	}
}

func TestFaultsAreSeeded(t *testing.T) {
	t.Parallel()
	outcomes := func() []int {
		b := setup(t, func(o *sim.Options) { o.Seed = 42; o.Faults.InternalError = 0.5 })
		var got []int
		for range 20 {
			got = append(got, b.listModels(t, 0, 1).status)
		}
		return got
	}
	a, c := outcomes(), outcomes()
	ok := 0
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("same seed, different faults: %v vs %v", a, c)
		}
		if a[i] == http.StatusOK {
			ok++
		}
	}
	if ok == 0 || ok == len(a) {
		t.Fatalf("probability 0.5 gave %d/%d successes", ok, len(a))
	}
}
