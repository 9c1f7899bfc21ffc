package upstream_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// TestSecretsNeverLeak runs every path of the client — each action's success, each
// error class, ambiguity, validation, odd shapes — against a server that echoes the
// request (credentials included) back in every way it can, with a debug logger and the
// gateway signature on. No log line and no error, however formatted, may hold a secret.
func TestSecretsNeverLeak(t *testing.T) {
	t.Parallel()
	secrets := []string{testSecretID, testSecretKey, testGatewaySecret}

	var mu sync.Mutex
	mode := ""
	hung := hang(t)
	reset := resetAfterRequest(t)
	modes := map[string]http.HandlerFunc{
		"ok": func(w http.ResponseWriter, r *http.Request) {
			var env upstream.Envelope
			_ = json.NewDecoder(r.Body).Decode(&env)
			switch env.Action {
			case upstream.ActionListJobs:
				_, _ = io.WriteString(w, `{"requestId":"r","listJobsResponse":{"jobs":[],"total":0}}`)
			case upstream.ActionListModels:
				_, _ = io.WriteString(w, `{"requestId":"r","listModelsResponse":{"total":1,"models":[{"name":"demo","createdAt":"1"}]}}`)
			default:
				_, _ = io.WriteString(w, jobReply("job-1"))
			}
		},
		"html 502":      echo(502, "text/html", "<html><body>%s</body></html>"),
		"error echo":    echo(400, "application/json", `{"requestId":"r","error":{"code":"InvalidParameter","message":"bad request: %s"}}`),
		"401 echo":      echo(401, "text/plain", "denied for %s"),
		"404 echo":      echo(404, "application/json", `{"error":{"code":"ResourceNotFound","message":"%s"}}`),
		"429 echo":      echo(429, "application/json", `{"error":{"code":"RequestLimitExceeded","message":"%s"}}`),
		"500 echo":      echo(500, "application/json", `{"error":{"code":"InternalError","message":"%s"}}`),
		"200 text":      echo(200, "text/plain", "%s"),
		"200 truncated": echo(200, "application/json", `{"requestId":"r","echo":"%s`),
		"secret fields": reply(200, fmt.Sprintf(`{"requestId":%q,"error":{"code":%q,"message":%q}}`, testSecretKey, testSecretID, testGatewaySecret),
			"Content-Type", testSecretKey, "Retry-After", testSecretID),
		"secret in timing": reply(200, `{"getJobResponse":{"job":{"id":"job-1","timing":{"createdAt":"`+testSecretKey+`"}}}}`),
		"secret requestId": reply(200, `{"requestId":"`+testSecretKey+`"}`),
		"hung":             hung,
		"reset":            reset,
	}
	b := setupClient(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := modes[mode]
		mu.Unlock()
		h(w, r)
	}, func(o *upstream.Options) {
		o.Timeout = 200 * time.Millisecond
		o.MaxAttempts = 2
		o.Gateway = &upstream.GatewayKey{KeyID: testGatewayID, Secret: upstream.NewSecret(testGatewaySecret)}
	})

	type action func(context.Context, *upstream.Client) error
	create := func(ctx context.Context, c *upstream.Client) error {
		_, err := c.CreateJob(ctx, validCreate())
		return err
	}
	get := func(ctx context.Context, c *upstream.Client) error { _, err := c.GetJob(ctx, "job-1"); return err }
	list := func(ctx context.Context, c *upstream.Client) error { _, err := c.ListJobs(ctx, "item-1"); return err }
	models := func(ctx context.Context, c *upstream.Client) error { _, err := c.ListModels(ctx, 0, 10); return err }
	all := func(ctx context.Context, c *upstream.Client) error { _, err := c.AllModels(ctx); return err }
	actions := map[string]action{"CreateJob": create, "GetJob": get, "ListJobs": list, "ListModels": models, "AllModels": all}

	var failures []error
	for _, m := range []string{"ok", "html 502", "error echo", "401 echo", "404 echo", "429 echo", "500 echo",
		"200 text", "200 truncated", "secret fields", "secret in timing", "secret requestId", "hung", "reset"} {
		for name, call := range actions {
			mu.Lock()
			mode = m
			mu.Unlock()
			err := call(t.Context(), b.client)
			switch {
			case m == "ok" && err != nil:
				t.Errorf("%s %s: %v", m, name, err)
			case m != "ok" && err == nil:
				t.Errorf("%s %s: no error", m, name)
			case err != nil:
				failures = append(failures, err)
			}
		}
	}
	// Validation failures and a cancelled call, too.
	bad := validCreate()
	bad.CustomID = strings.Repeat("x", 80)
	_, err := b.client.CreateJob(t.Context(), bad)
	failures = append(failures, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	failures = append(failures, get(ctx, b.client), create(ctx, b.client))

	// Every class was seen, so every path ran.
	for _, class := range allClasses {
		seen := false
		for _, err := range failures {
			seen = seen || errors.Is(err, class)
		}
		if !seen {
			t.Errorf("no failure of class %v was exercised", class)
		}
	}
	// The server really got (and echoed) the credentials: redaction is what kept them out.
	if !strings.Contains(string(b.rec.body(0)), testSecretKey) {
		t.Fatal("the request body did not carry the credentials")
	}

	leaks := func(where, s string) {
		for _, sec := range secrets {
			if strings.Contains(s, sec) {
				t.Errorf("%s leaks a secret: %s", where, s)
			}
		}
	}
	for _, err := range failures {
		leaks("error", fmt.Sprintf("%v | %+v | %#v | %s | %q", err, err, err, err, err))
		var apiErr *upstream.APIError
		if errors.As(err, &apiErr) {
			leaks("APIError", fmt.Sprintf("%v | %+v | %#v | %#v", apiErr, *apiErr, apiErr, *apiErr))
			if apiErr.Err != nil {
				leaks("APIError.Err", fmt.Sprintf("%v | %+v", apiErr.Err, apiErr.Err))
			}
		}
	}
	entries := b.logs.All()
	if len(entries) < 50 {
		t.Fatalf("only %d log entries: the debug log did not record the calls", len(entries))
	}
	for _, e := range entries {
		leaks("log", fmt.Sprintf("%s %s %v", e.LoggerName, e.Message, e.ContextMap()))
	}
	leaks("client", fmt.Sprintf("%v %+v %#v", b.client, b.client, b.client))
	leaks("options", fmt.Sprintf("%v %+v %#v %+v", b.opts, b.opts, b.opts, *b.opts.Gateway))
}

// echo answers with the request body spliced into format (JSON-escaped when the
// content type is JSON), as a careless service or proxy might.
func echo(status int, contentType, format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s := string(body)
		if contentType == "application/json" {
			q, _ := json.Marshal(s)
			s = string(q[1 : len(q)-1])
		}
		w.Header().Set("Content-Type", contentType)
		w.WriteHeader(status)
		_, _ = fmt.Fprintf(w, format, s)
	}
}
