package dashboard

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"go.uber.org/zap"
)

// apiBatch is one batch in /api/batches.
type apiBatch struct {
	Name    string           `json:"name"`
	URL     string           `json:"url"`
	Created time.Time        `json:"created"`
	Total   int64            `json:"total"`
	Done    int64            `json:"done"` // items in a final state (completed, failed or canceled)
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
