package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/singbatch/singbatch/upstream"
)

// Example creates a generation job and polls it once, against a stand-in server that
// creates every job as SUBMITTED and reports it COMPLETED.
func Example() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env upstream.Envelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		job := &upstream.Job{ID: "job-1", State: upstream.StateSubmitted}
		resp := upstream.Response{RequestID: "req-1"}
		switch env.Action {
		case upstream.ActionCreateJob:
			job.CustomID, job.Inputs, job.Outputs = env.CreateJobRequest.CustomID, env.CreateJobRequest.Inputs, env.CreateJobRequest.Outputs
			resp.CreateJobResponse = &upstream.CreateJobResponse{Job: job}
		case upstream.ActionGetJob:
			job.State = upstream.StateCompleted
			job.Outputs = []upstream.Output{{SmartContentResult: &upstream.SmartContentResult{
				SingingCloning: &upstream.SingingCloningResult{SongName: "out.mp3"},
			}}}
			resp.GetJobResponse = &upstream.GetJobResponse{Job: job}
		}
		_ = json.NewEncoder(w).Encode(resp)
	}))
	defer srv.Close()

	client, err := upstream.New(upstream.Options{
		BaseURL: srv.URL,
		Credentials: upstream.Credentials{
			SecretID:  upstream.NewSecret("my-secret-id"),
			SecretKey: upstream.NewSecret("my-secret-key"),
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	job, err := client.CreateJob(ctx, &upstream.CreateJobRequest{
		CustomID: "batch-1-item-7",
		Inputs:   []upstream.Input{{URL: "https://media.example.test/song.mp3"}},
		Outputs: []upstream.Output{{
			ContentID:      "repo-1",
			Destination:    "/out/batch-1-item-7",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: upstream.DefaultModel},
			},
		}},
	})
	switch {
	case errors.Is(err, upstream.ErrAmbiguous):
		fmt.Println("the job may exist: look it up with ListJobs before creating again")
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println("created", job.ID, job.State)

	job, err = client.GetJob(ctx, job.ID)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("now", job.State, "final:", job.State.Final(), "song:", job.Result().SongName)
	// Output:
	// created job-1 SUBMITTED
	// now COMPLETED final: true song: out.mp3
}

// ExampleAPIError shows how a failure is told apart: by class, never by its text.
func ExampleAPIError() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "2")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	client, err := upstream.New(upstream.Options{
		BaseURL:     srv.URL,
		Credentials: upstream.Credentials{SecretID: upstream.NewSecret("id"), SecretKey: upstream.NewSecret("key")},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	_, err = client.CreateJob(context.Background(), &upstream.CreateJobRequest{
		Inputs: []upstream.Input{{URL: "https://media.example.test/voice.wav"}},
		Outputs: []upstream.Output{{SmartContentDescriptor: &upstream.SmartContentDescriptor{
			SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: "my_voice"},
		}}},
	})
	var apiErr *upstream.APIError
	if errors.As(err, &apiErr) && errors.Is(err, upstream.ErrRateLimited) {
		fmt.Println("rate limited; retry after", apiErr.RetryAfter)
	}
	// Output: rate limited; retry after 2s
}
