package dashboard

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	// chromedp drives the installed Chromium over the DevTools protocol, with no
	// Node.js and no browser download: the pages are checked as a user's browser
	// renders them, the Asynq UI's JavaScript included.
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard/dashboardtest"
	"github.com/singbatch/singbatch/upstream"
)

// browserTimeout bounds the whole browser session of a test.
const browserTimeout = 50 * time.Second

// findChromium returns the Chromium to drive. A missing one fails the test: CI installs
// it (.ci/deps), and a silent skip would hide that the pages were never rendered.
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found on PATH: the dashboard's browser test needs it; install it with `bash .ci/deps` (Debian package chromium), or run go test -short to skip this test")
	return ""
}

// startBrowser starts a headless Chromium with a fresh profile, closed when the test
// ends, and returns the context of its first tab.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	profile := filepath.Join(t.TempDir(), "profile")
	t.Cleanup(func() { removeProfile(t, profile) }) // runs after the browser's cleanups
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1400, 1000),
	)
	t.Cleanup(acancel) // kills Chromium and waits for it
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		// Close Chromium gracefully, so its helper processes end with it.
		cctx, ccancel := context.WithTimeout(bctx, 10*time.Second)
		defer ccancel()
		if err := chromedp.Cancel(cctx); err != nil {
			t.Logf("close chromium: %v", err)
		}
		bcancel()
	})
	if err := chromedp.Run(bctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return bctx
}

// removeProfile deletes Chromium's profile. A helper process of the browser may still
// be writing to it for a moment after the browser has exited.
func removeProfile(t *testing.T, dir string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := os.RemoveAll(dir)
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("remove chromium profile: %v", err)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// screenshotDir is where screenshots go: $SINGBATCH_SCREENSHOTS to keep them, else a
// temporary directory.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("SINGBATCH_SCREENSHOTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.TempDir()
}

// browse runs actions in the tab, failing the test with what was being done.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	if err := chromedp.Run(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// text is an element's rendered text, trimmed.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	var s string
	browse(t, ctx, "read "+sel, chromedp.Text(sel, &s, chromedp.ByQuery))
	return strings.TrimSpace(s)
}

// waitFor polls a JavaScript condition until it is true.
func waitFor(t *testing.T, ctx context.Context, what, expr string) {
	t.Helper()
	var ok bool
	browse(t, ctx, "wait for "+what, chromedp.Poll(expr, &ok, chromedp.WithPollingTimeout(20*time.Second)))
}

// screenshot saves the whole page as NAME.png.
func screenshot(t *testing.T, ctx context.Context, dir, name string) {
	t.Helper()
	var png []byte
	browse(t, ctx, "screenshot "+name, chromedp.FullScreenshot(&png, 100))
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s (%d bytes)", p, len(png))
}

// assertPageHasNoSecret checks the rendered DOM and the visible text of the page.
func assertPageHasNoSecret(t *testing.T, ctx context.Context) {
	t.Helper()
	var dom, visible, loc string
	browse(t, ctx, "read the page", chromedp.Location(&loc),
		chromedp.Evaluate(`document.documentElement.outerHTML`, &dom),
		chromedp.Evaluate(`document.body.innerText`, &visible))
	dashboardtest.AssertNoSecret(t, "page "+loc, dom+"\n"+visible)
}

