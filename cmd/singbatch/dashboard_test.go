package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// Distinctive credentials: the dashboard's environment holds them, and the seeded data
// even leaks them into error messages, as a sanitizing bug elsewhere would. The key has
// characters that HTML and JSON escape, so every encoding of it is checked.
const (
	dashSecretID      = "AKIDdashSECRETid7731"
	dashSecretKey     = `dashSECRETkey<&>"9913`
	dashGatewaySecret = "dashSECRETgateway5521"
	dashPrefix        = "dashtest"
	dashBatch         = "spring-2025"
	dashEscBatch      = "escapes"
	dashEscID         = `<img src=x onerror="window.pwned=1">`
	dashEscError      = `<script>window.pwned=2</script> & "quoted"`
)

// dashSecrets are the values that must appear nowhere.
var dashSecrets = []string{dashSecretID, dashSecretKey, dashGatewaySecret}

// dashBundle is what a dashboard test may use (river-style test bundle).
type dashBundle struct {
	redis    *redistest.Server
	store    *batch.Store
	vars     []string            // the process environment of the dashboard
	taskIDs  map[string][]string // queue -> seeded asynq task ids
	errTexts map[string]string   // seeded item errors, by item id, as stored
}

// dashEnv is an env for dispatch with only vars in the environment.
func dashEnv(stdout, stderr io.Writer, vars []string) env {
	return testEnv("", stdout, stderr, vars)
}

// setupDashboard starts a private Redis and seeds it: a batch with items in every
// state (failed ones with errors, two of which leak a secret), a batch of hostile
// strings, models, and Asynq tasks pending, scheduled, retrying and archived in the
// queues songs, poll and train.
func setupDashboard(t *testing.T) *dashBundle {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	b := &dashBundle{
		redis: srv,
		store: batch.NewStore(srv.Client(t), keyspace.Keys{Prefix: dashPrefix}, nil),
		vars: []string{
			"REDIS_URL=" + srv.URL(), "REDIS_PREFIX=" + dashPrefix,
			"UPSTREAM_SECRET_ID=" + dashSecretID, "UPSTREAM_SECRET_KEY=" + dashSecretKey,
			"UPSTREAM_GATEWAY_KEY_ID=gw", "UPSTREAM_GATEWAY_KEY_SECRET=" + dashGatewaySecret,
			"LOG_LEVEL=debug", "LOG_FORMAT=json",
		},
		taskIDs:  map[string][]string{},
		errTexts: map[string]string{},
	}
	b.seedItems(t)
	b.seedTasks(t)
	return b
}

func dashSong(id, model string, line int) batch.Item {
	return batch.Item{ID: id, Kind: batch.KindSong, Model: model, Origin: fmt.Sprintf("songs.jsonl:%d", line)}
}

func dashTrain(id, model string, line int) batch.Item {
	return batch.Item{ID: id, Kind: batch.KindTrain, Model: model, Origin: fmt.Sprintf("voices.jsonl:%d", line)}
}

