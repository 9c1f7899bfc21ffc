package upstream

import (
	"errors"
	"net/http"
	"testing"
)

// replyClient is a client whose every call gets body with HTTP 200.
func replyClient(t *testing.T, body string) *Client {
	t.Helper()
	c, _, _ := fuzzClient(t, http.StatusOK, "", []byte(body))
	return c
}

// Numbers sent as strings and strings sent as numbers are read: a job's state (also by
// name), its id, and the lists' totals. A state that cannot be read is one not known (0,
// never final); a job whose id or structure cannot be read is still an error.
func TestRepliesOfOtherJSONTypes(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	for _, tc := range []struct {
		body  string
		id    string
		state JobState
	}{
		{`{"getJobResponse":{"job":{"id":"j1","state":3}}}`, "j1", StateCompleted},
		{`{"getJobResponse":{"job":{"id":"j1","state":"3"}}}`, "j1", StateCompleted},
		{`{"getJobResponse":{"job":{"id":"j1","state":"completed"}}}`, "j1", StateCompleted},
		{`{"getJobResponse":{"job":{"id":"j1","state":"CANCELLED"}}}`, "j1", StateCanceled},
		{`{"getJobResponse":{"job":{"id":"j1","state":4.0}}}`, "j1", StateError},
		{`{"getJobResponse":{"job":{"id":"j1","state":null}}}`, "j1", 0},
		{`{"getJobResponse":{"job":{"id":"j1","state":9}}}`, "j1", 9},
		{`{"getJobResponse":{"job":{"id":"j1","state":"DONE-ISH"}}}`, "j1", 0},
		{`{"getJobResponse":{"job":{"id":"j1","state":3.5}}}`, "j1", 0},
	} {
		job, err := replyClient(t, tc.body).GetJob(ctx, "j1")
		if err != nil || job.ID != tc.id || job.State != tc.state {
			t.Errorf("%s: %+v, %v; want id %s, state %v", tc.body, job, err, tc.id, tc.state)
		}
	}
	job, err := replyClient(t, `{"createJobResponse":{"job":{"id":12345,"state":"1"}}}`).CreateJob(ctx, fuzzCreateRequest(t))
	if err != nil || job.ID != "12345" || job.State != StateSubmitted {
		t.Errorf("numeric id: %+v, %v", job, err)
	}
	jobs, total, err := replyClient(t, `{"listJobsResponse":{"total":"2","jobs":[{"id":1,"state":"2"},{"id":"b","state":3}]}}`).ListJobsPartial(ctx, "c")
	if err != nil || total != 2 || len(jobs) != 2 || jobs[0].ID != "1" || jobs[0].State != StateProcessing {
		t.Errorf("list: %+v total %d, %v", jobs, total, err)
	}
	models, err := replyClient(t, `{"listModelsResponse":{"total":"1","models":[{"name":"a","createdAt":1610513575000}]}}`).AllModels(ctx)
	if err != nil || len(models) != 1 || models[0].Name != "a" {
		t.Errorf("models: %+v, %v", models, err)
	}
	// An unreadable total is one not given: the walk goes on to an empty page.
	if resp, err := replyClient(t, `{"listModelsResponse":{"total":"many","models":[]}}`).ListModels(ctx, 0, 10); err != nil || resp.Total != 0 {
		t.Errorf("unreadable total: %+v, %v", resp, err)
	}
	for _, body := range []string{
		`{"getJobResponse":{"job":{"id":{"x":1},"state":3}}}`,
		`{"getJobResponse":{"job":{"id":"j1","state":3,"timing":"soon"}}}`,
	} {
		if job, err := replyClient(t, body).GetJob(ctx, "j1"); err == nil || !errors.Is(err, ErrTransient) {
			t.Errorf("%s: %+v, %v; want a transient error", body, job, err)
		}
	}
}
