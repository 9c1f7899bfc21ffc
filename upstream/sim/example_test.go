package sim_test

import (
	"context"
	"fmt"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Example runs a generation job through the simulator on a manual clock: the job waits
// in the queue, is processed, and completes, as the real service's would.
func Example() {
	creds := upstream.Credentials{SecretID: upstream.NewSecret("id"), SecretKey: upstream.NewSecret("key")}
	clock := sim.NewManualClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	srv, err := sim.New(sim.Options{Credentials: creds, Clock: clock, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer srv.Close()
	client, err := upstream.New(upstream.Options{BaseURL: srv.URL(), Credentials: creds})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := context.Background()
	job, err := client.CreateJob(ctx, &upstream.CreateJobRequest{
		CustomID: "demo-1",
		Inputs:   []upstream.Input{{SourceData: "la la la"}},
		Outputs: []upstream.Output{{ContentID: "repo1", Destination: "/out", InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{SingingCloning: &upstream.SingingCloning{
				Type: upstream.TypeGenerate, ModelName: upstream.DefaultModel, UseSeparate: upstream.SwitchOff}}}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", job.State)
	for _, wait := range []time.Duration{time.Second, time.Hour} {
		clock.Advance(wait)
		if job, err = client.GetJob(ctx, job.ID); err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("after %v: %s\n", wait, job.State)
	}
	took := job.Timing.CompletedAt.Time().Sub(job.Timing.CreatedAt.Time())
	fmt.Println("result:", job.Result().SongName != "", "took more than 10 s:", took > 10*time.Second)
	// Output:
	// created: SUBMITTED
	// after 1s: SUBMITTED
	// after 1h0m0s: COMPLETED
	// result: true took more than 10 s: true
}
