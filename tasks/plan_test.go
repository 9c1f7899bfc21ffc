package tasks

import (
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
	"github.com/singbatch/singbatch/upstream"
)

func TestPlanManifests(t *testing.T) {
	t.Parallel()
	jsonl := `{"id":"t1","kind":"train","model":"alice","urls":["https://cdn.example.com/1.wav"]}
{"id":"s1","kind":"song","url":"https://cdn.example.com/1.mp3","contentId":"r","model":"alice"}
{"id":"s2","kind":"song","url":"https://cdn.example.com/2.mp3","contentId":"r"}
{"id":"s3","kind":"song","url":"https://cdn.example.com/3.mp3","contentId":"r","model":"bob"}
{"id":"s4","kind":"song","url":"ftp://x","contentId":"r"}
{"id":"s5","kind":"song"}
`
	var problems []string
	p, err := PlanManifests("b", 4, []string{"-"}, strings.NewReader(jsonl), manifest.FormatJSONL, nil,
		func(le *batch.LineError) { problems = append(problems, le.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	if p.Songs != 3 || p.Trainings != 1 || p.Rejected != 2 || len(problems) != 3 {
		t.Errorf("plan %+v, problems %q", p, problems)
	}
	// 4 CreateJob + ceil(4 × 1.3) = 6 GetJob, at 4/s.
	if p.CreateJobCalls() != 4 || p.PollCalls() != 6 || p.Calls() != 10 || p.CallTime() != 3*time.Second {
		t.Errorf("calls %d + %d = %d in %v", p.CreateJobCalls(), p.PollCalls(), p.Calls(), p.CallTime())
	}
	var out strings.Builder
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"  items           4: 3 songs, 1 training\n",
		"  models trained  1: alice\n",
		"  models used     3: alice (1 song, trained here), bob (1 song, not trained here: must exist), default (1 song, built in)\n",
		"  upstream calls  ≈ 10: 4 CreateJob (1 per item) + ≈ 6 GetJob (1.3 per item)\n",
		"  request time    ≈ 3s at UPSTREAM_RATE 4/s (10 calls ÷ 4/s)",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPlanListsManyModels(t *testing.T) {
	t.Parallel()
	p := NewPlan("b", 5)
	for i := range 25 {
		p.Add(batch.Item{Kind: batch.KindTrain, Model: string(rune('a'+i)) + "_v1"})
	}
	var out strings.Builder
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "  models trained  25: a_v1, b_v1, c_v1, d_v1, e_v1, f_v1, g_v1, h_v1, i_v1, j_v1 and 15 more\n") {
		t.Errorf("plan:\n%s", out.String())
	}
}

// The plan gives each class of work the duration learned for it, and the batch time
// they add up to; a class not learned yet says so, and no batch time is made up.
func TestPlanUsesLearnedDurations(t *testing.T) {
	t.Parallel()
	jsonl := `{"id":"t1","kind":"train","model":"alice","urls":["https://cdn.example.com/1.wav"],"epochs":10}
{"id":"s1","kind":"song","url":"https://cdn.example.com/1.mp3","contentId":"r","model":"alice"}
{"id":"s2","kind":"song","url":"https://cdn.example.com/2.mp3","contentId":"r","separate":true}
`
	p, err := PlanManifests("b", 1, []string{"-"}, strings.NewReader(jsonl), manifest.FormatJSONL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p.Learned = []ClassDuration{
		{Class: "song", Jobs: 64, Median: 40 * time.Second, P90: 45 * time.Second},
		{Class: "song-separate", Jobs: 12, Median: 70 * time.Second, P90: 80 * time.Second},
		{Class: "train-e10", Jobs: 3, Median: 9 * time.Minute, P90: 10 * time.Minute},
		{Class: "train-e30", Jobs: 3, Median: time.Hour, P90: time.Hour},
	}
	var out strings.Builder
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	// 3 CreateJob + 4 GetJob at 1/s = 7 s, then the training (10 min) and a song (at
	// most the longest song class, 80 s).
	for _, want := range []string{
		"  job durations   song: 1 item, ≈ 40s each (median of 64 recent jobs; 90% within 45s)\n",
		"                  song-separate: 1 item, ≈ 1m10s each (median of 12 recent jobs; 90% within 1m20s)\n",
		"                  train-e10: 1 item, ≈ 9m0s each (median of 3 recent jobs; 90% within 10m0s)\n",
		"  batch time      ≈ 11m27s from the learned durations: request time + a training and then the songs that wait for it\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("plan text lacks %q:\n%s", want, out.String())
		}
	}
	p.Learned = p.Learned[:1]
	out.Reset()
	if err := p.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "train-e10: 1 item, not learned yet (its first jobs find out)") || strings.Contains(out.String(), "batch time") {
		t.Errorf("plan with a class not learned:\n%s", out.String())
	}
}

// A training of a name the service has, or of the built-in model, is a rejected line of
// the plan, as it is of enqueue.
func TestPlanRejectsTakenNames(t *testing.T) {
	t.Parallel()
	jsonl := `{"id":"t1","kind":"train","model":"taken_v1","urls":["https://cdn.example.com/1.wav"]}
{"id":"t2","kind":"train","model":"default","urls":["https://cdn.example.com/1.wav"]}
{"id":"t3","kind":"train","model":"fresh_v1","urls":["https://cdn.example.com/1.wav"]}
{"id":"s1","kind":"song","url":"https://cdn.example.com/1.mp3","contentId":"r","model":"taken_v1"}
`
	var problems []string
	p, err := PlanManifests("b", 4, []string{"-"}, strings.NewReader(jsonl), manifest.FormatJSONL,
		NewServiceModels([]upstream.Model{{Name: "taken_v1"}}), func(le *batch.LineError) { problems = append(problems, le.Error()) })
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`stdin:1: model: "taken_v1" already exists at the service (ListModels); a model name can be trained once`,
		`stdin:2: model: "default" is the service's built-in model; a training needs a name of its own`,
	}
	if strings.Join(problems, "\n") != strings.Join(want, "\n") || p.Rejected != 2 || p.Trainings != 1 || p.Songs != 1 {
		t.Errorf("problems %q (rejected %d, %d trainings, %d songs), want %q", problems, p.Rejected, p.Trainings, p.Songs, want)
	}
}
