package sim_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// These drive the simulator through the project's own client.

func newClient(t *testing.T, b *bundle, configure func(*upstream.Options)) *upstream.Client {
	t.Helper()
	o := upstream.Options{BaseURL: b.srv.URL(), Credentials: testCreds, MaxAttempts: 1, Timeout: 5 * time.Second}
	if b.clock != nil {
		o.Now = b.clock.Now
	}
	if configure != nil {
		configure(&o)
	}
	c, err := upstream.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	audio := audioServer(t)
	b := setup(t, realTime)
	c := newClient(t, b, nil)

	tr, err := c.CreateJob(ctx, train(upstream.Input{URL: audio.URL + "/voice.mp3"}, "clientvoice", 0))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, func() bool {
		j, err := c.GetJob(ctx, tr.ID)
		if err != nil {
			t.Fatal(err)
		}
		return j.State == upstream.StateCompleted
	})
	models, err := c.AllModels(ctx)
	if err != nil || len(models) != 1 || models[0].Name != "clientvoice" {
		t.Fatalf("AllModels = %+v, %v", models, err)
	}
	req := generate(upstream.Input{URL: audio.URL + "/song.wav"}, "clientvoice")
	req.CustomID = "client-gen"
	gen, err := c.CreateJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	var done *upstream.Job
	eventually(t, func() bool {
		jobs, err := c.ListJobs(ctx, "client-gen")
		if err != nil || len(jobs) != 1 || jobs[0].ID != gen.ID {
			t.Fatalf("ListJobs = %+v, %v", jobs, err)
		}
		done = &jobs[0]
		return done.State.Final()
	})
	if done.State != upstream.StateCompleted || done.Result() == nil || done.Result().SongName != "p_out.wav" {
		t.Fatalf("generation = %v %+v %q", done.State, done.Result(), done.Message)
	}

	_, err = c.GetJob(ctx, "no-such-job")
	if !errors.Is(err, upstream.ErrNotFound) {
		t.Fatalf("GetJob(unknown) = %v, want ErrNotFound", err)
	}
	bad := newClient(t, b, func(o *upstream.Options) {
		o.Credentials.SecretKey = upstream.NewSecret("wrong")
	})
	if _, err := bad.ListModels(ctx, 0, 10); !errors.Is(err, upstream.ErrAuth) {
		t.Fatalf("wrong key: %v, want ErrAuth", err)
	}
}

func TestClientSeesFaults(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, realTime)
	c := newClient(t, b, nil)
	impatient := newClient(t, b, func(o *upstream.Options) { o.Timeout = 150 * time.Millisecond })
	req := generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel)

	set := func(f sim.Faults) {
		t.Helper()
		if err := b.srv.SetFaults(f); err != nil {
			t.Fatal(err)
		}
	}
	set(sim.Faults{LoseCreate: 1})
	req.CustomID = "lost"
	if _, err := c.CreateJob(ctx, req); !errors.Is(err, upstream.ErrAmbiguous) {
		t.Fatalf("lost CreateJob: %v, want ErrAmbiguous", err)
	}
	if jobs, err := c.ListJobs(ctx, "lost"); err != nil || len(jobs) != 1 {
		t.Fatalf("ListJobs after a lost create = %d jobs, %v", len(jobs), err)
	}

	set(sim.Faults{Hang: 1})
	if _, err := impatient.GetJob(ctx, "x"); !errors.Is(err, upstream.ErrTransient) {
		t.Fatalf("hung GetJob: %v, want ErrTransient", err)
	}
	req.CustomID = "hung"
	if _, err := impatient.CreateJob(ctx, req); !errors.Is(err, upstream.ErrAmbiguous) {
		t.Fatalf("hung CreateJob: %v, want ErrAmbiguous", err)
	}

	set(sim.Faults{InternalError: 1})
	if _, err := c.ListModels(ctx, 0, 10); !errors.Is(err, upstream.ErrTransient) {
		t.Fatalf("5xx ListModels: %v, want ErrTransient", err)
	}
	set(sim.Faults{})
	if err := b.srv.SetRate(1); err != nil {
		t.Fatal(err)
	}
	_, _ = c.ListModels(ctx, 0, 10)
	_, err := c.ListModels(ctx, 0, 10)
	var ae *upstream.APIError
	if !errors.Is(err, upstream.ErrRateLimited) || !errors.As(err, &ae) || ae.RetryAfter != time.Second {
		t.Fatalf("over the rate: %v, want ErrRateLimited with RetryAfter 1s", err)
	}
	if strings.Contains(fmt.Sprint(err), testSecretKey) {
		t.Fatal("client error leaks the secret")
	}
	st := b.srv.Stats()
	if st.Count(upstream.ActionCreateJob, sim.OutcomeLost) != 1 || st.Count(upstream.ActionCreateJob, sim.OutcomeHung) != 1 ||
		st.Count(upstream.ActionListModels, sim.OutcomeInternal) != 1 || st.Throttled != 1 {
		t.Fatalf("stats = %v", st.Calls)
	}
}

func TestGatewaySignature(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	gw := upstream.NewSecret("gateway-s3cret")
	b := setup(t, func(o *sim.Options) { o.Gateway = &sim.GatewayAuth{KeyID: "AKIDgw", Secret: gw} })
	signed := newClient(t, b, func(o *upstream.Options) { o.Gateway = &upstream.GatewayKey{KeyID: "AKIDgw", Secret: gw} })
	if _, err := signed.ListModels(ctx, 0, 10); err != nil {
		t.Fatalf("signed request: %v", err)
	}
	r := b.listModels(t, 0, 10) // raw, unsigned
	wantError(t, r, http.StatusUnauthorized, upstream.CodeAuthFailure, "gateway signature")
	wrong := newClient(t, b, func(o *upstream.Options) {
		o.Gateway = &upstream.GatewayKey{KeyID: "AKIDgw", Secret: upstream.NewSecret("guess")}
	})
	if _, err := wrong.ListModels(ctx, 0, 10); !errors.Is(err, upstream.ErrAuth) || strings.Contains(err.Error(), "gateway-s3cret") {
		t.Fatalf("wrong gateway secret: %v", err)
	}
	// A Date far from the simulator's clock is refused.
	stale := newClient(t, b, func(o *upstream.Options) {
		o.Gateway = &upstream.GatewayKey{KeyID: "AKIDgw", Secret: gw}
		o.Now = func() time.Time { return epoch.Add(-time.Hour) }
	})
	if _, err := stale.ListModels(ctx, 0, 10); !errors.Is(err, upstream.ErrAuth) {
		t.Fatalf("stale Date: %v, want ErrAuth", err)
	}
}

// A service that caps its pages below the limit hides nothing from AllModels.
func TestAllModelsWithCappedPages(t *testing.T) {
	t.Parallel()
	srv, err := sim.New(sim.Options{Credentials: testCreds, ModelPageCap: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	for i := range 30 {
		if err := srv.AddModel(fmt.Sprintf("m%02d", i), time.Now().Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
	}
	c, err := upstream.New(upstream.Options{BaseURL: srv.URL(), Credentials: testCreds, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ms, err := c.AllModels(t.Context())
	if err != nil || len(ms) != 30 || ms[29].Name != "m29" {
		t.Fatalf("AllModels: %d models (%v), want all 30", len(ms), err)
	}
	if got := srv.Stats().Count(upstream.ActionListModels, sim.OutcomeOK); got != 5 {
		t.Errorf("%d ListModels calls, want 5 pages of at most 7", got)
	}
}
