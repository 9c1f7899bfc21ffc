package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// replyTransport answers every request with one fixed reply, read from memory.
type replyTransport struct {
	status int
	header http.Header
	body   []byte
}

func (t replyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return &http.Response{StatusCode: t.status, Header: t.header.Clone(), Body: io.NopCloser(bytes.NewReader(t.body)),
		Request: r, ContentLength: int64(len(t.body))}, nil
}

// FuzzDecodeReply: whatever the service answers (status, Retry-After, body) to any of
// its calls (GetJob, ListJobs, CreateJob, the pages of ListModels), the client never
// panics, ends, returns a value or an error, never both, classifies every error as one
// of its kinds, never returns a created job without an id, and never puts the
// credentials in an error. In CI the seed corpus (testdata/fuzz, and the contract's
// examples in testdata/upstream) and a bounded run go; explore with
// go test ./upstream -run '^$' -fuzz FuzzDecodeReply -fuzztime 1m
func FuzzDecodeReply(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "upstream", "*.json"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, "", b)
	}
	f.Add(200, "", []byte(`{"Response":{"Job":{"id":"j1","state":"3","timing":{"createdAt":"1700000000000"}}}}`))
	f.Add(200, "", []byte(`{"Response":{"Job":{"id":1,"state":3.5}}}`))
	f.Add(429, "2", []byte(`{"Response":{"Error":{"Code":"RequestLimitExceeded"}}}`))
	f.Add(500, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`<html>oops</html>`))
	f.Add(400, "", []byte(`{"error":{"code":400,"message":"secretKey fuzz-S3CR3T wrong"}}`))
	f.Add(200, "", []byte(`{"Response":{"Jobs":[{"id":"a"},null],"total":"x"}}`))
	f.Add(302, "", []byte{})

	f.Add(200, "", []byte(`{"Response":{"createJobResponse":{"job":{"id":7,"state":"SUBMITTED"}}}}`))
	f.Add(200, "", []byte(`{"listModelsResponse":{"total":"3","models":[{"name":"a"},{"name":1},null]}}`))
	f.Add(200, "", []byte(`{"requestId":"r","listModelsResponse":{"total":5,"models":[{"name":"a"}]}}`))
	create := fuzzCreateRequest(f)
	creds := Credentials{SecretID: NewSecret("AKIDfuzzID"), SecretKey: NewSecret("fuzz-S3CR3T")}
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		if status < 100 || status > 999 {
			status = 200 + (status%800+800)%800
		}
		h := http.Header{"Content-Type": {"application/json"}}
		if retryAfter != "" {
			h.Set("Retry-After", retryAfter)
		}
		c, err := New(Options{BaseURL: "http://service.invalid", Credentials: creds, MaxAttempts: 2,
			HTTPClient: &http.Client{Transport: replyTransport{status, h, body}},
			Sleep:      func(context.Context, time.Duration) error { return nil }})
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.Background()
		job, err := c.GetJob(ctx, "j1")
		checkOutcome(t, job != nil, err)
		jobs, _, err := c.ListJobsPartial(ctx, "cid")
		checkOutcome(t, jobs != nil || err == nil, err)
		created, err := c.CreateJob(ctx, create)
		checkOutcome(t, created != nil, err)
		if err == nil && created.ID == "" {
			t.Fatal("a created job without an id")
		}
		// The same reply to every page: AllModels must end on it, whatever it says.
		models, err := c.AllModels(ctx)
		checkOutcome(t, models != nil, err)
	})
}

// fuzzCreateRequest is the contract's example CreateJob request, placeholders filled.
func fuzzCreateRequest(f testing.TB) *CreateJobRequest {
	b, err := os.ReadFile(filepath.Join("..", "testdata", "upstream", "create-generate.request.json"))
	if err != nil {
		f.Fatal(err)
	}
	filled := strings.NewReplacer(`"{callback}"`, `""`, "{customId}", "fuzz-1", "{url}", "https://cdn.example.com/a.mp3",
		"{contentId}", "repo1", "{outputPrefix}", "out").Replace(string(b))
	var env Envelope
	if err := json.Unmarshal([]byte(filled), &env); err != nil || env.CreateJobRequest == nil {
		f.Fatalf("example request: %v", err)
	}
	if err := env.CreateJobRequest.Validate(); err != nil {
		f.Fatalf("example request: %v", err)
	}
	return env.CreateJobRequest
}

// checkOutcome: a value or a classified error, never both, and no secret in it.
func checkOutcome(t *testing.T, got bool, err error) {
	t.Helper()
	if err == nil {
		if !got {
			t.Fatal("no value and no error")
		}
		return
	}
	if got {
		t.Fatalf("both a value and an error: %v", err)
	}
	kinds := []error{ErrRateLimited, ErrTransient, ErrAmbiguous, ErrAuth, ErrInvalidRequest, ErrNotFound}
	known := false
	for _, k := range kinds {
		known = known || errors.Is(err, k)
	}
	if !known {
		t.Fatalf("error of no known kind: %v", err)
	}
	if strings.Contains(err.Error(), "fuzz-S3CR3T") || strings.Contains(err.Error(), "AKIDfuzzID") {
		t.Fatalf("secret in the error: %v", err)
	}
}
