package upstream_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/upstream"
)

// TestValidationBeforeSending: a request that breaks the contract fails naming the
// field, and nothing is sent.
func TestValidationBeforeSending(t *testing.T) {
	t.Parallel()
	create := func(modify func(*upstream.CreateJobRequest)) func(context.Context, *upstream.Client) error {
		return func(ctx context.Context, c *upstream.Client) error {
			r := validCreate()
			modify(r)
			_, err := c.CreateJob(ctx, r)
			return err
		}
	}
	sc := func(r *upstream.CreateJobRequest) *upstream.SingingCloning {
		return r.Outputs[0].SmartContentDescriptor.SingingCloning
	}
	const scPath = "outputs[0].smartContentDescriptor.singingCloning"
	tests := []struct {
		name  string
		call  func(context.Context, *upstream.Client) error
		field string
	}{
		{"nil create", func(ctx context.Context, c *upstream.Client) error { _, err := c.CreateJob(ctx, nil); return err }, "createJobRequest"},
		{"no inputs", create(func(r *upstream.CreateJobRequest) { r.Inputs = nil; r.Outputs[0].InputSelectors = nil }), "inputs"},
		{"no outputs", create(func(r *upstream.CreateJobRequest) { r.Outputs = nil }), "outputs"},
		{"long customId", create(func(r *upstream.CreateJobRequest) { r.CustomID = strings.Repeat("c", 64) }), "customId"},
		{"bad callback", create(func(r *upstream.CreateJobRequest) { r.Callback = "ftp://cb.example.test" }), "callback"},
		{"negative timeout", create(func(r *upstream.CreateJobRequest) { r.Timeout = -1 }), "timeout"},
		{"two kinds of input", create(func(r *upstream.CreateJobRequest) { r.Inputs[0].SourceData = "la la" }), "inputs[0]"},
		{"long sourceData", create(func(r *upstream.CreateJobRequest) { r.Inputs[0] = upstream.Input{SourceData: strings.Repeat("s", 513)} }), "inputs[0].sourceData"},
		{"source without path", create(func(r *upstream.CreateJobRequest) {
			r.Inputs[0] = upstream.Input{Source: &upstream.Source{ContentID: "repo"}}
		}), "inputs[0].source.path"},
		{"selector out of range", create(func(r *upstream.CreateJobRequest) { r.Outputs[0].InputSelectors = []int{1} }), "outputs[0].inputSelectors[0]"},
		{"no descriptor", create(func(r *upstream.CreateJobRequest) { r.Outputs[0].SmartContentDescriptor = nil }), scPath},
		{"long outputPrefix", create(func(r *upstream.CreateJobRequest) {
			r.Outputs[0].SmartContentDescriptor.OutputPrefix = strings.Repeat("p", 20)
		}), "outputs[0].smartContentDescriptor.outputPrefix"},
		{"bad modelName", create(func(r *upstream.CreateJobRequest) { sc(r).ModelName = "bad name!" }), scPath + ".modelName"},
		{"unknown type", create(func(r *upstream.CreateJobRequest) { sc(r).Type = 3 }), scPath + ".type"},
		{"generation without contentId", create(func(r *upstream.CreateJobRequest) { r.Outputs[0].ContentID = "" }), "outputs[0].contentId"},
		{"too many epochs", create(func(r *upstream.CreateJobRequest) { sc(r).Type, sc(r).TotalEpoch = upstream.TypeTrain, 51 }), scPath + ".totalEpoch"},
		{"bad useSeparate", create(func(r *upstream.CreateJobRequest) { sc(r).UseSeparate = 3 }), scPath + ".useSeparate"},
		{"GetJob without id", func(ctx context.Context, c *upstream.Client) error { _, err := c.GetJob(ctx, ""); return err }, "id"},
		{"ListJobs without customId", func(ctx context.Context, c *upstream.Client) error { _, err := c.ListJobs(ctx, ""); return err }, "customId"},
		{"ListJobs long customId", func(ctx context.Context, c *upstream.Client) error {
			_, err := c.ListJobs(ctx, strings.Repeat("c", 64))
			return err
		}, "customId"},
		{"ListModels negative offset", func(ctx context.Context, c *upstream.Client) error { _, err := c.ListModels(ctx, -1, 10); return err }, "offset"},
		{"ListModels zero limit", func(ctx context.Context, c *upstream.Client) error { _, err := c.ListModels(ctx, 0, 0); return err }, "limit"},
		{"ListModels limit over 100", func(ctx context.Context, c *upstream.Client) error { _, err := c.ListModels(ctx, 0, 101); return err }, "limit"},
	}
	b := setupClient(t, reply(http.StatusOK, jobReply("job-1")))
	for _, tt := range tests {
		err := tt.call(t.Context(), b.client)
		if !errors.Is(err, upstream.ErrInvalidRequest) {
			t.Errorf("%s: error %v is not ErrInvalidRequest", tt.name, err)
			continue
		}
		var apiErr *upstream.APIError
		if errors.As(err, &apiErr) {
			t.Errorf("%s: validation error is an *APIError: %v", tt.name, err)
		}
		if fields := validationFields(err); !slices.Contains(fields, tt.field) {
			t.Errorf("%s: error %q names fields %q, want %q", tt.name, err, fields, tt.field)
		}
	}
	if n := b.rec.count(); n != 0 {
		t.Errorf("server got %d requests, want none", n)
	}
	if ev := b.gate.log(); len(ev) != 0 {
		t.Errorf("gate consulted for invalid requests: %v", ev)
	}
}

// validationFields lists the Field of every *ValidationError in err's tree.
func validationFields(err error) []string {
	var fields []string
	var walk func(error)
	walk = func(e error) {
		if ve, ok := e.(*upstream.ValidationError); ok {
			fields = append(fields, ve.Field)
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(inner)
			}
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		}
	}
	walk(err)
	return fields
}
