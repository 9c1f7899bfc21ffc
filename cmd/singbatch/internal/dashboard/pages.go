package dashboard

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
)

// itemsPerPage is how many items a batch page lists.
const itemsPerPage = 100

// pageCSP forbids scripts, inline styles and framing on the batch pages: they are plain
// server-rendered HTML, so anything else would be an injection.
const pageCSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// parsePages parses each page together with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	funcs := template.FuncMap{
		"when": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05 UTC")
		},
		"iso": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format(time.RFC3339)
		},
	}
	pages := map[string]*template.Template{}
	for _, name := range []string{"batches", "batch", "error"} {
		t, err := template.New(name).Funcs(funcs).ParseFS(webFiles, "web/layout.html", "web/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("dashboard: template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// httpError is a request the dashboard refuses, with a message safe to show.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// pageFunc reads what a page shows; it returns the template name and its data.
type pageFunc func(ctx context.Context, r *http.Request) (string, any, error)

// page renders a pageFunc's result, or an error page. Internal errors are logged and
// shown only as a generic message.
func (d *Dashboard) page(fn pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), redisTimeout)
		defer cancel()
		name, data, err := fn(ctx, r)
		status := http.StatusOK
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) {
				d.opts.Log.Error("dashboard page", zap.String("path", r.URL.Path), zap.Error(err))
				he = &httpError{http.StatusInternalServerError, "Could not read from Redis; the dashboard's log has the details."}
			}
			name, status = "error", he.status
			data = struct{ Title, Message string }{http.StatusText(he.status), d.scrub.clean(he.msg)}
		}
		var buf bytes.Buffer
		if err := d.pages[name].ExecuteTemplate(&buf, "layout", data); err != nil {
			d.opts.Log.Error("dashboard template", zap.String("page", name), zap.Error(err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Content-Security-Policy", pageCSP)
		h.Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(buf.Bytes())
	})
}

// stateCount is one state's number of items.
type stateCount struct {
	State batch.State
	N     int64
}

// batchView is a batch as shown.
type batchView struct {
	Name      string
	URL       string
	Created   time.Time
	Total     int64
	Done      int64 // items in a final state
	Counts    []stateCount
	Manifests []batch.ManifestRead
}

// ProgressMax is the progress bar's maximum, which HTML wants positive.
func (b batchView) ProgressMax() int64 { return max(b.Total, 1) }

// Percent is the share of items in a final state, rounded down.
func (b batchView) Percent() int64 {
	if b.Total == 0 {
		return 0
	}
	return b.Done * 100 / b.Total
}

// batchURL is a batch's page. Browsers resolve the valid batch names "." and ".." in a
// path (even percent-encoded), so those two are passed as a query parameter.
func batchURL(name string) string {
	if name == "." || name == ".." {
		return "/batch?name=" + url.QueryEscape(name)
	}
	return "/batches/" + url.PathEscape(name)
}

// withQuery appends query parameters to a URL that may already have some.
func withQuery(u string, v url.Values) string {
	if len(v) == 0 {
		return u
	}
	if strings.Contains(u, "?") {
		return u + "&" + v.Encode()
	}
	return u + "?" + v.Encode()
}

func (d *Dashboard) newBatchView(b batch.BatchRecord) batchView {
	v := batchView{
		Name: d.scrub.clean(b.Name), URL: batchURL(b.Name), Created: b.Created, Total: b.Total,
		Done: b.Counts[batch.StateCompleted] + b.Counts[batch.StateFailed],
	}
	for _, st := range batch.States() {
		v.Counts = append(v.Counts, stateCount{st, b.Counts[st]})
	}
	for _, m := range b.Manifests {
		m.File = d.scrub.clean(m.File)
		v.Manifests = append(v.Manifests, m)
	}
	return v
}

// modelView is a model record as shown.
type modelView struct {
	Name, State, Batch, BatchURL, Item, Error string
	Updated                                   time.Time
}

// batchesPage is "/": every batch and every model.
func (d *Dashboard) batchesPage(ctx context.Context, _ *http.Request) (string, any, error) {
	bs, err := d.opts.Store.Batches(ctx)
	if err != nil {
		return "", nil, err
	}
	ms, err := d.opts.Store.Models(ctx)
	if err != nil {
		return "", nil, err
	}
	data := struct {
		Title   string
		States  []batch.State
		Batches []batchView
		Models  []modelView
	}{Title: "Batches", States: batch.States()}
	for _, b := range bs {
		data.Batches = append(data.Batches, d.newBatchView(b))
	}
	for _, m := range ms {
		mv := modelView{Name: d.scrub.clean(m.Name), State: d.scrub.clean(string(m.State)),
			Batch: d.scrub.clean(m.Batch), Item: d.scrub.clean(m.Item), Error: d.scrub.clean(m.Error), Updated: m.UpdatedAt}
		if m.Batch != "" {
			mv.BatchURL = batchURL(m.Batch)
		}
		data.Models = append(data.Models, mv)
	}
	return "batches", data, nil
}

// itemView is an item as shown; every string is scrubbed.
type itemView struct {
	ID, Kind, State, CustomID, JobID, Model, Origin string
	Attempt                                         int
	SongName, OutputRepository, OutputPath          string
	TrainedModel, Error                             string
}

