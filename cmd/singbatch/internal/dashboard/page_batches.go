package dashboard

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/singbatch/singbatch/batch"
)

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
		Done: b.Finished(),
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