func (b *dashBundle) seedItems(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	add := func(name, manifest string, items ...batch.Item) {
		if _, err := b.store.AddItems(ctx, name, manifest, items); err != nil {
			t.Fatal(err)
		}
	}
	add(dashBatch, "voices.jsonl", dashTrain("t1", "alice_v1", 1), dashTrain("t2", "bob_v1", 2), dashTrain("t3", "carol_v1", 3))
	add(dashBatch, "songs.jsonl", dashSong("s1", "alice_v1", 1), dashSong("s2", "default", 2), dashSong("s3", "default", 3),
		dashSong("s4", "default", 4), dashSong("s5", "default", 5), dashSong("s6", "default", 6),
		dashSong("s7", "default", 7), dashSong("s8", "carol_v1", 8))
	add(dashEscBatch, "hostile.jsonl", dashSong(dashEscID, "default", 1))

	b.errTexts["s6"] = "CreateJob: invalid request (HTTP 400): InvalidParameter: inputs[0].url: not reachable [requestId req-s6]"
	b.errTexts["s7"] = "GetJob job-s7: authentication failed (HTTP 401): AuthFailure: secretKey " + dashSecretKey + " does not match"
	b.errTexts["t2"] = "training job-t2 ended in ERROR: bad audio; echoed secretId=" + dashSecretID
	b.errTexts[dashEscID] = dashEscError
	steps := []struct {
		batch, id string
		to        batch.State
		u         batch.Update
	}{
		{dashBatch, "s3", batch.StateSubmitting, batch.Update{CustomID: "sb-s3-1"}},
		{dashBatch, "s4", batch.StateSubmitting, batch.Update{CustomID: "sb-s4-1"}},
		{dashBatch, "s4", batch.StateSubmitted, batch.Update{JobID: "job-s4"}},
		{dashBatch, "s5", batch.StateSubmitting, batch.Update{CustomID: "sb-s5-1"}},
		{dashBatch, "s5", batch.StateSubmitted, batch.Update{JobID: "job-s5"}},
		{dashBatch, "s5", batch.StateCompleted, batch.Update{SongName: "s5_out.wav", OutputRepository: "repo1", OutputPath: "/out/s5/s5_out.wav"}},
		{dashBatch, "s6", batch.StateFailed, batch.Update{Error: b.errTexts["s6"]}},
		{dashBatch, "s7", batch.StateSubmitting, batch.Update{CustomID: "sb-s7-1"}},
		{dashBatch, "s7", batch.StateFailed, batch.Update{JobID: "job-s7", Error: b.errTexts["s7"]}},
		{dashBatch, "s8", batch.StateWaiting, batch.Update{}},
		{dashBatch, "t1", batch.StateSubmitting, batch.Update{CustomID: "sb-t1-1"}},
		{dashBatch, "t1", batch.StateSubmitted, batch.Update{JobID: "job-t1"}},
		{dashBatch, "t1", batch.StateCompleted, batch.Update{TrainedModel: "alice_v1"}},
		{dashBatch, "t2", batch.StateFailed, batch.Update{JobID: "job-t2", Error: b.errTexts["t2"]}},
		{dashBatch, "t3", batch.StateSubmitting, batch.Update{CustomID: "sb-t3-1"}},
		{dashBatch, "t3", batch.StateSubmitted, batch.Update{JobID: "job-t3"}},
		{dashEscBatch, dashEscID, batch.StateFailed, batch.Update{Error: dashEscError, SongName: `a&b <c>.wav`}},
	}
	for _, s := range steps {
		if ok, _, err := b.store.Transition(ctx, s.batch, s.id, 1, nil, s.to, s.u); err != nil || !ok {
			t.Fatalf("seed %s/%s -> %s: ok=%v err=%v", s.batch, s.id, s.to, ok, err)
		}
	}
}

