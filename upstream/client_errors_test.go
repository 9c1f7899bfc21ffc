package upstream_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

var allClasses = []error{
	upstream.ErrRateLimited, upstream.ErrTransient, upstream.ErrAmbiguous,
	upstream.ErrAuth, upstream.ErrInvalidRequest, upstream.ErrNotFound,
}

// assertClass checks err is an *APIError of exactly the class want.
func assertClass(t *testing.T, err, want error) *upstream.APIError {
	t.Helper()
	var apiErr *upstream.APIError
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %v (%T) is not an *APIError", err, err)
	}
	for _, class := range allClasses {
		if got := errors.Is(err, class); got != (class == want) {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, class, got, class == want)
		}
	}
	return apiErr
}

// TestErrorShapes sends each odd reply to GetJob (retried when transient or rate
// limited) and CreateJob (sent exactly once, whatever happens).
func TestErrorShapes(t *testing.T) {
	t.Parallel()
	retryDate := testNow.Add(7 * time.Second).Format(http.TimeFormat)
	tests := []struct {
		name        string
		handler     func(*testing.T) http.HandlerFunc
		get, create error // classes
		status      int
		code        string
		retryAfter  time.Duration
		message     string // part of the message, if any
	}{
		{name: "HTML 502", status: 502, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, message: "502 Bad Gateway",
			handler: fixed(reply(502, "<html>\n<head><title>502 Bad Gateway</title></head>\n<body>nginx</body></html>", "Content-Type", "text/html"))},
		{name: "empty 200", status: 200, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, message: "empty reply",
			handler: fixed(reply(200, ""))},
		{name: "200 with RequestLimitExceeded", status: 200, get: upstream.ErrRateLimited, create: upstream.ErrRateLimited, code: "RequestLimitExceeded",
			handler: fixed(reply(200, `{"requestId":"r-9","error":{"code":"RequestLimitExceeded","message":"slow down"}}`))},
		{name: "429 Retry-After seconds", status: 429, get: upstream.ErrRateLimited, create: upstream.ErrRateLimited, retryAfter: 2 * time.Second,
			handler: fixed(reply(429, "", "Retry-After", "2"))},
		{name: "429 Retry-After date", status: 429, get: upstream.ErrRateLimited, create: upstream.ErrRateLimited, retryAfter: 7 * time.Second, code: "RequestLimitExceeded",
			handler: fixed(reply(429, `{"error":{"code":"RequestLimitExceeded","message":"x"}}`, "Retry-After", retryDate))},
		{name: "401 text", status: 401, get: upstream.ErrAuth, create: upstream.ErrAuth, message: "no entry",
			handler: fixed(reply(401, "no entry", "Content-Type", "text/plain"))},
		{name: "403 AuthFailure", status: 403, get: upstream.ErrAuth, create: upstream.ErrAuth, code: "AuthFailure",
			handler: fixed(reply(403, `{"requestId":"r","error":{"code":"AuthFailure","message":"bad key"}}`))},
		{name: "404", status: 404, get: upstream.ErrNotFound, create: upstream.ErrNotFound, code: "ResourceNotFound",
			handler: fixed(reply(404, `{"error":{"code":"ResourceNotFound","message":"no such job"}}`))},
		{name: "400 InvalidParameter", status: 400, get: upstream.ErrInvalidRequest, create: upstream.ErrInvalidRequest, code: "InvalidParameter", message: "inputs",
			handler: fixed(reply(400, `{"requestId":"r","error":{"code":"InvalidParameter","message":"inputs is required"}}`))},
		{name: "400 error as a string", status: 400, get: upstream.ErrInvalidRequest, create: upstream.ErrInvalidRequest, message: "bad things",
			handler: fixed(reply(400, `{"error":"bad things"}`))},
		{name: "non-JSON 200", status: 200, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, message: "not JSON",
			handler: fixed(reply(200, "OK", "Content-Type", "text/plain"))},
		{name: "truncated JSON 200", status: 200, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, message: "truncated",
			handler: fixed(reply(200, `{"requestId":"r-1","getJobResponse":{"job":{"id":"jo`))},
		{name: "200 without the response object", status: 200, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, message: "reply has no",
			handler: fixed(reply(200, `{"requestId":"r-2"}`))},
		{name: "200 with an unknown error code", status: 200, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, code: "Weird",
			handler: fixed(reply(200, `{"error":{"code":"Weird","message":"?"}}`))},
		{name: "200 with AuthFailure", status: 200, get: upstream.ErrAuth, create: upstream.ErrAuth, code: "AuthFailure",
			handler: fixed(reply(200, `{"error":{"code":"AuthFailure","message":"no"}}`))},
		{name: "500 InternalError", status: 500, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, code: "InternalError",
			handler: fixed(reply(500, `{"error":{"code":"InternalError","message":"boom"}}`))},
		{name: "503 Retry-After", status: 503, get: upstream.ErrTransient, create: upstream.ErrAmbiguous, retryAfter: 3 * time.Second,
			handler: fixed(reply(503, "", "Retry-After", "3"))},
		{name: "408", status: 408, get: upstream.ErrTransient, create: upstream.ErrTransient,
			handler: fixed(reply(408, ""))},
		{name: "redirect not followed", status: 307, get: upstream.ErrInvalidRequest, create: upstream.ErrInvalidRequest,
			handler: fixed(reply(307, "", "Location", "/elsewhere"))},
		{name: "reset after request", get: upstream.ErrTransient, create: upstream.ErrAmbiguous,
			handler: resetAfterRequest},
		{name: "hung server", get: upstream.ErrTransient, create: upstream.ErrAmbiguous,
			handler: hang},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			short := func(o *upstream.Options) { o.Timeout = 100 * time.Millisecond }
			check := func(t *testing.T, err, class error, b *clientBundle, wantRequests int) {
				t.Helper()
				apiErr := assertClass(t, err, class)
				if apiErr.StatusCode != tt.status || apiErr.Code != tt.code || apiErr.RetryAfter != tt.retryAfter {
					t.Errorf("got status %d code %q retryAfter %s, want %d %q %s",
						apiErr.StatusCode, apiErr.Code, apiErr.RetryAfter, tt.status, tt.code, tt.retryAfter)
				}
				if !strings.Contains(apiErr.Message, tt.message) {
					t.Errorf("message %q does not mention %q", apiErr.Message, tt.message)
				}
				if n := b.rec.count(); n != wantRequests {
					t.Errorf("server got %d requests, want %d", n, wantRequests)
				}
			}
			t.Run("GetJob", func(t *testing.T) {
				t.Parallel()
				b := setupClient(t, tt.handler(t), short)
				_, err := b.client.GetJob(t.Context(), "job-1")
				want := 1
				if tt.get == upstream.ErrTransient || tt.get == upstream.ErrRateLimited {
					want = upstream.DefaultMaxAttempts
				}
				check(t, err, tt.get, b, want)
				if tt.name == "hung server" && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("hung server: %v does not wrap context.DeadlineExceeded", err)
				}
			})
			t.Run("CreateJob", func(t *testing.T) {
				t.Parallel()
				b := setupClient(t, tt.handler(t), short)
				_, err := b.client.CreateJob(t.Context(), validCreate())
				check(t, err, tt.create, b, 1)
				if len(b.waits()) != 0 {
					t.Errorf("CreateJob waited %v for a retry", b.waits())
				}
			})
		})
	}
}

