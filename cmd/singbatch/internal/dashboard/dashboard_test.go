package dashboard

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard/dashboardtest"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
)

// handler serves a dashboard on the bundle's Redis, scrubbing the bundle's secrets as
// the command does with its environment's.
func handler(t *testing.T, b *dashboardtest.Bundle, allowWrites bool, auth Auth) *httptest.Server {
	t.Helper()
	connOpt, err := asynq.ParseRedisURI(b.Redis.URL())
	if err != nil {
		t.Fatal(err)
	}
	rdb := b.Redis.Client(t)
	var secrets []upstream.Secret
	if b.Secrets {
		secrets = []upstream.Secret{upstream.NewSecret(dashboardtest.SecretID), upstream.NewSecret(dashboardtest.SecretKey),
			upstream.NewSecret(dashboardtest.GatewaySecret)}
	}
	store := batch.NewStore(rdb, keyspace.Keys{Prefix: dashboardtest.Prefix}, nil)
	var controls Controls
	if allowWrites {
		q := asynq.NewClientFromRedisClient(rdb)
		controls = tasks.Controls{Store: store, Queue: q}
	}
	d, err := New(Options{
		Store: store, Redis: rdb, RedisConnOpt: connOpt,
		AllowWrites: allowWrites, Controls: controls, UpstreamRate: dashboardtest.UpstreamRate, Auth: auth, Secrets: secrets,
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

func TestDashboardPagesPagingAndFilters(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, redistest.Options{})
	store := batch.NewStore(srv.Client(t), keyspace.Keys{Prefix: dashboardtest.Prefix}, nil)
	ctx := context.Background()
	items := make([]batch.Item, 250)
	for i := range items {
		items[i] = dashboardtest.Song(fmt.Sprintf("b%03d", i), "default", i+1)
	}
	if _, err := store.AddItems(ctx, "big", "big.jsonl", items); err != nil {
		t.Fatal(err)
	}
	// ".." is a valid batch name that no browser keeps in a path.
	if _, err := store.AddItems(ctx, "..", "dots.jsonl", []batch.Item{dashboardtest.Song("d1", "default", 1)}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 250; i += 10 {
		if _, _, err := store.Transition(ctx, "big", fmt.Sprintf("b%03d", i), 1, nil, batch.StateFailed, batch.Update{Error: "boom"}); err != nil {
			t.Fatal(err)
		}
	}
	base := handler(t, &dashboardtest.Bundle{Redis: srv}, true, Auth{}).URL

	page := func(query string, wantStatus int) string {
		t.Helper()
		status, body := dashboardtest.Get(t, base+"/batches/big"+query)
		if status != wantStatus {
			t.Fatalf("GET /batches/big%s: HTTP %d, want %d\n%s", query, status, wantStatus, body)
		}
		return body
	}
	p1 := page("", http.StatusOK)
	if ids := dashboardtest.ItemIDs(p1); len(ids) != 100 || ids[0] != "b000" || ids[99] != "b099" {
		t.Fatalf("page 1: %d items %v...", len(ids), ids[:min(3, len(ids))])
	}
	if !strings.Contains(p1, `href="/batches/big?page=2"`) || strings.Contains(p1, `rel="prev"`) {
		t.Errorf("page 1 links wrong")
	}
	if !strings.Contains(p1, `<span id="done">25/250</span>`) {
		t.Errorf("page 1 lacks done 25/250")
	}
	p2 := page("?page=2", http.StatusOK)
	if ids := dashboardtest.ItemIDs(p2); len(ids) != 100 || ids[0] != "b100" {
		t.Fatalf("page 2: %d items", len(ids))
	}
	p3 := page("?page=3", http.StatusOK)
	if ids := dashboardtest.ItemIDs(p3); len(ids) != 50 || ids[49] != "b249" || strings.Contains(p3, `rel="next"`) {
		t.Fatalf("page 3: %d items, next link %v", len(ids), strings.Contains(p3, `rel="next"`))
	}
	if ids := dashboardtest.ItemIDs(page("?page=4", http.StatusOK)); len(ids) != 0 {
		t.Fatalf("page 4: %d items", len(ids))
	}
	failed := page("?state=failed", http.StatusOK)
	ids := dashboardtest.ItemIDs(failed)
	if len(ids) != 25 || ids[0] != "b000" || ids[1] != "b010" || strings.Contains(failed, `rel="next"`) {
		t.Fatalf("failed filter: %d items %v", len(ids), ids)
	}
	if !strings.Contains(failed, "Items 1–25 of 25 failed.") {
		t.Errorf("failed filter: range text missing")
	}
	if ids := dashboardtest.ItemIDs(page("?state=pending&page=3", http.StatusOK)); len(ids) != 25 || ids[0] != "b223" {
		t.Fatalf("pending page 3: %d items %v", len(ids), ids)
	}
	for _, q := range []string{"?page=0", "?page=x", "?state=bogus"} {
		page(q, http.StatusBadRequest)
	}
	_, home := dashboardtest.Get(t, base+"/")
	if !strings.Contains(home, `href="/batch?name=..">..</a>`) {
		t.Errorf("batches page lacks the link to batch ..")
	}
	if status, dots := dashboardtest.Get(t, base+"/batch?name=..&state=pending"); status != http.StatusOK || len(dashboardtest.ItemIDs(dots)) != 1 ||
		!strings.Contains(dots, `href="/batch?name=..&amp;state=failed"`) {
		t.Errorf("batch .. page: HTTP %d\n%s", status, dots)
	}
	if status, _ := dashboardtest.Get(t, base+"/batches/nope"); status != http.StatusNotFound {
		t.Errorf("unknown batch: HTTP %d", status)
	}
	if status, _ := dashboardtest.Get(t, base+"/nope"); status != http.StatusNotFound {
		t.Errorf("unknown path: HTTP %d", status)
	}

	status, body := dashboardtest.Get(t, base+"/api/batches")
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

	_, metrics := dashboardtest.Get(t, base+"/metrics")
	for _, want := range []string{`singbatch_batch_items{batch="big",state="failed"} 25`, `singbatch_batch_items{batch="big",state="pending"} 225`,
		`singbatch_batch_items{batch="big",state="completed"} 0`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestDashboardEscapesEverything(t *testing.T) {
	t.Parallel()
	b := dashboardtest.Seed(t)
	base := handler(t, b, false, Auth{}).URL
	_, page := dashboardtest.Get(t, base+"/batches/"+dashboardtest.EscBatch)
	for _, bad := range []string{"<script>", "<img", `onerror="`} {
		if strings.Contains(page, bad) {
			t.Errorf("batch page holds raw %q", bad)
		}
	}
	for _, want := range []string{html.EscapeString(dashboardtest.EscError), "&lt;img src=x onerror=&#34;window.pwned=1&#34;&gt;", "a&amp;b &lt;c&gt;.wav"} {
		if !strings.Contains(page, want) {
			t.Errorf("batch page lacks escaped %q", want)
		}
	}
	if ids := dashboardtest.ItemIDs(page); len(ids) != 1 || ids[0] != dashboardtest.EscID {
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

func TestDashboardHealthzWithoutRedis(t *testing.T) {
	t.Parallel()
	b := &dashboardtest.Bundle{Redis: redistest.Start(t, redistest.Options{})}
	base := handler(t, b, true, Auth{}).URL
	if status, body := dashboardtest.Get(t, base+"/healthz"); status != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz with Redis: HTTP %d %q", status, body)
	}
	b.Redis.Kill()
	if status, _ := dashboardtest.Get(t, base+"/healthz"); status != http.StatusServiceUnavailable {
		t.Errorf("healthz without Redis: HTTP %d", status)
	}
	if status, body := dashboardtest.Get(t, base+"/"); status != http.StatusInternalServerError || !strings.Contains(body, "Could not read from Redis") {
		t.Errorf("batches page without Redis: HTTP %d\n%s", status, body)
	}
}

func TestScrubber(t *testing.T) {
	t.Parallel()
	s := newScrubber(upstream.NewSecret("abc"), upstream.NewSecret(dashboardtest.SecretKey), upstream.NewSecret(""))
	if got := s.clean("x abc y " + dashboardtest.SecretKey); got != "x REDACTED y REDACTED" {
		t.Errorf("clean = %q", got)
	}
	doc, _ := json.Marshal(map[string]any{"n": 12345678901234567, "msg": "key " + dashboardtest.SecretKey, "abc": []any{"abc", 1.5, nil, true}})
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