// TestDashboardInBrowser renders the dashboard in a real headless Chromium: the batches
// page and its counts, a click through to a batch, a state filter and a failed item's
// error, hostile strings shown as text, and the Asynq UI listing our queues — with the
// credentials in the dashboard's environment and leaked into stored errors, and found
// on no page.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	t.Parallel()
	chromium := findChromium(t)
	b := dashboardtest.Seed(t)
	base := handler(t, b, true, Auth{}).URL
	ctx := startBrowser(t, chromium)
	shots := screenshotDir(t)

	// Batches page: the seeded batch with its counts, read from the rendered cells.
	row := `tr[data-batch="` + dashboardtest.Batch + `"]`
	browse(t, ctx, "open /", chromedp.Navigate(base+"/"), chromedp.WaitVisible("#batches", chromedp.ByQuery))
	for sel, want := range map[string]string{
		row + " td.total":                    "11",
		row + " td.state-pending":            "2",
		row + " td.state-waiting":            "1",
		row + " td.state-submitting":         "1",
		row + " td.state-submitted":          "2",
		row + " td.state-completed":          "2",
		row + " td.state-failed":             "3",
		row + " .done":                       "5/11",
		`tr[data-model="alice_v1"] td.state`: "ready",
		`tr[data-model="bob_v1"] td.state`:   "failed",
		`tr[data-model="carol_v1"] td.state`: "training",
	} {
		if got := text(t, ctx, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if got := text(t, ctx, `tr[data-model="bob_v1"] td.error`); !strings.Contains(got, "secretId=REDACTED") {
		t.Errorf("bob_v1's error = %q, want the leaked secret replaced", got)
	}
	screenshot(t, ctx, shots, "batches")
	assertPageHasNoSecret(t, ctx)

	// Click through to the batch: every item is listed.
	var loc string
	var rows int
	browse(t, ctx, "click the batch",
		chromedp.Click(row+" td.name a", chromedp.ByQuery),
		chromedp.WaitVisible("#items", chromedp.ByQuery),
		chromedp.Location(&loc),
		chromedp.Evaluate(`document.querySelectorAll('#items tbody tr').length`, &rows))
	if !strings.HasSuffix(loc, "/batches/"+dashboardtest.Batch) || text(t, ctx, "#batch-name") != dashboardtest.Batch || rows != 11 {
		t.Fatalf("batch page: location %s, name %q, %d rows", loc, text(t, ctx, "#batch-name"), rows)
	}
	if got := text(t, ctx, `tr[data-item="s5"] td.output`); !strings.Contains(got, "s5_out.wav") || !strings.Contains(got, "repo1: /out/s5/s5_out.wav") {
		t.Errorf("s5 output = %q", got)
	}
	if got := text(t, ctx, `tr[data-item="s4"] td.jobId`); got != "job-s4" {
		t.Errorf("s4 jobId = %q", got)
	}
	assertPageHasNoSecret(t, ctx)

	// Filter by state: only the failed items, with their errors.
	browse(t, ctx, "filter failed",
		chromedp.Click("#filters a.filter-failed", chromedp.ByQuery),
		chromedp.WaitVisible("#filters a.filter-failed.current", chromedp.ByQuery),
		chromedp.Evaluate(`[...document.querySelectorAll('#items tbody tr')].map(r => r.dataset.item).join(",")`, &loc))
	if loc != "t2,s6,s7" { // manifest order: voices.jsonl was read first
		t.Errorf("failed items = %q, want t2,s6,s7", loc)
	}
	if got := text(t, ctx, `tr[data-item="s6"] td.error`); got != b.ErrTexts["s6"] {
		t.Errorf("s6 error = %q, want %q", got, b.ErrTexts["s6"])
	}
	if got := text(t, ctx, `tr[data-item="s7"] td.error`); got != strings.ReplaceAll(b.ErrTexts["s7"], dashboardtest.SecretKey, "REDACTED") {
		t.Errorf("s7 error = %q, want the leaked key replaced", got)
	}
	if got := text(t, ctx, `tr[data-item="s7"] td.state`); got != "failed" {
		t.Errorf("s7 state = %q", got)
	}
	screenshot(t, ctx, shots, "batch-failed")
	assertPageHasNoSecret(t, ctx)

	// Hostile strings are text, never markup or script.
	var pwned bool
	browse(t, ctx, "open the hostile batch",
		chromedp.Navigate(base+"/batches/"+dashboardtest.EscBatch),
		chromedp.WaitVisible("#items", chromedp.ByQuery),
		chromedp.Evaluate(`window.pwned !== undefined || document.querySelector('#items img') !== null`, &pwned))
	if pwned {
		t.Errorf("a hostile string ran or became markup")
	}
	if got := text(t, ctx, "#items td.id"); got != dashboardtest.EscID {
		t.Errorf("hostile id shown as %q", got)
	}
	if got := text(t, ctx, "#items td.error"); got != dashboardtest.EscError {
		t.Errorf("hostile error shown as %q", got)
	}

	// The Asynq UI: its JavaScript runs and lists our queues.
	browse(t, ctx, "open /monitoring/", chromedp.Navigate(base+"/monitoring/"))
	waitFor(t, ctx, "the queues songs, train and poll", `["songs", "train", "poll"].every(q =>
		[...document.querySelectorAll("td, th, a")].some(e => e.textContent.trim() === q))`)
	screenshot(t, ctx, shots, "monitoring")
	assertPageHasNoSecret(t, ctx)

	// Its archived and retry lists show the last errors, scrubbed.
	for _, p := range []struct{ queue, status, want string }{
		{"train", "archived", "AuthFailure: secretId REDACTED unknown"},
		{"poll", "retry", "InternalError: busy"},
		{"poll", "scheduled", "singbatch:poll"},
		{"songs", "pending", "singbatch:submit"},
	} {
		browse(t, ctx, "open "+p.queue+" "+p.status, chromedp.Navigate(base+"/monitoring/queues/"+p.queue+"?status="+p.status))
		waitFor(t, ctx, p.want, `document.body.innerText.includes(`+jsString(p.want)+`)`)
		if p.status == "archived" {
			screenshot(t, ctx, shots, "monitoring-archived")
		}
		assertPageHasNoSecret(t, ctx)
	}

	// The remaining pages, each once its data is in: a task's details, Redis, servers,
	// and the plain-text and JSON endpoints as the browser shows them.
	for _, p := range []struct{ path, want string }{
		{"/monitoring/queues/train/tasks/" + url.PathEscape(b.TaskIDs["train"][0]), "REDACTED unknown"},
		{"/monitoring/redis", "redis_version"},
		{"/monitoring/servers", "No servers found"},
		{"/api/batches", `"name":"` + dashboardtest.Batch + `"`},
		{"/metrics", `singbatch_batch_items{batch="` + dashboardtest.Batch + `",state="failed"} 3`},
		{"/healthz", "ok"},
	} {
		browse(t, ctx, "open "+p.path, chromedp.Navigate(base+p.path))
		waitFor(t, ctx, p.want+" on "+p.path, `document.body.innerText.includes(`+jsString(p.want)+`)`)
		assertPageHasNoSecret(t, ctx)
	}
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// The browser logs in with the dashboard's credentials; a form on another site that
// posts a change to the Asynq UI is refused even though the browser sends them, while
// the dashboard's own page may make that change.
func TestDashboardLoginAndCrossSiteInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	t.Parallel()
	chromium := findChromium(t)
	b := dashboardtest.Seed(t)
	base := handler(t, b, true, Auth{User: dashboardtest.User, Password: upstream.NewSecret(dashboardtest.Password)}).URL
	ctx := startBrowser(t, chromium)
	in := asynq.NewInspectorFromRedisClient(b.Redis.Client(t))
	paused := func() bool {
		t.Helper()
		q, err := in.GetQueueInfo("songs")
		if err != nil {
			t.Fatal(err)
		}
		return q.Paused
	}

	// Not logged in: refused.
	var status int
	browse(t, ctx, "fetch / without credentials", chromedp.Navigate(base+"/healthz"),
		chromedp.Evaluate(`fetch("/", {credentials: "omit"}).then(r => r.status)`, &status, awaitPromise))
	if status != http.StatusUnauthorized {
		t.Errorf("GET / without credentials in the browser: HTTP %d, want 401", status)
	}

	// Logged in: the browser sends the credentials with every request from now on, as
	// it does once the user has typed them.
	auth := "Basic " + base64.StdEncoding.EncodeToString([]byte(dashboardtest.User+":"+dashboardtest.Password))
	browse(t, ctx, "log in", network.Enable(), network.SetExtraHTTPHeaders(network.Headers{"Authorization": auth}),
		chromedp.Navigate(base+"/"), chromedp.WaitVisible("#batches", chromedp.ByQuery))
	if got := text(t, ctx, `tr[data-batch="`+dashboardtest.Batch+`"] td.total`); got != "11" {
		t.Errorf("logged in, the batch total reads %q", got)
	}

	// Another site's page posts a pause: refused, nothing paused.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, `<form method="POST" action="`+base+`/monitoring/api/queues/songs:pause"></form>`+
			`<script>document.forms[0].submit()</script>`)
	}))
	t.Cleanup(evil.Close)
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1) // another site, not just another port
	browse(t, ctx, "open the hostile page", chromedp.Navigate(evilURL))
	waitFor(t, ctx, "the refusal", `location.href.includes("songs:pause") && document.body.innerText.includes("cross-origin")`)
	if paused() {
		t.Fatal("a cross-site form paused the songs queue")
	}

	// The dashboard's own page may: the Asynq UI's, whose script makes such calls.
	browse(t, ctx, "pause from the Asynq UI", chromedp.Navigate(base+"/monitoring/"),
		chromedp.Evaluate(`fetch("/monitoring/api/queues/songs:pause", {method: "POST"}).then(r => r.status)`, &status, awaitPromise))
	if status/100 != 2 || !paused() {
		t.Errorf("same-origin pause: HTTP %d, paused %v", status, paused())
	}
}

// awaitPromise makes chromedp.Evaluate wait for the promise the expression returns.
func awaitPromise(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }
