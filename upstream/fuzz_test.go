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
	"strconv"
	"strings"
	"sync/atomic"
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

// fuzzTransport answers every request with reply, counting them. "{offset}" in the
// body becomes the offset the ListModels request asks for: a service that names its
// models by position, so that every page differs and a paging walk is never stopped by
// a repeated page.
type fuzzTransport struct {
	reply replyTransport
	sent  *atomic.Int64
}

var offsetMark = []byte("{offset}")

func (t fuzzTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.sent.Add(1)
	reply := t.reply
	if bytes.Contains(reply.body, offsetMark) && r.Body != nil {
		offset := -1
		var env Envelope
		if b, err := io.ReadAll(r.Body); err == nil && json.Unmarshal(b, &env) == nil && env.ListModelsRequest != nil {
			offset = env.ListModelsRequest.Offset
		}
		reply.body = bytes.ReplaceAll(reply.body, offsetMark, strconv.AppendInt(nil, int64(offset), 10))
	}
	return reply.RoundTrip(r)
}

// fuzzAttempts is the client's MaxAttempts in the fuzz targets.
const fuzzAttempts = 2

var fuzzCreds = Credentials{SecretID: NewSecret("AKIDfuzzID"), SecretKey: NewSecret("fuzz-S3CR3T")}

// fuzzClient is a client whose every request gets one reply (status brought into
// 100..999), that never sleeps between retries, and the count of its requests.
func fuzzClient(t *testing.T, status int, retryAfter string, body []byte) (*Client, int, *atomic.Int64) {
	if status < 100 || status > 999 {
		status = 200 + (status%800+800)%800
	}
	h := http.Header{"Content-Type": {"application/json"}}
	if retryAfter != "" {
		h.Set("Retry-After", retryAfter)
	}
	sent := new(atomic.Int64)
	c, err := New(Options{BaseURL: "http://service.invalid", Credentials: fuzzCreds, MaxAttempts: fuzzAttempts,
		HTTPClient: &http.Client{Transport: fuzzTransport{replyTransport{status, h, body}, sent}},
		Sleep:      func(context.Context, time.Duration) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	return c, status, sent
}

// addFuzzSeeds adds the contract's example files matching glob (testdata/upstream) as
// 200 replies, then the error shapes every call may get.
func addFuzzSeeds(f *testing.F, glob string) {
	files, _ := filepath.Glob(filepath.Join("..", "testdata", "upstream", glob))
	if len(files) == 0 {
		f.Fatalf("no contract example matches %s", glob)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(200, "", b)
	}
	f.Add(429, "2", []byte(`{"Response":{"Error":{"Code":"RequestLimitExceeded"}}}`))
	f.Add(500, "Wed, 21 Oct 2015 07:28:00 GMT", []byte(`<html>oops</html>`))
	f.Add(400, "", []byte(`{"error":{"code":400,"message":"secretKey fuzz-S3CR3T wrong"}}`))
	f.Add(401, "", []byte(`{"requestId":"r","error":{"code":"AuthFailure","message":"bad AKIDfuzzID"}}`))
	f.Add(200, "", []byte(`{"requestId":"r","error":{"code":"Unheard","message":"m"}}`))
	f.Add(302, "", []byte{})
}

// FuzzDecodeReply: whatever the service answers (status, Retry-After, body) to GetJob
// and ListJobs, the client never panics, returns a value or an error, never both,
// classifies every error as one of its kinds, and never puts the credentials in an
// error. CreateJob and ListModels have their own targets below. In CI the seed corpus
// (testdata/fuzz, and the contract's examples in testdata/upstream) and a bounded run
// go; explore with go test ./upstream -run '^$' -fuzz FuzzDecodeReply -fuzztime 1m
func FuzzDecodeReply(f *testing.F) {
	addFuzzSeeds(f, "*.json")
	f.Add(200, "", []byte(`{"Response":{"Job":{"id":"j1","state":"3","timing":{"createdAt":"1700000000000"}}}}`))
	f.Add(200, "", []byte(`{"Response":{"Job":{"id":1,"state":3.5}}}`))
	f.Add(200, "", []byte(`{"Response":{"Jobs":[{"id":"a"},null],"total":"x"}}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		c, status, _ := fuzzClient(t, status, retryAfter, body)
		ctx := context.Background()
		job, err := c.GetJob(ctx, "j1")
		checkReply(t, status, job != nil, err)
		jobs, _, err := c.ListJobsPartial(ctx, "cid")
		checkReply(t, status, jobs != nil || err == nil, err)
	})
}

// FuzzDecodeCreateReply: whatever the service answers to CreateJob, the client sends
// it once, returns a job or an error, never both, and a job always with an id; no
// error is ErrTransient unless the service said it did not read the request (408): a
// create it may have applied is ErrAmbiguous. Every error is of a known kind and holds
// no credential. go test ./upstream -run '^$' -fuzz FuzzDecodeCreateReply
func FuzzDecodeCreateReply(f *testing.F) {
	addFuzzSeeds(f, "create-*.response.json")
	f.Add(200, "", []byte(`{"Response":{"createJobResponse":{"job":{"id":7,"state":"SUBMITTED"}}}}`))
	f.Add(200, "", []byte(`{"createJobResponse":{"job":{"id":"","state":1}}}`))
	f.Add(200, "", []byte(`{"createJobResponse":{"job":null}}`))
	f.Add(503, "1", []byte(`{"requestId":"r","error":{"code":"InternalError","message":"busy"}}`))
	f.Add(408, "", []byte{})
	create := fuzzCreateRequest(f)
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		c, status, sent := fuzzClient(t, status, retryAfter, body)
		created, err := c.CreateJob(context.Background(), create)
		checkReply(t, status, created != nil, err)
		if err == nil && created.ID == "" {
			t.Fatal("a created job without an id")
		}
		if errors.Is(err, ErrTransient) && status != http.StatusRequestTimeout {
			t.Fatalf("a create the service may have applied is not ambiguous: %v", err)
		}
		if n := sent.Load(); n != 1 {
			t.Fatalf("CreateJob sent %d times, want once", n)
		}
	})
}

// FuzzDecodeModelsReply: whatever the service answers to ListModels, to one page and to
// every page of AllModels (the same reply each time, or with "{offset}" in it a new
// page each time, whatever total it claims), the client never panics, ends within
// maxModelPages pages, returns models or an error, never both, and every error is of
// a known kind with no credential in it.
// go test ./upstream -run '^$' -fuzz FuzzDecodeModelsReply
func FuzzDecodeModelsReply(f *testing.F) {
	addFuzzSeeds(f, "listmodels.response.json")
	f.Add(200, "", []byte(`{"listModelsResponse":{"total":"3","models":[{"name":"a"},{"name":1},null]}}`))
	f.Add(200, "", []byte(`{"requestId":"r","listModelsResponse":{"total":5,"models":[{"name":"a"}]}}`))
	f.Add(200, "", []byte(`{"listModelsResponse":{"total":"99999999999","models":[{"name":"m{offset}"},{"name":"n{offset}"}]}}`))
	f.Add(200, "", []byte(`{"listModelsResponse":{"total":-1,"models":[{"name":"m{offset}"}]}}`))
	f.Add(200, "", []byte(`{"listModelsResponse":{"total":250,"models":[]}}`))
	f.Add(200, "", []byte(`{"listModelsResponse":null}`))
	f.Fuzz(func(t *testing.T, status int, retryAfter string, body []byte) {
		c, status, sent := fuzzClient(t, status, retryAfter, body)
		ctx := context.Background()
		page, err := c.ListModels(ctx, 0, MaxListLimit)
		checkReply(t, status, page != nil, err)
		sent.Store(0)
		models, err := c.AllModels(ctx)
		checkReply(t, status, models != nil, err)
		if n := sent.Load(); n > maxModelPages*fuzzAttempts {
			t.Fatalf("AllModels sent %d requests, more than %d pages of %d attempts", n, maxModelPages, fuzzAttempts)
		}
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

// checkReply is checkOutcome, and a value only from a 2xx reply.
func checkReply(t *testing.T, status int, got bool, err error) {
	t.Helper()
	checkOutcome(t, got, err)
	if err == nil && (status < 200 || status > 299) {
		t.Fatalf("a value from an HTTP %d reply", status)
	}
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