func (d *Dashboard) newItemView(r batch.ItemRecord) itemView {
	c := d.scrub.clean
	return itemView{
		ID: c(r.ID), Kind: c(string(r.Kind)), State: c(string(r.State)), Attempt: r.Attempt,
		CustomID: c(r.CustomID), JobID: c(r.JobID), Model: c(r.Model), Origin: c(r.Origin),
		SongName: c(r.SongName), OutputRepository: c(r.OutputRepository), OutputPath: c(r.OutputPath),
		TrainedModel: c(r.TrainedModel), Error: c(r.Error),
	}
}

// filterLink is one state filter of a batch page.
type filterLink struct {
	Label   string
	N       int64
	URL     string
	Current bool
}

// errPageFull stops the walk over a batch's items once a page is filled.
var errPageFull = errors.New("page full")

// batchPage is "/batches/NAME?state=STATE&page=N": one page of a batch's items.
func (d *Dashboard) batchPage(ctx context.Context, r *http.Request) (string, any, error) {
	name := r.PathValue("name")
	if name == "" {
		name = r.URL.Query().Get("name") // "/batch?name=..", see batchURL
	}
	q := r.URL.Query()
	var filter []batch.State
	stateParam := q.Get("state")
	if stateParam != "" && stateParam != "all" {
		st := batch.State(stateParam)
		if !st.Valid() {
			return "", nil, &httpError{http.StatusBadRequest, fmt.Sprintf("Parameter state: unknown state %q; use one of %v or all.", stateParam, batch.States())}
		}
		filter = []batch.State{st}
	}
	pageNo := 1
	if p := q.Get("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 {
			return "", nil, &httpError{http.StatusBadRequest, fmt.Sprintf("Parameter page: %q is not a page number (1, 2, ...).", p)}
		}
		pageNo = n
	}

	b, err := d.opts.Store.Batch(ctx, name)
	if errors.Is(err, batch.ErrBatchNotFound) {
		return "", nil, &httpError{http.StatusNotFound, fmt.Sprintf("No batch named %q.", name)}
	}
	if err != nil {
		return "", nil, err
	}
	// Items streams the batch in manifest order; a page skips what earlier pages show
	// and stops once full, so memory stays one page whatever the batch's size.
	var items []itemView
	more, skip := false, (pageNo-1)*itemsPerPage
	err = d.opts.Store.Items(ctx, name, filter, func(rec batch.ItemRecord) error {
		if skip > 0 {
			skip--
			return nil
		}
		if len(items) == itemsPerPage {
			more = true
			return errPageFull
		}
		items = append(items, d.newItemView(rec))
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return "", nil, err
	}

	link := func(state string, page int) string {
		v := url.Values{}
		if state != "" {
			v.Set("state", state)
		}
		if page > 1 {
			v.Set("page", strconv.Itoa(page))
		}
		return withQuery(batchURL(name), v)
	}
	data := struct {
		Title    string
		Batch    batchView
		Filter   string // "" for all
		Filters  []filterLink
		Items    []itemView
		Page     int
		PrevURL  string
		NextURL  string
		From, To int   // positions shown, 1-based, within the filter
		Of       int64 // items matching the filter
	}{Title: "Batch " + d.scrub.clean(name), Batch: d.newBatchView(b), Items: items, Page: pageNo,
		From: (pageNo-1)*itemsPerPage + 1, To: (pageNo-1)*itemsPerPage + len(items), Of: b.Total}
	if filter != nil {
		data.Filter = string(filter[0])
		data.Of = b.Counts[filter[0]]
	}
	data.Filters = append(data.Filters, filterLink{"all", b.Total, link("", 1), filter == nil})
	for _, st := range batch.States() {
		data.Filters = append(data.Filters, filterLink{string(st), b.Counts[st], link(string(st), 1), data.Filter == string(st)})
	}
	if pageNo > 1 {
		data.PrevURL = link(data.Filter, pageNo-1)
	}
	if more {
		data.NextURL = link(data.Filter, pageNo+1)
	}
	return "batch", data, nil
}

// apiBatch is one batch in /api/batches.
type apiBatch struct {
	Name    string           `json:"name"`
	URL     string           `json:"url"`
	Created time.Time        `json:"created"`
	Total   int64            `json:"total"`
	Done    int64            `json:"done"` // items in a final state (completed or failed)
	Counts  map[string]int64 `json:"counts"`
}

// batchesAPI is /api/batches: {"batches": [...]}, oldest first.
func (d *Dashboard) batchesAPI(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), redisTimeout)
	defer cancel()
	w.Header().Set("Cache-Control", "no-store")
	bs, err := d.opts.Store.Batches(ctx)
	if err != nil {
		d.opts.Log.Error("dashboard api", zap.String("path", r.URL.Path), zap.Error(err))
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "could not read from Redis; the dashboard's log has the details"})
		return
	}
	out := struct {
		Batches []apiBatch `json:"batches"`
	}{Batches: make([]apiBatch, 0, len(bs))}
	for _, b := range bs {
		v := d.newBatchView(b)
		ab := apiBatch{Name: v.Name, URL: v.URL, Created: v.Created.UTC(), Total: v.Total, Done: v.Done,
			Counts: make(map[string]int64, len(v.Counts))}
		for _, c := range v.Counts {
			ab.Counts[string(c.State)] = c.N
		}
		out.Batches = append(out.Batches, ab)
	}
	writeJSON(w, http.StatusOK, out)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