// seedTasks enqueues submit and poll tasks and lets a real Asynq server fail two of
// them, so the queues hold tasks pending (songs), scheduled and retrying (poll) and
// archived (train), the last two with their last error.
func (b *dashBundle) seedTasks(t *testing.T) {
	t.Helper()
	conn := asynq.RedisClientOpt{Addr: b.redis.Addr}
	client := asynq.NewClient(conn)
	defer client.Close()
	enqueue := func(task *asynq.Task, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		info, err := client.Enqueue(task)
		if err != nil {
			t.Fatal(err)
		}
		b.taskIDs[info.Queue] = append(b.taskIDs[info.Queue], info.ID)
	}
	ref := func(id string) tasks.ItemRef { return tasks.ItemRef{Batch: dashBatch, Item: id, Attempt: 1} }
	enqueue(tasks.NewSubmitTask(ref("s1"), batch.KindSong))
	enqueue(tasks.NewSubmitTask(ref("s2"), batch.KindSong))
	enqueue(tasks.NewPollTask(tasks.PollPayload{ItemRef: ref("s4"), JobID: "job-s4", Poll: 1}, time.Hour))
	enqueue(tasks.NewPollTask(tasks.PollPayload{ItemRef: ref("t3"), JobID: "job-t3", Poll: 1}, 0))
	enqueue(tasks.NewSubmitTask(ref("t2"), batch.KindTrain))

	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypePoll, func(context.Context, *asynq.Task) error {
		return errors.New("GetJob job-t3: transient failure (HTTP 503): InternalError: busy [requestId req-t3]")
	})
	mux.HandleFunc(tasks.TypeSubmit, func(context.Context, *asynq.Task) error {
		return fmt.Errorf("CreateJob: authentication failed (HTTP 401): AuthFailure: secretId %s unknown: %w", dashSecretID, asynq.SkipRetry)
	})
	srv := asynq.NewServer(conn, asynq.Config{
		Queues:         map[string]int{tasks.QueuePoll: 1, tasks.QueueTrain: 1}, // songs stays pending
		Concurrency:    2,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:       asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	insp := asynq.NewInspector(conn)
	defer insp.Close()
	dashEventually(t, 10*time.Second, func() bool {
		poll, err1 := insp.GetQueueInfo(tasks.QueuePoll)
		train, err2 := insp.GetQueueInfo(tasks.QueueTrain)
		return err1 == nil && err2 == nil && poll.Retry == 1 && train.Archived == 1
	})
}

func dashEventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// handler builds the dashboard the way the command does, from the bundle's environment.
func (b *dashBundle) handler(t *testing.T, allowWrites bool, auth dashboardAuth) *httptest.Server {
	t.Helper()
	var out bytes.Buffer
	cfg, err := loadConfig(dashEnv(&out, &out, b.vars))
	if err != nil {
		t.Fatal(err)
	}
	connOpt, err := cfg.redisConn()
	if err != nil {
		t.Fatal(err)
	}
	rdb, err := cfg.redisClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	d, err := newDashboard(dashboardOptions{
		Store: batch.NewStore(rdb, keyspace.Keys{Prefix: cfg.RedisPrefix}, nil), Redis: rdb, RedisConnOpt: connOpt,
		AllowWrites: allowWrites, Auth: auth, Secrets: []upstream.Secret{cfg.SecretID, cfg.SecretKey, cfg.GatewayKeySecret},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(d)
	t.Cleanup(func() {
		srv.Close()
		_ = d.Close()
	})
	return srv
}

// dashGet fetches a URL and returns its status and body.
func dashGet(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// assertNoSecret fails when any secret appears in s in any encoding a page or a JSON
// reply could give it.
func assertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, sec := range dashSecrets {
		q, _ := json.Marshal(sec)
		forms := map[string]bool{sec: true, string(q[1 : len(q)-1]): true, html.EscapeString(sec): true,
			url.QueryEscape(sec): true, url.PathEscape(sec): true}
		for f := range forms {
			if strings.Contains(s, f) {
				t.Errorf("%s shows a secret (%q)", where, f)
			}
		}
	}
}

var dataItemRE = regexp.MustCompile(`data-item="([^"]*)"`)

// itemIDs lists the item ids of a batch page, in order.
func itemIDs(page string) []string {
	var ids []string
	for _, m := range dataItemRE.FindAllStringSubmatch(page, -1) {
		ids = append(ids, html.UnescapeString(m[1]))
	}
	return ids
}

func TestDashboardPagesPagingAndFilters(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	store := batch.NewStore(srv.Client(t), keyspace.Keys{Prefix: dashPrefix}, nil)
	ctx := context.Background()
	items := make([]batch.Item, 250)
	for i := range items {
		items[i] = dashSong(fmt.Sprintf("b%03d", i), "default", i+1)
	}
	if _, err := store.AddItems(ctx, "big", "big.jsonl", items); err != nil {
		t.Fatal(err)
	}
	// ".." is a valid batch name that no browser keeps in a path.
	if _, err := store.AddItems(ctx, "..", "dots.jsonl", []batch.Item{dashSong("d1", "default", 1)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 250; i += 10 {
		if _, _, err := store.Transition(ctx, "big", fmt.Sprintf("b%03d", i), 1, nil, batch.StateFailed, batch.Update{Error: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	b := &dashBundle{redis: srv, vars: []string{"REDIS_URL=" + srv.URL(), "REDIS_PREFIX=" + dashPrefix}}
	base := b.handler(t, true, dashboardAuth{}).URL

	page := func(query string, wantStatus int) string {
		t.Helper()
		status, body := dashGet(t, base+"/batches/big"+query)
		if status != wantStatus {
			t.Fatalf("GET /batches/big%s: HTTP %d, want %d\n%s", query, status, wantStatus, body)
		}
		return body
	}
	p1 := page("", http.StatusOK)
	if ids := itemIDs(p1); len(ids) != 100 || ids[0] != "b000" || ids[99] != "b099" {
		t.Fatalf("page 1: %d items %v...", len(ids), ids[:min(3, len(ids))])
	}
	if !strings.Contains(p1, `href="/batches/big?page=2"`) || strings.Contains(p1, `rel="prev"`) {
		t.Errorf("page 1 links wrong")
	}
	if !strings.Contains(p1, `<span id="done">25/250</span>`) {
		t.Errorf("page 1 lacks done 25/250")
	}
	p2 := page("?page=2", http.StatusOK)
	if ids := itemIDs(p2); len(ids) != 100 || ids[0] != "b100" {
		t.Fatalf("page 2: %d items", len(ids))
	}
	p3 := page("?page=3", http.StatusOK)
	if ids := itemIDs(p3); len(ids) != 50 || ids[49] != "b249" || strings.Contains(p3, `rel="next"`) {
		t.Fatalf("page 3: %d items, next link %v", len(ids), strings.Contains(p3, `rel="next"`))
	}
	if ids := itemIDs(page("?page=4", http.StatusOK)); len(ids) != 0 {
		t.Fatalf("page 4: %d items", len(ids))
	}
	failed := page("?state=failed", http.StatusOK)
	ids := itemIDs(failed)
	if len(ids) != 25 || ids[0] != "b000" || ids[1] != "b010" || strings.Contains(failed, `rel="next"`) {
		t.Fatalf("failed filter: %d items %v", len(ids), ids)
	}
	if !strings.Contains(failed, "Items 1–25 of 25 failed.") {
		t.Errorf("failed filter: range text missing")
	}
	if ids := itemIDs(page("?state=pending&page=3", http.StatusOK)); len(ids) != 25 || ids[0] != "b223" {
		t.Fatalf("pending page 3: %d items %v", len(ids), ids)
	}
	for _, q := range []string{"?page=0", "?page=x", "?state=bogus"} {
		page(q, http.StatusBadRequest)
	}
	_, home := dashGet(t, base+"/")
	if !strings.Contains(home, `href="/batch?name=..">..</a>`) {
		t.Errorf("batches page lacks the link to batch ..")
	}
	if status, dots := dashGet(t, base+"/batch?name=..&state=pending"); status != http.StatusOK || len(itemIDs(dots)) != 1 ||
		!strings.Contains(dots, `href="/batch?name=..&amp;state=failed"`) {
		t.Errorf("batch .. page: HTTP %d\n%s", status, dots)
	}
	if status, _ := dashGet(t, base+"/batches/nope"); status != http.StatusNotFound {
		t.Errorf("unknown batch: HTTP %d", status)
	}
	if status, _ := dashGet(t, base+"/nope"); status != http.StatusNotFound {
		t.Errorf("unknown path: HTTP %d", status)
	}

	status, body := dashGet(t, base+"/api/batches")
	var api struct {
		Batches []apiBatch `json:"batches"`
	}
	if err := json.Unmarshal([]byte(body), &api); err != nil || status != http.StatusOK {
		t.Fatalf("/api/batches: HTTP %d %v\n%s", status, err, body)
	}
	byName := map[string]apiBatch{}
	for _, ab := range api.Batches {
		byName[ab.Name] = ab
	}
	big, dots := byName["big"], byName[".."]
	if len(api.Batches) != 2 || big.Total != 250 || big.Done != 25 || big.Counts["failed"] != 25 ||
		big.Counts["pending"] != 225 || big.URL != "/batches/big" || dots.Total != 1 || dots.URL != "/batch?name=.." {
		t.Errorf("/api/batches = %+v", api.Batches)
	}

	_, metrics := dashGet(t, base+"/metrics")
	for _, want := range []string{`singbatch_batch_items{batch="big",state="failed"} 25`, `singbatch_batch_items{batch="big",state="pending"} 225`,
		`singbatch_batch_items{batch="big",state="completed"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestDashboardEscapesEverything(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t)
	base := b.handler(t, false, dashboardAuth{}).URL
	_, page := dashGet(t, base+"/batches/"+dashEscBatch)
	for _, bad := range []string{"<script>", "<img", `onerror="`} {
		if strings.Contains(page, bad) {
			t.Errorf("batch page holds raw %q", bad)
		}
	}
	for _, want := range []string{html.EscapeString(dashEscError), "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;", "a&amp;b &lt;c&gt;.wav"} {
		if !strings.Contains(page, want) {
			t.Errorf("batch page lacks escaped %q", want)
		}
	}
	if ids := itemIDs(page); len(ids) != 1 || ids[0] != dashEscID {
		t.Errorf("item ids = %q", ids)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("CSP = %q", csp)
	}
}

// TestDashboardCommand runs `singbatch dashboard` as main would, with the credentials in
// its environment, fetches every page and every Asynq UI API reply the seeded data has,
// and finds no secret in any of them.
func TestDashboardCommand(t *testing.T) {
	t.Parallel()
	b := setupDashboard(t)
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- dispatch(ctx, dashEnv(&stdout, &stderr, b.vars), []string{"dashboard", "--addr", "127.0.0.1:0"})
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
	dashEventually(t, 10*time.Second, func() bool {
		if m := urlRE.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	})

	// Every page, with a piece of what it must show, so an empty page cannot pass.
	pages := map[string]string{
		"/":                                 `data-batch="spring-2025"`,
		"/batches/" + dashBatch:             "sb-s4-1",
		"/batches/" + dashEscBatch:          "window.pwned",
		"/api/batches":                      `"name":"spring-2025"`,
		"/healthz":                          "ok",
		"/metrics":                          `asynq_queue_size{queue="songs"} 2`,
		"/static/style.css":                 "font",
		"/monitoring/":                      "<div id=\"root\">",
		"/monitoring/api/queues":            `"queue":"songs"`,
		"/monitoring/api/queue_stats":       "stats",
		"/monitoring/api/servers":           "servers",
		"/monitoring/api/redis_info":        "redis_version",
		"/monitoring/api/scheduler_entries": "entries",
	}
	for _, st := range batch.States() {
		pages["/batches/"+dashBatch+"?state="+string(st)] = `aria-current="page">` + string(st)
	}
	for q, ids := range b.taskIDs {
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
	pages["/batches/"+dashBatch+"?state=failed"] = "AuthFailure: secretKey REDACTED does not match"

	for path, want := range pages {
		status, body := dashGet(t, base+path)
		if status != http.StatusOK {
			t.Errorf("GET %s: HTTP %d\n%.300s", path, status, body)
		}
		if !strings.Contains(body, want) {
			t.Errorf("GET %s lacks %q:\n%.600s", path, want, body)
		}
		assertNoSecret(t, "GET "+path, body)
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
	assertNoSecret(t, "the command's output", logs+stdout.String())
}

func TestDashboardHealthzWithoutRedis(t *testing.T) {
	t.Parallel()
	b := &dashBundle{redis: redistest.Start(t, redistest.Options{})}
	b.vars = []string{"REDIS_URL=" + b.redis.URL()}
	base := b.handler(t, true, dashboardAuth{}).URL
	if status, body := dashGet(t, base+"/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz with Redis: HTTP %d %q", status, body)
	}
	b.redis.Kill()
	if status, _ := dashGet(t, base+"/healthz"); status != http.StatusServiceUnavailable {
		t.Errorf("healthz without Redis: HTTP %d", status)
	}
	if status, body := dashGet(t, base+"/"); status != http.StatusInternalServerError || !strings.Contains(body, "Could not read from Redis") {
		t.Errorf("batches page without Redis: HTTP %d\n%s", status, body)
	}
}

func TestDashboardFlags(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var out, errOut syncBuffer
	e := dashEnv(&out, &errOut, []string{"UPSTREAM_SECRET_KEY=" + dashSecretKey})
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
	assertNoSecret(t, "flag output", out.String()+errOut.String())
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	s := newScrubber(upstream.NewSecret("abc"), upstream.NewSecret(dashSecretKey), upstream.NewSecret(""))
	if got := s.clean("x abc y " + dashSecretKey); got != "x REDACTED y REDACTED" {
		t.Errorf("clean = %q", got)
	}
	doc, _ := json.Marshal(map[string]any{"n": 12345678901234567, "msg": "key " + dashSecretKey, "abc": []any{"abc", 1.5, nil, true}})
	got := s.cleanBody(doc)
	var back map[string]any
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatalf("cleaned JSON is invalid: %v\n%s", err, got)
	}
	if back["msg"] != "key REDACTED" || back["REDACTED"] == nil || !strings.Contains(string(got), "12345678901234567") {
		t.Errorf("cleaned JSON = %s", got)
	}
	if got := string(s.cleanBody([]byte("not json abc\n"))); got != "not json REDACTED\n" {
		t.Errorf("cleaned text = %q", got)
	}
	if newScrubber(upstream.NewSecret("")).active() {
		t.Errorf("a scrubber without secrets is active")
	}
}
