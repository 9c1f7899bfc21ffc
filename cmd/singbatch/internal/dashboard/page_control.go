package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
)

// Controls are the operator's commands the batch page offers with --allow-writes
// (tasks.Controls satisfies it).
type Controls interface {
	Pause(ctx context.Context, name string) (int, error)
	Resume(ctx context.Context, name string) (int, error)
	Cancel(ctx context.Context, name string) (int, error)
}

// control is "POST /control": batch=NAME&action=pause|resume|cancel (cancel also needs
// confirm=yes). The dashboard's cross-origin protection refuses a POST that a page of
// another site makes the operator's browser send; the form's own page is same-origin.
// It answers with a redirect to the batch's page, which says what was done.
func (d *Dashboard) control(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), redisTimeout)
	defer cancel()
	name, action := r.PostFormValue("batch"), r.PostFormValue("action")
	fail := func(status int, msg string) {
		d.page(func(context.Context, *http.Request) (string, any, error) {
			return "", nil, &httpError{status, msg}
		}).ServeHTTP(w, r)
	}
	if _, err := d.opts.Store.Batch(ctx, name); err != nil {
		if errors.Is(err, batch.ErrBatchNotFound) {
			fail(http.StatusNotFound, fmt.Sprintf("No batch named %q.", name))
			return
		}
		d.opts.Log.Error("dashboard control", zap.String("batch", name), zap.Error(err))
		fail(http.StatusInternalServerError, "Could not read from Redis; the dashboard's log has the details.")
		return
	}
	var run func(context.Context, string) (int, error)
	switch action {
	case "pause":
		run = d.opts.Controls.Pause
	case "resume":
		run = d.opts.Controls.Resume
	case "cancel":
		if r.PostFormValue("confirm") != "yes" {
			fail(http.StatusBadRequest, "Cancel needs its box ticked: it ends every item not sent yet, for good.")
			return
		}
		run = d.opts.Controls.Cancel
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("Unknown action %q: use pause, resume or cancel.", action))
		return
	}
	n, err := run(ctx, name)
	if err != nil {
		d.opts.Log.Error("dashboard control", zap.String("batch", name), zap.String("action", action), zap.Error(err))
		fail(http.StatusInternalServerError, "The "+action+" did not complete; the dashboard's log has the details. It is safe to try again.")
		return
	}
	d.opts.Log.Info("batch "+action+" from the dashboard", zap.String("batch", name), zap.Int("items", n))
	http.Redirect(w, r, withQuery(batchURL(name), url.Values{"did": {action}}), http.StatusSeeOther)
}

// didMessage says what the redirect after a control did.
func didMessage(did string) string {
	switch did {
	case "pause":
		return "Paused: no new CreateJob for this batch; jobs at the service are still followed."
	case "resume":
		return "Resumed: the items held back are queued again."
	case "cancel":
		return "Canceled: every item not sent yet is canceled; jobs at the service are still followed."
	}
	return ""
}
