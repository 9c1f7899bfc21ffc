package sim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// wantError checks an error reply's status, code and that the message contains want
// and none of the secrets.
func wantError(t *testing.T, r reply, status int, code, want string) {
	t.Helper()
	if r.status != status || r.body.Error == nil || r.body.Error.Code != code || !strings.Contains(r.body.Error.Message, want) {
		t.Errorf("reply HTTP %d %s; want %d %s containing %q", r.status, r.raw, status, code, want)
	}
	for _, s := range []string{testSecretID, testSecretKey} {
		if strings.Contains(r.raw, s) {
			t.Errorf("reply leaks a secret: %s", r.raw)
		}
	}
}

func TestCredentials(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	get := &upstream.GetJobRequest{ID: "x"}
	for _, env := range []upstream.Envelope{
		{Action: upstream.ActionGetJob, SecretID: testSecretID, SecretKey: "wrong-key", GetJobRequest: get},
		{Action: upstream.ActionGetJob, SecretID: "someone", SecretKey: testSecretKey, GetJobRequest: get},
		{Action: upstream.ActionGetJob, SecretID: testSecretID, SecretKey: testSecretKey + "x", GetJobRequest: get},
	} {
		wantError(t, b.send(t, upstream.PathJob, env), http.StatusUnauthorized, upstream.CodeAuthFailure, "secretId or secretKey")
	}
	// An empty secretId gets the real credentials filled in by send; send raw instead.
	r := b.post(t, upstream.PathJob, "application/json", []byte(`{"action":"GetJob","getJobRequest":{"id":"x"}}`))
	wantError(t, r, http.StatusUnauthorized, upstream.CodeAuthFailure, "secretId")
	if got := b.srv.Stats().Count(upstream.ActionGetJob, sim.OutcomeAuth); got != 4 {
		t.Errorf("stats 401 for GetJob = %d, want 4", got)
	}
}

func TestValidationNamesField(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	req.Outputs[0].SmartContentDescriptor.OutputPrefix = strings.Repeat("p", 25)
	req.Outputs[0].ContentID = ""
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionCreateJob, CreateJobRequest: req})
	wantError(t, r, http.StatusBadRequest, upstream.CodeInvalidParameter, "createJobRequest.outputs[0].smartContentDescriptor.outputPrefix: must be shorter than 20")
	wantError(t, r, http.StatusBadRequest, upstream.CodeInvalidParameter, "createJobRequest.outputs[0].contentId: required")

	cases := []struct {
		env   upstream.Envelope
		path  string
		field string
	}{
		{upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{}}, upstream.PathJob, "getJobRequest.id: required"},
		{upstream.Envelope{Action: upstream.ActionListJobs, ListJobsRequest: &upstream.ListJobsRequest{}}, upstream.PathJob, "listJobsRequest.customId: required"},
		{upstream.Envelope{Action: upstream.ActionListModels, ListModelsRequest: &upstream.ListModelsRequest{Limit: 10, Type: 1}}, upstream.PathMusicModel, "listModelsRequest.type: must be 2"},
		{upstream.Envelope{Action: upstream.ActionListModels, ListModelsRequest: &upstream.ListModelsRequest{Limit: 101, Type: 2}}, upstream.PathMusicModel, "listModelsRequest.limit"},
		{upstream.Envelope{Action: upstream.ActionCreateJob}, upstream.PathJob, "createJobRequest: required"},
		{upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "x"}, ListJobsRequest: &upstream.ListJobsRequest{CustomID: "c"}}, upstream.PathJob, "listJobsRequest: not expected"},
	}
	for _, c := range cases {
		wantError(t, b.send(t, c.path, c.env), http.StatusBadRequest, upstream.CodeInvalidParameter, c.field)
	}
	if n := b.srv.Stats().JobsCreated; n != 0 {
		t.Errorf("invalid requests created %d jobs", n)
	}
}

