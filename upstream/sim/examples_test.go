package sim_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/upstream"
)

// keyPaths lists every key path in a JSON document ("a.b[].c"), sorted.
func keyPaths(t *testing.T, raw []byte) []string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, e := range x {
				p := strings.TrimPrefix(prefix+"."+k, ".")
				set[p] = true
				walk(p, e)
			}
		case []any:
			for _, e := range x {
				walk(prefix+"[]", e)
			}
		}
	}
	walk("", v)
	var out []string
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func example(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", "upstream", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameShape(t *testing.T, what string, got []byte, exampleName string, ignore ...string) {
	t.Helper()
	want := slices.DeleteFunc(keyPaths(t, example(t, exampleName)), func(k string) bool { return slices.Contains(ignore, k) })
	if g := keyPaths(t, got); !slices.Equal(g, want) {
		t.Errorf("%s has keys\n%v\nwant those of %s:\n%v", what, g, exampleName, want)
	}
}

// The provider's example requests, placeholders filled in, are accepted, and the
// simulator's replies have exactly the examples' shape.
func TestProviderExamples(t *testing.T) {
	t.Parallel()
	audio := audioServer(t)
	sink := newCallbackSink(t)
	b := setup(t, realTime)
	fill := func(name, url string) []byte {
		r := strings.NewReplacer("{secretId}", testSecretID, "{secretKey}", testSecretKey, "{customId}", "ex-"+name,
			"{callback}", sink.URL, "{url}", url, "{contentId}", "repo", "{outputPrefix}", "ex_")
		return []byte(r.Replace(string(example(t, name+".request.json"))))
	}

	gen := b.post(t, upstream.PathJob, "application/json", fill("create-generate", audio.URL+"/song.wav"))
	sameShape(t, "CreateJob (generate) reply", []byte(gen.raw), "create-generate.response.json")
	tr := b.post(t, upstream.PathJob, "application/json", fill("create-train", audio.URL+"/voice.mp3"))
	sameShape(t, "CreateJob (train) reply", []byte(tr.raw), "create-train.response.json")

	for _, c := range []struct {
		id, kind string
		ignore   []string
	}{
		{gen.body.CreateJobResponse.Job.ID, "generate", nil},
		// The provider's train example shows an outputPrefix its request never sent.
		{tr.body.CreateJobResponse.Job.ID, "train", []string{"getJobResponse.job.outputs[].smartContentDescriptor.outputPrefix"}},
	} {
		if j := b.waitFinal(t, c.id); j.State != upstream.StateCompleted {
			t.Fatalf("%s job: %v %q", c.kind, j.State, j.Message)
		}
		get := strings.ReplaceAll(string(example(t, "getjob.request.json")), "{id}", c.id)
		get = strings.NewReplacer("{secretId}", testSecretID, "{secretKey}", testSecretKey).Replace(get)
		r := b.post(t, upstream.PathJob, "application/json", []byte(get))
		sameShape(t, "GetJob ("+c.kind+") reply", []byte(r.raw), "getjob-"+c.kind+".response.json", c.ignore...)

		list := strings.NewReplacer("{secretId}", testSecretID, "{secretKey}", testSecretKey, "{customId}", "ex-create-"+c.kind).
			Replace(string(example(t, "listjobs.request.json")))
		r = b.post(t, upstream.PathJob, "application/json", []byte(list))
		var ignore []string
		for _, k := range c.ignore {
			ignore = append(ignore, strings.Replace(k, "getJobResponse.job.", "listJobsResponse.jobs[].", 1))
		}
		sameShape(t, "ListJobs ("+c.kind+") reply", []byte(r.raw), "listjobs-"+c.kind+".response.json", ignore...)
	}

	lm := strings.NewReplacer("{secretId}", testSecretID, "{secretKey}", testSecretKey).Replace(string(example(t, "listmodels.request.json")))
	r := b.post(t, upstream.PathMusicModel, "application/json", []byte(lm))
	if r.status != http.StatusOK || r.body.ListModelsResponse.Total != 1 || r.body.ListModelsResponse.Models[0].Name != "demo" {
		t.Fatalf("ListModels = %s", r.raw)
	}
	sameShape(t, "ListModels reply", []byte(r.raw), "listmodels.response.json")

	// The callback body is the Job under getJobResponse.job.
	eventually(t, func() bool { return len(sink.received()) == 2 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	for i, j := range sink.jobs {
		if j.ID == gen.body.CreateJobResponse.Job.ID {
			wrapped := `{"requestId":"r","getJobResponse":{"job":` + string(sink.raw[i]) + `}}`
			sameShape(t, "callback body", []byte(wrapped), "getjob-generate.response.json")
		}
	}
}
