package main

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/singbatch/singbatch/internal/testkit"
	"github.com/singbatch/singbatch/tasks"
)

// freeAddr is a loopback address nothing listens on (for a moment).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// With CALLBACK_URL set, `singbatch worker` serves the callback route on HTTP_ADDR and
// the simulator's callbacks record the results; /healthz, /readyz and /metrics answer,
// and the metrics count the callbacks.
func TestWorkerCommandCallbacks(t *testing.T) {
	t.Parallel()
	srv, vars := workerSim(t)
	addr := freeAddr(t)
	const secret = "cmd-callback-secret-0123456789abcdef"
	b := newCLI(t, append(vars, "HTTP_ADDR="+addr, "CALLBACK_URL=http://"+addr+"/sb", "CALLBACK_SECRET="+secret)...)
	b.addSongs("cb", "s1", "s2", "s3")

	var stderr syncBuffer
	stop := b.startWorkerCommand(&stderr)
	b.waitCompleted("cb", 3, &stderr)
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for _, path := range []string{"/healthz", "/readyz"} {
		if code, _ := get(path); code != http.StatusOK {
			t.Errorf("%s: %d", path, code)
		}
	}
	if code, _ := get("/sb/cb/v1/cb/s1/1/forged-token"); code != http.StatusForbidden && code != http.StatusMethodNotAllowed {
		t.Errorf("a forged callback path: %d", code)
	}
	code, metrics := get("/metrics")
	if code != http.StatusOK || !strings.Contains(metrics, `singbatch_callbacks_total{outcome="recorded"} 3`) ||
		!strings.Contains(metrics, "singbatch_upstream_calls_per_finished_job") {
		t.Errorf("/metrics %d:\n%s", code, metrics)
	}
	if st := srv.Stats(); st.Callbacks.Delivered != 3 || st.JobsCreated != 3 {
		t.Errorf("simulator: %d callbacks delivered, %d jobs; want 3 and 3", st.Callbacks.Delivered, st.JobsCreated)
	}
	stop()
	if logs := stderr.String(); strings.Contains(logs, secret) || strings.Contains(logs, "/cb/v1/cb/s1/1/") && !strings.Contains(logs, "/cb/v1/cb/s1/1/…") {
		t.Errorf("a callback secret or token reached the log:\n%s", logs)
	}
}

// /readyz says whether Redis answers; /healthz only that the process serves.
func TestWorkerReadiness(t *testing.T) {
	t.Parallel()
	kit := testkit.New(t, testkit.Options{NoSim: true})
	h, err := tasks.NewHandlers(tasks.HandlerDeps{Store: kit.Store, API: noAPI{}, Enqueuer: kit.Queue}, tasks.Settings{})
	if err != nil {
		t.Fatal(err)
	}
	dead := redis.NewClient(&redis.Options{Addr: freeAddr(t), MaxRetries: -1})
	t.Cleanup(func() { _ = dead.Close() })
	for _, c := range []struct {
		rdb       redis.UniversalClient
		path      string
		want      int
		situation string
	}{
		{kit.RDB, "/readyz", http.StatusOK, "Redis up"},
		{dead, "/readyz", http.StatusServiceUnavailable, "Redis down"},
		{dead, "/healthz", http.StatusOK, "Redis down"},
		{kit.RDB, "/cb/v1/b/i/1/token", http.StatusNotFound, "callbacks off"},
		{kit.RDB, "/elsewhere", http.StatusNotFound, "Redis up"},
	} {
		rr := httptest.NewRecorder()
		workerMux(h, c.rdb).ServeHTTP(rr, httptest.NewRequest(http.MethodGet, c.path, nil))
		if rr.Code != c.want {
			t.Errorf("%s, %s: %d, want %d", c.situation, c.path, rr.Code, c.want)
		}
	}
}

// noAPI is a service that is never called.
type noAPI struct{ tasks.JobAPI }