func TestRoutingAndTransport(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	list := &upstream.ListModelsRequest{Limit: 10, Type: 2}
	wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionListModels, ListModelsRequest: list}),
		http.StatusBadRequest, upstream.CodeInvalidParameter, "ListModels must be posted to /release/music_model")
	wantError(t, b.send(t, upstream.PathMusicModel, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "x"}}),
		http.StatusBadRequest, upstream.CodeInvalidParameter, "GetJob must be posted to /release/job")
	wantError(t, b.send(t, "/release/other", upstream.Envelope{Action: upstream.ActionListModels, ListModelsRequest: list}),
		http.StatusBadRequest, upstream.CodeInvalidParameter, "no such API")
	wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: "DeleteJob"}),
		http.StatusBadRequest, upstream.CodeInvalidParameter, `"DeleteJob" is not`)
	// The secret echoed in a field is scrubbed from the message.
	wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: testSecretKey}),
		http.StatusBadRequest, upstream.CodeInvalidParameter, "REDACTED")

	ok := `{"action":"ListModels","secretId":"` + testSecretID + `","secretKey":"` + testSecretKey + `","listModelsRequest":{"offset":0,"limit":10,"type":2}}`
	wantError(t, b.post(t, upstream.PathMusicModel, "text/plain", []byte(ok)), http.StatusBadRequest, upstream.CodeInvalidParameter, "Content-Type")
	wantError(t, b.post(t, upstream.PathMusicModel, "application/json", []byte(ok[:20])), http.StatusBadRequest, upstream.CodeInvalidParameter, "body")
	wantError(t, b.post(t, upstream.PathMusicModel, "application/json", []byte(ok+"{}")), http.StatusBadRequest, upstream.CodeInvalidParameter, "after the JSON")
	wantError(t, b.post(t, upstream.PathMusicModel, "application/json", []byte(strings.Replace(ok, `"offset"`, `"ofset"`, 1))),
		http.StatusBadRequest, upstream.CodeInvalidParameter, `unknown field "ofset"`)
	wantError(t, b.post(t, upstream.PathMusicModel, "application/json", []byte(strings.Replace(ok, `"limit":10`, `"limit":"10"`, 1))),
		http.StatusBadRequest, upstream.CodeInvalidParameter, "listModelsRequest.limit")
	if r := b.post(t, upstream.PathMusicModel, "application/json; charset=utf-8", []byte(ok)); r.status != http.StatusOK {
		t.Errorf("valid ListModels: HTTP %d %s", r.status, r.raw)
	}

	resp, err := http.Get(b.srv.URL() + upstream.PathJob)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("GET: HTTP %d, want 400", resp.StatusCode)
	}
	st := b.srv.Stats()
	if st.Count("unknown", sim.OutcomeInvalid) < 5 || st.Count(upstream.ActionListModels, sim.OutcomeOK) != 1 {
		t.Errorf("stats = %+v", st.Calls)
	}
}

func TestGetJobUnknownAndListJobs(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "nope"}}),
		http.StatusNotFound, upstream.CodeResourceNotFound, `job "nope" not found`)

	r := b.listJobs(t, "none")
	if r.status != http.StatusOK || r.body.ListJobsResponse.Total != 0 || !strings.Contains(r.raw, `"jobs":[]`) {
		t.Fatalf("ListJobs(none) = %s", r.raw)
	}
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	req.CustomID = "dup"
	first, second := b.create(t, req), b.create(t, req)
	req.CustomID = "single"
	b.create(t, req)
	// Two different requests under one customId (a group) are not paid twice.
	req.CustomID = "group"
	b.create(t, req)
	other := generate(upstream.Input{SourceData: "y"}, upstream.DefaultModel)
	other.CustomID = "group"
	b.create(t, other)
	r = b.listJobs(t, "dup")
	if lj := r.body.ListJobsResponse; lj.Total != 2 || len(lj.Jobs) != 2 || lj.Jobs[0].ID != first.ID || lj.Jobs[1].ID != second.ID {
		t.Fatalf("ListJobs(dup) = %s", r.raw)
	}
	st := b.srv.Stats()
	if d := st.DuplicateCustomIDs(); len(d) != 2 || d[0] != "dup" || d[1] != "group" || st.JobsByCustomID["single"] != 1 || st.JobsCreated != 5 {
		t.Fatalf("stats: duplicates %v, by customId %v", d, st.JobsByCustomID)
	}
	if !slices.Equal(st.PaidTwice, []string{"dup"}) {
		t.Errorf("paid twice under %v, want only dup", st.PaidTwice)
	}
	if st.JobsByState["SUBMITTED"] != 5 {
		t.Errorf("JobsByState = %v", st.JobsByState)
	}
}

func TestListModelsPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	names := []string{"m0", "m1", "m2", "m3", "m4"}
	for i, n := range names {
		if err := b.srv.AddModel(n, epoch.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.srv.AddModel("m0", time.Time{}); err == nil {
		t.Error("AddModel of an existing name succeeded")
	}
	if err := b.srv.AddModel("bad-name", time.Time{}); err == nil {
		t.Error("AddModel of an invalid name succeeded")
	}
	for _, c := range []struct {
		offset, limit int
		want          []string
	}{{0, 10, names}, {1, 2, names[1:3]}, {4, 100, names[4:]}, {5, 10, nil}, {50, 1, nil}} {
		r := b.listModels(t, c.offset, c.limit)
		lm := r.body.ListModelsResponse
		if r.status != http.StatusOK || lm.Total != 5 || len(lm.Models) != len(c.want) || !strings.Contains(r.raw, `"models":[`) {
			t.Fatalf("ListModels(%d, %d) = %s", c.offset, c.limit, r.raw)
		}
		for i, m := range lm.Models {
			if m.Name != c.want[i] || m.CreatedAt.Time().IsZero() {
				t.Errorf("ListModels(%d, %d)[%d] = %+v, want %s", c.offset, c.limit, i, m, c.want[i])
			}
		}
	}
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	b := setup(t, func(o *sim.Options) { o.Rate = 2 })
	for i := range 2 {
		if r := b.listModels(t, 0, 1); r.status != http.StatusOK {
			t.Fatalf("request %d: HTTP %d", i, r.status)
		}
	}
	b.clock.Advance(400 * time.Millisecond)
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "x"}})
	wantError(t, r, http.StatusTooManyRequests, upstream.CodeRequestLimitExceeded, "2 requests per second")
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	// Another account has its own budget.
	other := b.send(t, upstream.PathMusicModel, upstream.Envelope{Action: upstream.ActionListModels, SecretID: "other", SecretKey: "k",
		ListModelsRequest: &upstream.ListModelsRequest{Limit: 1, Type: 2}})
	if other.status != http.StatusUnauthorized {
		t.Errorf("other account: HTTP %d, want 401 (not throttled)", other.status)
	}
	b.clock.Advance(600 * time.Millisecond) // the first two leave the window
	if r := b.listModels(t, 0, 1); r.status != http.StatusOK {
		t.Fatalf("after a second: HTTP %d %s", r.status, r.raw)
	}
	if err := b.srv.SetRate(0); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if r := b.listModels(t, 0, 1); r.status != http.StatusOK {
			t.Fatalf("rate off: HTTP %d", r.status)
		}
	}
	st := b.srv.Stats()
	if st.Throttled != 1 || st.Count(upstream.ActionGetJob, sim.OutcomeThrottled) != 1 || st.Count(upstream.ActionListModels, sim.OutcomeOK) != 8 {
		t.Errorf("stats: throttled %d, calls %v", st.Throttled, st.Calls)
	}
}

func TestMaxRequestsPerSecond(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// Arrivals at 0, 0.5, 0.9, 1.0, 1.4 s: [0, 1) holds 3, [0.5, 1.5) holds 4.
	for _, step := range []time.Duration{0, 500, 400, 100, 400} {
		b.clock.Advance(step * time.Millisecond)
		b.listModels(t, 0, 1)
	}
	if got := b.srv.Stats().MaxRequestsPerSecond; got != 4 {
		t.Fatalf("MaxRequestsPerSecond = %d, want 4", got)
	}
	b.clock.Advance(10 * time.Second)
	for range 3 {
		b.listModels(t, 0, 1)
	}
	if st := b.srv.Stats(); st.MaxRequestsPerSecond != 4 || st.Requests != 8 {
		t.Fatalf("MaxRequestsPerSecond = %d, Requests = %d; want 4, 8", st.MaxRequestsPerSecond, st.Requests)
	}
	// Exactly 1 s apart is two windows.
	c := setup(t, nil)
	c.listModels(t, 0, 1)
	c.clock.Advance(time.Second)
	c.listModels(t, 0, 1)
	if got := c.srv.Stats().MaxRequestsPerSecond; got != 1 {
		t.Fatalf("two requests 1 s apart: MaxRequestsPerSecond = %d, want 1", got)
	}
}

func TestStatsEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.listModels(t, 0, 1)
	resp, err := http.Get(b.srv.URL() + sim.StatsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st sim.Stats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || st.Requests != 1 || st.Count(upstream.ActionListModels, sim.OutcomeOK) != 1 {
		t.Fatalf("GET /sim/stats: HTTP %d %+v", resp.StatusCode, st)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	for name, o := range map[string]sim.Options{
		"no credentials": {},
		"bad fault":      {Credentials: testCreds, Faults: sim.Faults{Hang: 2}},
		"bad scale":      {Credentials: testCreds, TimeScale: -1},
		"bad format":     {Credentials: testCreds, OutputFormat: "ogg"},
		"half gateway":   {Credentials: testCreds, Gateway: &sim.GatewayAuth{KeyID: "k"}},
	} {
		if s, err := sim.New(o); err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestErrorMessagesNeverEchoSecrets(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	// A wrong key that is an ordinary word does not mangle the message.
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, SecretID: testSecretID, SecretKey: "wrong", GetJobRequest: &upstream.GetJobRequest{ID: "x"}})
	wantError(t, r, http.StatusUnauthorized, upstream.CodeAuthFailure, "secretId or secretKey is wrong")
	// Values echoed from the request are withheld when they hold a secret.
	r = b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "id-" + testSecretKey}})
	wantError(t, r, http.StatusNotFound, upstream.CodeResourceNotFound, "job REDACTED not found")
	r = b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: "plain-id"}})
	wantError(t, r, http.StatusNotFound, upstream.CodeResourceNotFound, `job "plain-id" not found`)
	sentKey := "client-side-key-123"
	r = b.send(t, upstream.PathJob, upstream.Envelope{Action: sentKey, SecretID: testSecretID, SecretKey: sentKey})
	if strings.Contains(r.raw, sentKey) {
		t.Errorf("reply repeats the key the client sent: %s", r.raw)
	}
	body := `{"action":"GetJob","secretId":"x","secretKey":"y","` + testSecretKey + `":1}`
	wantError(t, b.post(t, upstream.PathJob, "application/json", []byte(body)), http.StatusBadRequest, upstream.CodeInvalidParameter, "unknown field")
}

func TestPathsStayInsideTheRepository(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, mutate := range []func(*upstream.CreateJobRequest){
		func(r *upstream.CreateJobRequest) { r.Outputs[0].SmartContentDescriptor.OutputPrefix = "../../x" },
		func(r *upstream.CreateJobRequest) { r.Outputs[0].ContentID = ".." },
		func(r *upstream.CreateJobRequest) {
			r.Inputs[0] = upstream.Input{Source: &upstream.Source{ContentID: "a/b", Path: "x.wav"}}
		},
	} {
		req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
		mutate(req)
		wantError(t, b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionCreateJob, CreateJobRequest: req}),
			http.StatusBadRequest, upstream.CodeInvalidParameter, "createJobRequest.")
	}
	// A destination climbing out is cleaned to stay inside the repository.
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)
	req.Outputs[0].Destination = "../../../escape"
	j := b.create(t, req)
	b.clock.Advance(time.Hour)
	got := b.getJob(t, j.ID)
	if got.State != upstream.StateCompleted {
		t.Fatalf("%v %q", got.State, got.Message)
	}
	p := b.srv.SongPath("repo", req.Outputs[0].Destination, got.Result().SongName)
	if !strings.HasPrefix(p, b.dir+"/repo/") {
		t.Fatalf("song written to %s, outside %s/repo", p, b.dir)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}

func TestArrivalsKeptOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	kept := setup(t, func(o *sim.Options) { o.KeepArrivals = true })
	plain := setup(t, nil)
	for _, step := range []time.Duration{0, 300, 1200} {
		kept.clock.Advance(step * time.Millisecond)
		kept.listModels(t, 0, 1)
		plain.listModels(t, 0, 1)
	}
	got := kept.srv.Arrivals()
	want := []time.Time{epoch, epoch.Add(300 * time.Millisecond), epoch.Add(1500 * time.Millisecond)}
	if !slices.EqualFunc(got, want, time.Time.Equal) {
		t.Errorf("Arrivals = %v, want %v", got, want)
	}
	if n := len(plain.srv.Arrivals()); n != 0 {
		t.Errorf("without KeepArrivals, %d arrivals kept", n)
	}
}
