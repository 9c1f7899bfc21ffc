package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard/dashboardtest"
)

// dashEnv is an env for dispatch with only vars in the environment.
func dashEnv(stdout, stderr io.Writer, vars []string) env {
	return testEnv("", stdout, stderr, vars)
}

// TestDashboardCommand runs `singbatch dashboard` as main would, with the credentials in
// its environment, fetches every page and every Asynq UI API reply the seeded data has,
// and finds no secret in any of them.
func TestDashboardCommand(t *testing.T) {
	t.Parallel()
	b := dashboardtest.Seed(t)
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, dashEnv(&stdout, &stderr, b.Vars), []string{"dashboard", "--addr", "127.0.0.1:0"})
	}()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	urlRE := regexp.MustCompile(`serving (http://127\.0\.0\.1:\d+)/`)
	var base string
	dashboardtest.Eventually(t, 10*time.Second, func() bool {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})

	// Every page, with a piece of what it must show, so an empty page cannot pass.
	pages := map[string]string{
		"/":                                  `data-batch="spring-2025"`,
		"/batches/" + dashboardtest.Batch:    "sb-s4-1",
		"/batches/" + dashboardtest.EscBatch: "window.pwned",
		"/api/batches":                       `"name":"spring-2025"`,
		"/healthz":                           "ok",
		"/metrics":                           `asynq_queue_size{queue="songs"} 2`,
		"/static/style.css":                  "font",
		"/monitoring/":                       "<div id=\"root\">",
		"/monitoring/api/queues":             `"queue":"songs"`,
		"/monitoring/api/queue_stats":        "stats",
		"/monitoring/api/servers":            "servers",
		"/monitoring/api/redis_info":         "redis_version",
		"/monitoring/api/scheduler_entries":  "entries",
	}
	for _, st := range batch.States() {
		pages["/batches/"+dashboardtest.Batch+"?state="+string(st)] = `aria-current="page">` + string(st)
	}
	for q, ids := range b.TaskIDs {
		pages["/monitoring/api/queues/"+q] = `"queue":"` + q + `"`
		pages["/monitoring/api/queues/"+q+"/groups"] = ""
		for _, st := range []string{"active", "pending", "scheduled", "retry", "archived", "completed"} {
			pages["/monitoring/api/queues/"+q+"/"+st+"_tasks"] = "tasks"
		}
		for _, id := range ids {
			pages["/monitoring/api/queues/"+q+"/tasks/"+id] = `"id":"` + id + `"`
		}
	}
	// The leaked errors are there, scrubbed: the data is shown, the secret is not.
	pages["/monitoring/api/queues/train/archived_tasks"] = "AuthFailure: secretId REDACTED unknown"
	pages["/monitoring/api/queues/poll/retry_tasks"] = "InternalError: busy"
	pages["/batches/"+dashboardtest.Batch+"?state=failed"] = "AuthFailure: secretKey REDACTED does not match"

	for path, want := range pages {
		status, body := dashboardtest.Get(t, base+path)
		if status != http.StatusOK {
			t.Errorf("GET %s: HTTP %d\n%.300s", path, status, body)
		}
		if !strings.Contains(body, want) {
			t.Errorf("GET %s lacks %q:\n%.600s", path, want, body)
		}
		dashboardtest.AssertNoSecret(t, "GET "+path, body)
	}

	// Read-only unless --allow-writes: the Asynq UI refuses changes.
	resp, err := http.Post(base+"/monitoring/api/queues/songs:pause", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("pause in read-only mode: HTTP %d", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		stopped = true
		if err != nil {
			t.Fatalf("dashboard command: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("dashboard did not stop on cancel")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Errorf("still serving after stop")
	}
	logs := stderr.String()
	if !strings.Contains(logs, "dashboard serving") || !strings.Contains(logs, "dashboard stopped") {
		t.Errorf("logs lack start/stop lines:\n%s", logs)
	}
	dashboardtest.AssertNoSecret(t, "the command's output", logs+stdout.String())
}

func TestDashboardFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out, errOut syncBuffer
	e := dashEnv(&out, &errOut, []string{"UPSTREAM_SECRET_KEY=" + dashboardtest.SecretKey})
	if err := dispatch(ctx, e, []string{"dashboard", "-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h: %v", err)
	}
	if help := out.String(); !strings.Contains(help, "-allow-writes") || !strings.Contains(help, "DASHBOARD_PASSWORD") || !strings.Contains(help, "127.0.0.1:8080") {
		t.Errorf("help output:\n%s", help)
	}
	for _, args := range [][]string{
		{"dashboard", "--addr", "no-port"},
		{"dashboard", "--no-such-flag"},
		{"dashboard", "extra"},
	} {
		var ue usageError
		if err := dispatch(ctx, e, args); !errors.As(err, &ue) {
			t.Errorf("%v: err = %v, want a usage error", args[1:], err)
		}
	}
	dashboardtest.AssertNoSecret(t, "flag output", out.String()+errOut.String())
}

// Beyond loopback the command refuses to serve without credentials; with them it
// serves, and the password appears nowhere in its output.
func TestDashboardCommandNeedsAuthBeyondLoopback(t *testing.T) {
	t.Parallel()
	b := dashboardtest.Seed(t)
	var out, errOut syncBuffer
	err := dispatch(t.Context(), dashEnv(&out, &errOut, b.Vars), []string{"dashboard", "--addr", "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "listens beyond loopback: set DASHBOARD_USER and DASHBOARD_PASSWORD") {
		t.Fatalf("open dashboard beyond loopback: %v", err)
	}
	err = dispatch(t.Context(), dashEnv(&out, &errOut, append(b.Vars, "DASHBOARD_USER="+dashboardtest.User)), []string{"dashboard"})
	if err == nil || !strings.Contains(err.Error(), "set both or neither") {
		t.Fatalf("user without password: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	vars := append(b.Vars, "DASHBOARD_USER="+dashboardtest.User, "DASHBOARD_PASSWORD="+dashboardtest.Password)
	go func() {
		done <- dispatch(ctx, dashEnv(&out, &errOut, vars), []string{"dashboard", "--addr", "0.0.0.0:0", "--allow-writes"})
	}()
	re := regexp.MustCompile(`serving http://.*:(\d+)/`)
	var port string
	dashboardtest.Eventually(t, 10*time.Second, func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		return port != ""
	})
	base := "http://127.0.0.1:" + port
	if got := dashboardtest.Request(t, "GET", base+"/", false, nil); got != http.StatusUnauthorized {
		t.Errorf("GET / without credentials: HTTP %d", got)
	}
	if got := dashboardtest.Request(t, "GET", base+"/", true, nil); got != http.StatusOK {
		t.Errorf("GET / with credentials: HTTP %d", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if all := out.String() + errOut.String(); strings.Contains(all, dashboardtest.Password) || !strings.Contains(all, `"authentication":true`) {
		t.Errorf("output holds the password, or does not say authentication is on:\n%s", all)
	}
}
