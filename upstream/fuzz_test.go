package upstream

import (
	"bytes"
	"context"
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

// FuzzDecodeReply: whatever the service answers (status, Retry-After, body), the
// client never panics, returns a job or an error, never both, classifies every error
// as one of its kinds, and never puts the credentials in an error. In CI the seed
// corpus and a bounded run go; explore with
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
	})
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
