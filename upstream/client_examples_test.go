package upstream_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/upstream"
)

// exampleVars fills the examples' placeholders with distinctive values.
var exampleVars = map[string]string{
	"secretId":     testSecretID,
	"secretKey":    testSecretKey,
	"customId":     "item-rt-0042",
	"callback":     "https://callback.example.test/hook?item=42&k=<v>",
	"url":          "https://media.example.test/songs/42.mp3",
	"contentId":    "repo-xyz-42",
	"outputPrefix": "pfx42_",
	"destination":  "/out/item-rt-0042",
	"id":           "a95e9d74-6602-4405-a3fc-6408a76bcc98",
}

// TestRequestExamples builds every request example from typed values, sends it through
// the client's real encoding path and compares the body the server got with the example.
// The server answers with the matching response example, which the client must return.
func TestRequestExamples(t *testing.T) {
	t.Parallel()
	v := exampleVars
	createGenerate := &upstream.CreateJobRequest{
		CustomID: v["customId"],
		Callback: v["callback"],
		Inputs:   []upstream.Input{{URL: v["url"]}},
		Outputs: []upstream.Output{{
			ContentID:      v["contentId"],
			Destination:    "/output",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				OutputPrefix:   v["outputPrefix"],
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: upstream.DefaultModel},
			},
		}},
	}
	createTrain := &upstream.CreateJobRequest{
		CustomID: v["customId"],
		Callback: v["callback"],
		Inputs:   []upstream.Input{{URL: v["url"]}},
		Outputs: []upstream.Output{{
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: "demo"},
			},
		}},
	}
	tests := []struct {
		request, response string
		path              string
		call              func(context.Context, *upstream.Client) (any, error)
		want              func(*upstream.Response) any
	}{
		{
			request: "create-generate.request.json", response: "create-generate.response.json", path: upstream.PathJob,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.CreateJob(ctx, createGenerate) },
			want: func(r *upstream.Response) any { return r.CreateJobResponse.Job },
		},
		{
			request: "create-train.request.json", response: "create-train.response.json", path: upstream.PathJob,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.CreateJob(ctx, createTrain) },
			want: func(r *upstream.Response) any { return r.CreateJobResponse.Job },
		},
		{
			request: "getjob.request.json", response: "getjob-generate.response.json", path: upstream.PathJob,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.GetJob(ctx, v["id"]) },
			want: func(r *upstream.Response) any { return r.GetJobResponse.Job },
		},
		{
			request: "listjobs.request.json", response: "listjobs-train.response.json", path: upstream.PathJob,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.ListJobs(ctx, v["customId"]) },
			want: func(r *upstream.Response) any { return r.ListJobsResponse.Jobs },
		},
		{
			request: "listmodels.request.json", response: "listmodels.response.json", path: upstream.PathMusicModel,
			call: func(ctx context.Context, c *upstream.Client) (any, error) { return c.ListModels(ctx, 0, 10) },
			want: func(r *upstream.Response) any { return r.ListModelsResponse },
		},
	}
	for _, tt := range tests {
		t.Run(tt.request, func(t *testing.T) {
			t.Parallel()
			respBody := readExample(t, tt.response, exampleVars)
			b := setupClient(t, func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write(respBody)
			})
			got, err := tt.call(t.Context(), b.client)
			if err != nil {
				t.Fatalf("call: %v", err)
			}
			if b.rec.count() != 1 {
				t.Fatalf("server got %d requests, want 1", b.rec.count())
			}
			if got, ct := b.rec.target(0), b.rec.header(0).Get("Content-Type"); got != "POST "+tt.path || ct != "application/json" {
				t.Errorf("sent %s (%s), want POST %s (application/json)", got, ct, tt.path)
			}
			jsonEqual(t, b.rec.body(0), readExample(t, tt.request, exampleVars))

			var want upstream.Response
			if err := json.Unmarshal(respBody, &want); err != nil {
				t.Fatalf("decode response example: %v", err)
			}
			if w := tt.want(&want); !reflect.DeepEqual(got, w) {
				t.Errorf("client returned %+v, want %+v", got, w)
			}
		})
	}
}

// TestResponseExamples decodes every response example into the typed Response and
// re-encodes it: nothing may be lost or changed.
func TestResponseExamples(t *testing.T) {
	t.Parallel()
	for _, name := range []string{
		"create-generate.response.json", "create-train.response.json",
		"getjob-generate.response.json", "getjob-train.response.json",
		"listjobs-generate.response.json", "listjobs-train.response.json",
		"listmodels.response.json",
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			orig := readExample(t, name, nil)
			var resp upstream.Response
			if err := json.Unmarshal(orig, &resp); err != nil {
				t.Fatalf("decode: %v", err)
			}
			again, err := json.Marshal(&resp)
			if err != nil {
				t.Fatalf("encode: %v", err)
			}
			jsonEqual(t, again, orig)
		})
	}
}

// TestResponseLenientDecoding: timing values as numbers and an unknown state still decode,
// through the client, and the state is kept as sent.
func TestResponseLenientDecoding(t *testing.T) {
	t.Parallel()
	body := string(readExample(t, "getjob-generate.response.json", exampleVars))
	body = strings.ReplaceAll(body, `"1610513575000"`, `1610513575000`)
	body = strings.ReplaceAll(body, `"completedAt": "1610513618000"`, `"completedAt": 1610513618000.0`)
	body = strings.Replace(body, `"state": 3`, `"state": 9`, 1)
	if strings.Contains(body, `"1610513575000"`) || !strings.Contains(body, `"state": 9`) {
		t.Fatal("example did not change as the test expects")
	}
	b := setupClient(t, reply(http.StatusOK, body))
	job, err := b.client.GetJob(t.Context(), exampleVars["id"])
	if err != nil {
		t.Fatalf("GetJob: %v", err)
	}
	want := upstream.Timing{CreatedAt: 1610513575000, StartedAt: 1610513575000, CompletedAt: 1610513618000}
	if job.Timing != want {
		t.Errorf("timing = %+v, want %+v", job.Timing, want)
	}
	if job.State != 9 || job.State.Final() || job.State.String() != "STATE(9)" {
		t.Errorf("state = %d (%s, final %v), want 9 kept as unknown", job.State, job.State, job.State.Final())
	}
	if res := job.Result(); res == nil || res.SongName != "out.mp3" {
		t.Errorf("result = %+v, want songName out.mp3", res)
	}
	out, err := json.Marshal(job)
	if err != nil {
		t.Fatalf("encode: %v", err)
	}
	if !strings.Contains(string(out), `"createdAt":"1610513575000"`) || !strings.Contains(string(out), `"state":9`) {
		t.Errorf("re-encoded job %s: want string timing and state 9", out)
	}
}