func fixed(h http.HandlerFunc) func(*testing.T) http.HandlerFunc {
	return func(*testing.T) http.HandlerFunc { return h }
}

// TestCreateJobRefusedIsNotAmbiguous: nothing reached the service, so the job cannot exist.
func TestCreateJobRefusedIsNotAmbiguous(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now
	c, err := upstream.New(upstream.Options{
		BaseURL:     "http://" + addr,
		Credentials: upstream.Credentials{SecretID: upstream.NewSecret(testSecretID), SecretKey: upstream.NewSecret(testSecretKey)},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.CreateJob(t.Context(), validCreate())
	apiErr := assertClass(t, err, upstream.ErrTransient)
	if apiErr.StatusCode != 0 {
		t.Errorf("status %d, want 0", apiErr.StatusCode)
	}
}

// TestUnusableReplies: replies that parse but cannot be trusted are transient and retried.
func TestUnusableReplies(t *testing.T) {
	t.Parallel()
	t.Run("GetJob about another job", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, sequence(reply(200, jobReply("other")), reply(200, jobReply("job-1"))))
		job, err := b.client.GetJob(t.Context(), "job-1")
		if err != nil || job.ID != "job-1" {
			t.Fatalf("GetJob = %+v, %v; want job-1 after one retry", job, err)
		}
		if b.rec.count() != 2 {
			t.Errorf("server got %d requests, want 2", b.rec.count())
		}
	})
	t.Run("ListJobs total above the jobs sent", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, reply(200, `{"listJobsResponse":{"jobs":[],"total":2}}`), func(o *upstream.Options) { o.MaxAttempts = 2 })
		_, err := b.client.ListJobs(t.Context(), "item-1")
		apiErr := assertClass(t, err, upstream.ErrTransient)
		if !strings.Contains(apiErr.Message, "total is 2 but 0 jobs") {
			t.Errorf("message %q", apiErr.Message)
		}
		if b.rec.count() != 2 {
			t.Errorf("server got %d requests, want 2", b.rec.count())
		}
	})
	t.Run("ListJobs with no jobs", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, reply(200, `{"listJobsResponse":{"total":0}}`))
		jobs, err := b.client.ListJobs(t.Context(), "item-1")
		if err != nil || jobs == nil || len(jobs) != 0 {
			t.Fatalf("ListJobs = %#v, %v; want an empty slice", jobs, err)
		}
	})
	t.Run("oversized reply", func(t *testing.T) {
		t.Parallel()
		big := `{"requestId":"` + strings.Repeat("x", 5<<20) + `"}`
		b := setupClient(t, reply(200, big), func(o *upstream.Options) { o.MaxAttempts = 1 })
		_, err := b.client.ListJobs(t.Context(), "item-1")
		apiErr := assertClass(t, err, upstream.ErrTransient)
		if !strings.Contains(apiErr.Message, "larger than") {
			t.Errorf("message %q", apiErr.Message)
		}
	})
}

