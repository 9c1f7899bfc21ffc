package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/singbatch/singbatch/batch"
)

// itemsPerPage is how many items a batch page lists.
const itemsPerPage = 100

// itemView is an item as shown; every string is scrubbed.
type itemView struct {
	ID, Kind, State, CustomID, JobID, Model, Origin string
	Attempt                                         int
	SongName, OutputRepository, OutputPath          string
	TrainedModel, Error                             string
	Held                                            string // why it waits unsent (batch.ReportRow.Held)
}

func (d *Dashboard) newItemView(r batch.ItemRecord) itemView {
	c := d.scrub.clean
	return itemView{
		ID: c(r.ID), Kind: c(string(r.Kind)), State: c(string(r.State)), Attempt: r.Attempt,
		CustomID: c(r.CustomID), JobID: c(r.JobID), Model: c(r.Model), Origin: c(r.Origin),
		SongName: c(r.SongName), OutputRepository: c(r.OutputRepository), OutputPath: c(r.OutputPath),
		TrainedModel: c(r.TrainedModel), Error: c(r.Error), Held: batch.NewReportRow(r).Held,
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
	stats, err := d.newBatchStats(ctx, b)
	if err != nil {
		return "", nil, err
	}
	data := struct {
		Title    string
		Batch    batchView
		Stats    batchStats
		Writes   bool   // the control buttons are on
		Did      string // what the control just done did, from its redirect
		Filter   string // "" for all
		Filters  []filterLink
		Items    []itemView
		Page     int
		PrevURL  string
		NextURL  string
		From, To int   // positions shown, 1-based, within the filter
		Of       int64 // items matching the filter
	}{Title: "Batch " + d.scrub.clean(name), Batch: d.newBatchView(b), Stats: stats, Writes: d.opts.AllowWrites,
		Did: didMessage(q.Get("did")), Items: items, Page: pageNo,
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
