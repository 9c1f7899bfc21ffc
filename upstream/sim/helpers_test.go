package sim_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

const (
	testSecretID  = "AKIDsimTestId"
	testSecretKey = "simTestKey-s3cr3t"
)

var testCreds = upstream.Credentials{SecretID: upstream.NewSecret(testSecretID), SecretKey: upstream.NewSecret(testSecretKey)}

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// bundle is one test's simulator and what surrounds it.
type bundle struct {
	srv   *sim.Server
	dir   string
	clock *sim.ManualClock // nil with the real clock
}

// setup starts a simulator with exact timing (no jitter) on a manual clock unless
// configure sets Clock to nil-able real time via realClock.
func setup(t *testing.T, configure func(*sim.Options)) *bundle {
	t.Helper()
	b := &bundle{dir: t.TempDir(), clock: sim.NewManualClock(epoch)}
	opts := sim.Options{
		Credentials: testCreds,
		OutputDir:   b.dir,
		Clock:       b.clock,
		Seed:        7,
		Timing:      sim.Timing{Jitter: -1},
	}
	if configure != nil {
		configure(&opts)
	}
	if opts.Clock == nil {
		b.clock = nil
	}
	srv, err := sim.New(opts)
	if err != nil {
		t.Fatalf("sim.New: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	b.srv = srv
	return b
}

// realTime switches a bundle to the real clock, scaled down.
func realTime(o *sim.Options) {
	o.Clock = nil
	o.TimeScale = 0.001
}

type reply struct {
	status int
	header http.Header
	body   upstream.Response
	raw    string
}

// send posts env to path with the right credentials filled in unless already set.
func (b *bundle) send(t *testing.T, path string, env upstream.Envelope) reply {
	t.Helper()
	if env.SecretID == "" {
		env.SecretID, env.SecretKey = testSecretID, testSecretKey
	}
	raw, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return b.post(t, path, "application/json", raw)
}

func (b *bundle) post(t *testing.T, path, contentType string, body []byte) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, b.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if err := json.Unmarshal(raw, &r.body); err != nil {
		t.Fatalf("POST %s: reply is not JSON: %v: %s", path, err, raw)
	}
	if r.body.RequestID == "" {
		t.Errorf("POST %s: reply has no requestId: %s", path, raw)
	}
	return r
}

func (b *bundle) create(t *testing.T, req *upstream.CreateJobRequest) upstream.Job {
	t.Helper()
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionCreateJob, CreateJobRequest: req})
	if r.status != http.StatusOK || r.body.CreateJobResponse == nil || r.body.CreateJobResponse.Job == nil {
		t.Fatalf("CreateJob: HTTP %d: %s", r.status, r.raw)
	}
	return *r.body.CreateJobResponse.Job
}

func (b *bundle) getJob(t *testing.T, id string) upstream.Job {
	t.Helper()
	r := b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionGetJob, GetJobRequest: &upstream.GetJobRequest{ID: id}})
	if r.status != http.StatusOK || r.body.GetJobResponse == nil || r.body.GetJobResponse.Job == nil {
		t.Fatalf("GetJob: HTTP %d: %s", r.status, r.raw)
	}
	return *r.body.GetJobResponse.Job
}

func (b *bundle) listJobs(t *testing.T, customID string) reply {
	t.Helper()
	return b.send(t, upstream.PathJob, upstream.Envelope{Action: upstream.ActionListJobs, ListJobsRequest: &upstream.ListJobsRequest{CustomID: customID}})
}

func (b *bundle) listModels(t *testing.T, offset, limit int) reply {
	t.Helper()
	return b.send(t, upstream.PathMusicModel, upstream.Envelope{Action: upstream.ActionListModels,
		ListModelsRequest: &upstream.ListModelsRequest{Offset: offset, Limit: limit, Type: upstream.ModelListType}})
}

// waitFinal polls GetJob (real clock) until the job is final.
func (b *bundle) waitFinal(t *testing.T, id string) upstream.Job {
	t.Helper()
	var j upstream.Job
	eventually(t, func() bool {
		j = b.getJob(t, id)
		return j.State.Final()
	})
	return j
}

// eventually polls cond for up to 10 s.
func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// putSource writes a WAV of d into the repository folder and returns its source.
func (b *bundle) putSource(t *testing.T, contentID, path string, d time.Duration) *upstream.Source {
	t.Helper()
	p := filepath.Join(b.dir, contentID, filepath.FromSlash(path))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := sim.WriteWAV(f, d, 220); err != nil {
		t.Fatal(err)
	}
	return &upstream.Source{ContentID: contentID, Path: path}
}

func generate(in upstream.Input, model string) *upstream.CreateJobRequest {
	return &upstream.CreateJobRequest{
		CustomID: "gen-1",
		Inputs:   []upstream.Input{in},
		Outputs: []upstream.Output{{
			ContentID:      "repo",
			Destination:    "/output/gen-1",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				OutputPrefix:   "p_",
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: model},
			},
		}},
	}
}

func train(in upstream.Input, model string, epochs int) *upstream.CreateJobRequest {
	return &upstream.CreateJobRequest{
		CustomID: "train-" + model,
		Inputs:   []upstream.Input{in},
		Outputs: []upstream.Output{{
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: model, TotalEpoch: epochs},
			},
		}},
	}
}

// audioServer serves generated audio and a few bad answers.
func audioServer(t *testing.T) *httptest.Server {
	t.Helper()
	wav := func(d time.Duration) []byte {
		var buf bytes.Buffer
		if err := sim.WriteWAV(&buf, d, 330); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	var mp3 bytes.Buffer
	if err := sim.WriteMP3(&mp3, 90*time.Second); err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"/song.wav":  wav(30 * time.Second),
		"/voice.mp3": mp3.Bytes(),
		"/short.wav": wav(20 * time.Second),
		"/page.html": []byte("<html>hello</html>"),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// callbackSink records callback POSTs.
type callbackSink struct {
	*httptest.Server
	mu   sync.Mutex
	jobs []upstream.Job
	raw  [][]byte
	at   []time.Time
}

func newCallbackSink(t *testing.T) *callbackSink {
	t.Helper()
	s := &callbackSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var j upstream.Job
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "want POST JSON", http.StatusBadRequest)
			return
		}
		raw, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if err := json.Unmarshal(raw, &j); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.jobs = append(s.jobs, j)
		s.raw = append(s.raw, raw)
		s.at = append(s.at, time.Now())
		s.mu.Unlock()
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *callbackSink) received() []upstream.Job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]upstream.Job{}, s.jobs...)
}
