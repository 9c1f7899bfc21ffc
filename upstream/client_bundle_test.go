package upstream_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/singbatch/singbatch/upstream"
)

// Test credentials: distinctive, so any leak is found by a plain substring search.
const (
	testSecretID  = "ID-S3CR3T-xyzzy-1111"
	testSecretKey = "S3CR3T-xyzzy-4242"
)

// testNow is the injected clock: a whole second, so HTTP dates round-trip exactly.
var testNow = time.Date(2024, 3, 5, 10, 20, 30, 0, time.UTC)

// clientBundle is one test's client, its private server and what they observed.
type clientBundle struct {
	client *upstream.Client
	opts   upstream.Options
	srv    *httptest.Server
	rec    *recorder
	gate   *fakeGate
	logs   *observer.ObservedLogs

	mu     sync.Mutex
	sleeps []time.Duration
}

// setupClient starts a server running handler and a client pointed at it, with a
// recording gate, an observed debug logger, the fixed clock and a recording sleep
// that does not wait. modify adjusts the options before New.
func setupClient(t *testing.T, handler http.HandlerFunc, modify ...func(*upstream.Options)) *clientBundle {
	t.Helper()
	b := &clientBundle{}
	b.gate = &fakeGate{}
	b.rec = &recorder{handler: handler, gate: b.gate}
	b.srv = httptest.NewServer(b.rec)
	t.Cleanup(b.srv.Close)
	core, logs := observer.New(zapcore.DebugLevel)
	b.logs = logs
	b.opts = upstream.Options{
		BaseURL:     b.srv.URL,
		Credentials: upstream.Credentials{SecretID: upstream.NewSecret(testSecretID), SecretKey: upstream.NewSecret(testSecretKey)},
		Timeout:     5 * time.Second,
		Gate:        b.gate,
		Logger:      zap.New(core),
		Now:         func() time.Time { return testNow },
		Sleep: func(ctx context.Context, d time.Duration) error {
			b.mu.Lock()
			b.sleeps = append(b.sleeps, d)
			b.mu.Unlock()
			return ctx.Err()
		},
		Rand: func() float64 { return 0.5 },
	}
	for _, m := range modify {
		m(&b.opts)
	}
	c, err := upstream.New(b.opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	b.client = c
	return b
}

func (b *clientBundle) waits() []time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]time.Duration(nil), b.sleeps...)
}

// recorder counts requests and keeps their bodies and headers before handing them on.
type recorder struct {
	handler http.HandlerFunc
	gate    *fakeGate // the server's view is logged into the gate's event list, for ordering

	mu      sync.Mutex
	bodies  [][]byte
	headers []http.Header
	targets []string // "METHOD /path"
}

func (r *recorder) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.bodies = append(r.bodies, body)
	r.headers = append(r.headers, req.Header.Clone())
	r.targets = append(r.targets, req.Method+" "+req.URL.Path)
	r.mu.Unlock()
	if r.gate != nil {
		r.gate.event("request")
	}
	req.Body = io.NopCloser(strings.NewReader(string(body)))
	r.handler(w, req)
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

func (r *recorder) body(i int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.bodies[i]
}

func (r *recorder) target(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.targets[i]
}

func (r *recorder) header(i int) http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.headers[i]
}

// fakeGate records Wait and Throttled calls (and the server's requests) in order.
type fakeGate struct {
	mu       sync.Mutex
	events   []string
	waitErr  error
	throttle []time.Duration
}

func (g *fakeGate) Wait(_ context.Context, action string) (func(), error) {
	g.event("wait " + action)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.waitErr != nil {
		return nil, g.waitErr
	}
	return func() { g.event("release " + action) }, nil
}

func (g *fakeGate) Throttled(action string, retryAfter time.Duration) {
	g.event(fmt.Sprintf("throttled %s %s", action, retryAfter))
	g.mu.Lock()
	defer g.mu.Unlock()
	g.throttle = append(g.throttle, retryAfter)
}

func (g *fakeGate) event(e string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, e)
}

func (g *fakeGate) log() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]string(nil), g.events...)
}

// reply answers with a status, headers (name, value pairs) and a body.
func reply(status int, body string, headerPairs ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		for i := 0; i+1 < len(headerPairs); i += 2 {
			w.Header().Set(headerPairs[i], headerPairs[i+1])
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

// sequence answers the i-th request with handlers[i], repeating the last one.
func sequence(handlers ...http.HandlerFunc) http.HandlerFunc {
	var mu sync.Mutex
	n := 0
	return func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		h := handlers[min(n, len(handlers)-1)]
		n++
		mu.Unlock()
		h(w, r)
	}
}

// hang blocks until the client gives up and hangs up (its per-attempt timeout), or
// until the test's cleanup releases it.
func hang(t *testing.T) http.HandlerFunc {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	return func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}
}

// resetAfterRequest reads the whole request, then drops the connection with a RST.
func resetAfterRequest(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.ReadAll(r.Body)
		conn, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		if tc, ok := conn.(interface{ SetLinger(int) error }); ok {
			_ = tc.SetLinger(0)
		}
		_ = conn.Close()
	}
}

// jobReply is a getJobResponse (and createJobResponse) for job id.
func jobReply(id string) string {
	return fmt.Sprintf(`{"requestId":"req-1","getJobResponse":{"job":%[1]s},"createJobResponse":{"job":%[1]s}}`,
		fmt.Sprintf(`{"id":%q,"state":2,"inputs":[{"url":"https://media.example.test/a.mp3"}],"outputs":[],"timing":{"createdAt":"1","startedAt":"2","completedAt":"0"}}`, id))
}

// validCreate is a generation request that passes validation.
func validCreate() *upstream.CreateJobRequest {
	return &upstream.CreateJobRequest{
		CustomID: "item-0001",
		Inputs:   []upstream.Input{{URL: "https://media.example.test/song.mp3"}},
		Outputs: []upstream.Output{{
			ContentID:      "repo-1",
			Destination:    "/out/item-0001",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: upstream.DefaultModel},
			},
		}},
	}
}

// readExample reads a contract example, replacing each "{name}" placeholder by vars[name].
func readExample(t *testing.T, name string, vars map[string]string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", "upstream", name))
	if err != nil {
		t.Fatalf("read example: %v", err)
	}
	s := string(b)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{"+k+"}", v)
	}
	return []byte(s)
}

// jsonEqual reports whether two JSON documents are semantically equal, with a diff hint.
func jsonEqual(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("got is not JSON: %v", err)
	}
	if err := json.Unmarshal(want, &w); err != nil {
		t.Fatalf("want is not JSON: %v", err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("JSON differs\n got: %s\nwant: %s", compact(got), compact(want))
	}
}

func compact(b []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return string(b)
	}
	return buf.String()
}
