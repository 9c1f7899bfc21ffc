package dashboard

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/cmd/singbatch/internal/dashboard/dashboardtest"
	"github.com/singbatch/singbatch/tasks"
)

// The batch page in a real browser: its figures, its two SVG charts (drawn by the
// server: the page runs no script), failed items grouped by reason, and, with
// --allow-writes, the pause, resume and cancel buttons doing what they say.
func TestBatchPageChartsAndControlsInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test: skipped with -short")
	}
	t.Parallel()
	chromium := findChromium(t)
	b := dashboardtest.Seed(t)
	ctx := context.Background()
	// A batch whose failures share reasons.
	const grouped = "grouped"
	reasons := []string{"CreateJob: song too long", "CreateJob: song too long", "training failed: bad audio",
		"CreateJob: song too long", "training failed: bad audio", "GetJob: job expired"}
	var items []batch.Item
	for i := range reasons {
		items = append(items, dashboardtest.Song("g"+strconv.Itoa(i), "default", i+1))
	}
	if _, err := b.Store.AddItems(ctx, grouped, "g.jsonl", items); err != nil {
		t.Fatal(err)
	}
	for i, r := range reasons {
		if ok, _, err := b.Store.Transition(ctx, grouped, "g"+strconv.Itoa(i), 1, nil, batch.StateFailed, batch.Update{Error: r}); !ok || err != nil {
			t.Fatalf("fail g%d: %v %v", i, ok, err)
		}
	}
	base := handler(t, b, true, Auth{}).URL
	tab := startBrowser(t, chromium)
	shots := screenshotDir(t)

	browse(t, tab, "open the batch", chromedp.Navigate(base+"/batches/"+dashboardtest.Batch),
		chromedp.WaitVisible("#stats", chromedp.ByQuery))
	for sel, want := range map[string]string{
		"#jobs":          strconv.Itoa(dashboardtest.Jobs),
		"#calls":         strconv.Itoa(dashboardtest.Calls),
		"#calls-per-job": fmt.Sprintf("%.2f", float64(dashboardtest.Calls)/dashboardtest.FinishedJobs),
		"#rate-limit":    strconv.Itoa(dashboardtest.UpstreamRate),
		"#priority":      "normal",
	} {
		if got := text(t, tab, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	// Items finished within the last 5 minutes (all 5, seeded just now): 1 a minute.
	if got := text(t, tab, "#items-per-minute"); got != "1" {
		t.Errorf("items per minute = %q, want 1", got)
	}
	if got := text(t, tab, "#eta"); !strings.Contains(got, "from the items finished") {
		t.Errorf("ETA = %q, want one from the recent rate", got)
	}
	// The charts, as the browser laid them out: bars of finished items, a line of
	// requests per second, and the limit's line above it.
	var finishedBars, finishedSum, lineWidth, limitY, lineTop float64
	browse(t, tab, "measure the charts",
		chromedp.Evaluate(`document.querySelectorAll('#chart-finished svg rect.bar').length`, &finishedBars),
		chromedp.Evaluate(`[...document.querySelectorAll('#chart-finished rect.bar title')].map(e => parseFloat(e.textContent.split(': ')[1])).reduce((a, b) => a + b, 0)`, &finishedSum),
		chromedp.Evaluate(`document.querySelector('#chart-requests polyline.line').getBBox().width`, &lineWidth),
		chromedp.Evaluate(`document.querySelector('#chart-requests line.limit').getBBox().y`, &limitY),
		chromedp.Evaluate(`document.querySelector('#chart-requests polyline.line').getBBox().y`, &lineTop))
	if finishedBars < 30 || finishedSum != 5 { // at least 5 minutes of 10 s buckets
		t.Errorf("finished chart: %v bars adding up to %v items; want the 5 seeded items over 30 bars or more", finishedBars, finishedSum)
	}
	if lineWidth <= 100 || limitY >= lineTop {
		t.Errorf("requests chart: line %v wide, limit at y %v, line's top at y %v: want a line across, below the limit", lineWidth, limitY, lineTop)
	}
	var scripts int
	browse(t, tab, "count scripts", chromedp.Evaluate(`document.scripts.length`, &scripts))
	if scripts != 0 {
		t.Errorf("the batch page has %d scripts", scripts)
	}
	screenshot(t, tab, shots, "batch-charts")
	assertPageHasNoSecret(t, tab)

	// Pause, then resume, then cancel, from the page's own buttons.
	batchRec := func() batch.BatchRecord {
		t.Helper()
		rec, err := b.Store.Batch(ctx, dashboardtest.Batch)
		if err != nil {
			t.Fatal(err)
		}
		return rec
	}
	browse(t, tab, "pause", chromedp.Click("#pause", chromedp.ByQuery), chromedp.WaitVisible("#did", chromedp.ByQuery))
	if !batchRec().Paused || !strings.HasPrefix(text(t, tab, "#did"), "Paused") || text(t, tab, "#paused") != "paused" {
		t.Fatalf("after pause: record paused %v, page says %q", batchRec().Paused, text(t, tab, "#did"))
	}
	browse(t, tab, "resume", chromedp.Click("#resume", chromedp.ByQuery), chromedp.WaitVisible("#pause", chromedp.ByQuery))
	if batchRec().Paused {
		t.Fatal("still paused after resume")
	}
	// Cancel without its box ticked: the browser itself refuses to send the form.
	browse(t, tab, "cancel unconfirmed", chromedp.Click("#cancel", chromedp.ByQuery), chromedp.WaitVisible("#pause", chromedp.ByQuery))
	if batchRec().Canceled {
		t.Fatal("canceled without the confirmation")
	}
	browse(t, tab, "cancel", chromedp.Click("#confirm-cancel", chromedp.ByQuery), chromedp.Click("#cancel", chromedp.ByQuery),
		chromedp.WaitVisible("#canceled", chromedp.ByQuery))
	rec := batchRec()
	// The seeded batch's unsent items (pending s1 and s2, waiting s8) are canceled; the
	// claimed one is the reconcile's to decide, and submitted ones are followed.
	if !rec.Canceled || rec.Counts[batch.StateCanceled] != 3 || rec.Counts[batch.StatePending]+rec.Counts[batch.StateWaiting] != 0 {
		t.Errorf("after cancel: canceled %v, counts %v", rec.Canceled, rec.Counts)
	}
	screenshot(t, tab, shots, "batch-canceled")

	// A batch over its cap: the items held back, and why.
	const capped = "capped"
	if _, err := b.Store.AddItems(ctx, capped, "c.jsonl", []batch.Item{dashboardtest.Song("c1", "default", 1),
		dashboardtest.Song("c2", "default", 2), dashboardtest.Song("c3", "default", 3)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Store.SetMaxJobs(ctx, capped, 1); err != nil {
		t.Fatal(err)
	}
	for i, want := range []batch.ClaimOutcome{batch.Claimed, batch.ParkedBatchCap, batch.ParkedBatchCap} {
		if o, _, err := b.Store.Claim(ctx, capped, "c"+strconv.Itoa(i+1), 1, "sb-c"+strconv.Itoa(i+1), batch.ClaimCaps{}); o != want || err != nil {
			t.Fatalf("claim c%d: %v %v, want %v", i+1, o, err, want)
		}
	}
	browse(t, tab, "open the capped batch", chromedp.Navigate(base+"/batches/"+capped), chromedp.WaitVisible("#held", chromedp.ByQuery))
	if got, want := text(t, tab, "#held"), "2 items: "+(batch.BatchRecord{HeldBy: "batch"}).HeldReason(); got != want {
		t.Errorf("held = %q, want %q", got, want)
	}
	if got := text(t, tab, "#jobs"); got != "1 of at most 1" {
		t.Errorf("capped batch's jobs = %q, want 1 of at most 1", got)
	}
	screenshot(t, tab, shots, "batch-held")

	// Before anything of a batch finished, its ETA comes from the job durations the
	// workers learned: its calls at the account's rate, then its longest class's 90th
	// percentile.
	const fresh = "fresh"
	var songs []batch.Item
	for i := range 10 {
		songs = append(songs, dashboardtest.Song("f"+strconv.Itoa(i), "default", i+1))
	}
	if _, err := b.Store.AddItems(ctx, fresh, "f.jsonl", songs); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		if _, err := b.Store.RecordJobTiming(ctx, "song", batch.JobTiming{Total: 40 * time.Second}); err != nil {
			t.Fatal(err)
		}
	}
	browse(t, tab, "open the fresh batch", chromedp.Navigate(base+"/batches/"+fresh), chromedp.WaitVisible("#eta", chromedp.ByQuery))
	eta := 10*(1+tasks.PollsPerItem)/dashboardtest.UpstreamRate*float64(time.Second) + float64(40*time.Second)
	if got, want := text(t, tab, "#eta"), time.Duration(eta).Round(time.Second).String()+" (from the job durations learned from the service)"; got != want {
		t.Errorf("ETA = %q, want %q", got, want)
	}

	// Failed items grouped by reason, most common first.
	browse(t, tab, "open the grouped batch", chromedp.Navigate(base+"/batches/"+grouped), chromedp.WaitVisible("#reasons", chromedp.ByQuery))
	var rows string
	browse(t, tab, "read the reasons", chromedp.Evaluate(
		`[...document.querySelectorAll('#reasons tbody tr')].map(r => r.cells[0].innerText + " " + r.cells[1].innerText).join("|")`, &rows))
	if want := "3 CreateJob: song too long|2 training failed: bad audio|1 GetJob: job expired"; rows != want {
		t.Errorf("reasons %q, want %q", rows, want)
	}
	screenshot(t, tab, shots, "batch-reasons")
}

// The controls take POSTs only with --allow-writes, only from the dashboard's own
// origin, and cancel only when confirmed.
func TestControlRequests(t *testing.T) {
	t.Parallel()
	b := dashboardtest.Seed(t)
	post := func(base string, form url.Values, site string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, base+"/control", strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", site)
		c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	pause := url.Values{"batch": {dashboardtest.Batch}, "action": {"pause"}}
	readOnly := handler(t, b, false, Auth{}).URL
	if got := post(readOnly, pause, "same-origin"); got/100 != 4 {
		t.Errorf("pause on a read-only dashboard: HTTP %d, want a refusal", got)
	}
	writable := handler(t, b, true, Auth{}).URL
	for _, c := range []struct {
		form url.Values
		site string
		want int
	}{
		{pause, "cross-site", http.StatusForbidden},
		{url.Values{"batch": {dashboardtest.Batch}, "action": {"cancel"}}, "same-origin", http.StatusBadRequest},
		{url.Values{"batch": {"nope"}, "action": {"pause"}}, "same-origin", http.StatusNotFound},
		{url.Values{"batch": {dashboardtest.Batch}, "action": {"explode"}}, "same-origin", http.StatusBadRequest},
	} {
		if got := post(writable, c.form, c.site); got != c.want {
			t.Errorf("POST %v from %s: HTTP %d, want %d", c.form, c.site, got, c.want)
		}
	}
	if rec, _ := b.Store.Batch(context.Background(), dashboardtest.Batch); rec.Paused || rec.Canceled {
		t.Fatalf("a refused request changed the batch: paused %v, canceled %v", rec.Paused, rec.Canceled)
	}
	if got := post(writable, pause, "same-origin"); got != http.StatusSeeOther {
		t.Errorf("same-origin pause: HTTP %d, want 303", got)
	}
	if rec, _ := b.Store.Batch(context.Background(), dashboardtest.Batch); !rec.Paused {
		t.Error("same-origin pause did not pause")
	}
}
