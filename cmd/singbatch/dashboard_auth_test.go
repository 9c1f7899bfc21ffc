package main

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/upstream"
)

const (
	dashUser     = "operator"
	dashPassword = "dash-pa55word-not-in-logs"
)

// dashRequest sends one request with optional basic credentials and headers.
func dashRequest(t *testing.T, method, u string, creds bool, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if creds {
		req.SetBasicAuth(dashUser, dashPassword)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Everything but the health probe asks for the credentials; with writes allowed, a
// change from another site is refused and one from the dashboard's own page goes through.
func TestDashboardAuthAndCrossSite(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t)
	base := b.handler(t, true, dashboardAuth{user: dashUser, password: upstream.NewSecret(dashPassword)}).URL
	for _, c := range []struct {
		name   string
		method string
		path   string
		creds  bool
		header map[string]string
		want   int
	}{
		{"no credentials", "GET", "/", false, nil, http.StatusUnauthorized},
		{"no credentials, Asynq UI", "GET", "/monitoring/api/queues", false, nil, http.StatusUnauthorized},
		{"no credentials, metrics", "GET", "/metrics", false, nil, http.StatusUnauthorized},
		{"probe needs none", "GET", "/healthz", false, nil, http.StatusOK},
		{"credentials", "GET", "/", true, nil, http.StatusOK},
		{"cross-site change", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden},
		{"same-site change", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "same-site"}, http.StatusForbidden},
		{"foreign origin", "POST", "/monitoring/api/queues/songs:pause", true, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"change without credentials", "POST", "/monitoring/api/queues/songs:pause", false, map[string]string{"Sec-Fetch-Site": "same-origin"}, http.StatusUnauthorized},
	} {
		if got := dashRequest(t, c.method, base+c.path, c.creds, c.header); got != c.want {
			t.Errorf("%s: %s %s: HTTP %d, want %d", c.name, c.method, c.path, got, c.want)
		}
	}
	in := asynq.NewInspectorFromRedisClient(b.redis.Client(t))
	if q, err := in.GetQueueInfo("songs"); err != nil || q.Paused {
		t.Fatalf("songs paused by a refused request (%v)", err)
	}
	// The dashboard's own page may.
	if got := dashRequest(t, "POST", base+"/monitoring/api/queues/songs:pause", true, map[string]string{"Sec-Fetch-Site": "same-origin"}); got/100 != 2 {
		t.Errorf("same-origin pause: HTTP %d", got)
	}
	if q, err := in.GetQueueInfo("songs"); err != nil || !q.Paused {
		t.Errorf("songs not paused by the dashboard's own request (%v)", err)
	}
	// Wrong password, wrong user.
	req, _ := http.NewRequestWithContext(t.Context(), "GET", base+"/", nil)
	req.SetBasicAuth(dashUser, dashPassword+"x")
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// Beyond loopback the command refuses to serve without credentials; with them it
// serves, and the password appears nowhere in its output.
func TestDashboardCommandNeedsAuthBeyondLoopback(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t)
	var out, errOut syncBuffer
	err := dispatch(t.Context(), dashEnv(&out, &errOut, b.vars), []string{"dashboard", "--addr", "0.0.0.0:0"})
	if err == nil || !strings.Contains(err.Error(), "listens beyond loopback: set DASHBOARD_USER and DASHBOARD_PASSWORD") {
		t.Fatalf("open dashboard beyond loopback: %v", err)
	}
	err = dispatch(t.Context(), dashEnv(&out, &errOut, append(b.vars, "DASHBOARD_USER="+dashUser)), []string{"dashboard"})
	if err == nil || !strings.Contains(err.Error(), "set both or neither") {
		t.Fatalf("user without password: %v", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	vars := append(b.vars, "DASHBOARD_USER="+dashUser, "DASHBOARD_PASSWORD="+dashPassword)
	go func() {
		done <- dispatch(ctx, dashEnv(&out, &errOut, vars), []string{"dashboard", "--addr", "0.0.0.0:0", "--allow-writes"})
	}()
	re := regexp.MustCompile(`serving http://.*:(\d+)/`)
	var port string
	dashEventually(t, 10*time.Second, func() bool {
		if m := re.FindStringSubmatch(out.String()); m != nil {
			port = m[1]
		}
		return port != ""
	})
	base := "http://127.0.0.1:" + port
	if got := dashRequest(t, "GET", base+"/", false, nil); got != http.StatusUnauthorized {
		t.Errorf("GET / without credentials: HTTP %d", got)
	}
	if got := dashRequest(t, "GET", base+"/", true, nil); got != http.StatusOK {
		t.Errorf("GET / with credentials: HTTP %d", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if all := out.String() + errOut.String(); strings.Contains(all, dashPassword) || !strings.Contains(all, `"authentication":true`) {
		t.Errorf("output holds the password, or does not say authentication is on:\n%s", all)
	}
}