// TestNewOptions: New rejects what cannot work and fills defaults.
func TestNewOptions(t *testing.T) {
	t.Parallel()
	creds := upstream.Credentials{SecretID: upstream.NewSecret("a"), SecretKey: upstream.NewSecret("b")}
	bad := map[string]upstream.Options{
		"no credentials":      {},
		"no secret key":       {Credentials: upstream.Credentials{SecretID: upstream.NewSecret("a")}},
		"relative base URL":   {BaseURL: "/release", Credentials: creds},
		"ftp base URL":        {BaseURL: "ftp://example.test", Credentials: creds},
		"negative timeout":    {Credentials: creds, Timeout: -time.Second},
		"negative attempts":   {Credentials: creds, MaxAttempts: -1},
		"gateway without key": {Credentials: creds, Gateway: &upstream.GatewayKey{KeyID: "k"}},
		"gateway without id":  {Credentials: creds, Gateway: &upstream.GatewayKey{Secret: upstream.NewSecret("s")}},
		"gateway id w/ quote": {Credentials: creds, Gateway: &upstream.GatewayKey{KeyID: `k"`, Secret: upstream.NewSecret("s")}},
		"gateway source CRLF": {Credentials: creds, Gateway: &upstream.GatewayKey{KeyID: "k", Secret: upstream.NewSecret("s"), Source: "a\r\nX: y"}},
	}
	for name, opts := range bad {
		if _, err := upstream.New(opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := upstream.New(upstream.Options{Credentials: creds}); err != nil {
		t.Errorf("defaults: %v", err)
	}
}
