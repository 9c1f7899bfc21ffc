package sim_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// BenchmarkCreateAndGet measures CreateJob + GetJob round trips under SkipFetch, the
// load-test setup.
func BenchmarkCreateAndGet(b *testing.B) {
	srv, err := sim.New(sim.Options{Credentials: testCreds, SkipFetch: true, TimeScale: 0.0001, OutputDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	client := &http.Client{}
	post := func(env upstream.Envelope) upstream.Response {
		raw, _ := json.Marshal(env)
		resp, err := client.Post(srv.URL()+upstream.PathJob, "application/json", bytes.NewReader(raw))
		if err != nil {
			b.Fatal(err)
		}
		defer resp.Body.Close()
		var r upstream.Response
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("HTTP %d: %v", resp.StatusCode, err)
		}
		return r
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		req := generate(upstream.Input{URL: "http://example.invalid/a.mp3"}, upstream.DefaultModel)
		req.CustomID = fmt.Sprintf("bench-%d", i)
		r := post(upstream.Envelope{Action: upstream.ActionCreateJob, SecretID: testSecretID, SecretKey: testSecretKey, CreateJobRequest: req})
		post(upstream.Envelope{Action: upstream.ActionGetJob, SecretID: testSecretID, SecretKey: testSecretKey,
			GetJobRequest: &upstream.GetJobRequest{ID: r.CreateJobResponse.Job.ID}})
	}
}
