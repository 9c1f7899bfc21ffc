package upstream_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/upstream"
)

// modelServer serves n models by offset and limit; reportTotal is what it claims as total.
func modelServer(t *testing.T, n, reportTotal int) http.HandlerFunc {
	return cappedModelServer(t, n, reportTotal, 0)
}

// cappedModelServer is modelServer sending at most pageCap models a page (0: limit).
func cappedModelServer(t *testing.T, n, reportTotal, pageCap int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var env upstream.Envelope
		if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.ListModelsRequest == nil {
			t.Errorf("bad ListModels request: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		req := env.ListModelsRequest
		limit := req.Limit
		if pageCap > 0 {
			limit = min(limit, pageCap)
		}
		resp := upstream.ListModelsResponse{Total: reportTotal, Models: []upstream.Model{}}
		for i := req.Offset; i < min(n, req.Offset+limit); i++ {
			resp.Models = append(resp.Models, upstream.Model{Name: fmt.Sprintf("m%06d", i), CreatedAt: upstream.Millis(1000 + i)})
		}
		_ = json.NewEncoder(w).Encode(upstream.Response{RequestID: "r", ListModelsResponse: &resp})
	}
}

func modelRequests(t *testing.T, b *clientBundle) []upstream.ListModelsRequest {
	t.Helper()
	var reqs []upstream.ListModelsRequest
	for i := range b.rec.count() {
		var env upstream.Envelope
		if err := json.Unmarshal(b.rec.body(i), &env); err != nil {
			t.Fatal(err)
		}
		if got := b.rec.target(i); got != "POST "+upstream.PathMusicModel {
			t.Errorf("request %d went to %s", i, got)
		}
		reqs = append(reqs, *env.ListModelsRequest)
	}
	return reqs
}

func TestAllModels(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		n       int
		total   int
		pageCap int
		offsets []int
	}{
		{"250 models", 250, 250, 0, []int{0, 100, 200}},
		{"250 models, no total needs an empty page", 250, 0, 0, []int{0, 100, 200, 250}},
		{"exactly 200, total stops the walk", 200, 200, 0, []int{0, 100}},
		{"exactly 200, no total needs an empty page", 200, 0, 0, []int{0, 100, 200}},
		{"pages capped at 80, by total", 250, 250, 80, []int{0, 80, 160, 240}},
		{"pages capped at 80, no total", 250, 0, 80, []int{0, 80, 160, 240, 250}},
		{"total overstated: an empty page ends it", 150, 500, 0, []int{0, 100, 150}},
		{"none", 0, 0, 0, []int{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, cappedModelServer(t, tc.n, tc.total, tc.pageCap))
			models, err := b.client.AllModels(t.Context())
			if err != nil {
				t.Fatalf("AllModels: %v", err)
			}
			if len(models) != tc.n || models == nil {
				t.Fatalf("got %d models, want %d", len(models), tc.n)
			}
			for i, m := range models {
				if m.Name != fmt.Sprintf("m%06d", i) {
					t.Fatalf("model %d is %s", i, m.Name)
				}
			}
			var want []upstream.ListModelsRequest
			for _, off := range tc.offsets {
				want = append(want, upstream.ListModelsRequest{Offset: off, Limit: 100, Type: 2})
			}
			if got := modelRequests(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("requests %+v, want %+v", got, want)
			}
		})
	}
}

// TestAllModelsNeverEnds: a service that keeps sending full pages cannot trap the walk.
func TestAllModelsNeverEnds(t *testing.T) {
	t.Parallel()
	t.Run("offset ignored", func(t *testing.T) {
		t.Parallel()
		models := make([]string, 100)
		for i := range models {
			models[i] = fmt.Sprintf(`{"name":"m%d","createdAt":"1"}`, i)
		}
		page := `{"listModelsResponse":{"total":0,"models":[` + strings.Join(models, ",") + `]}}`
		b := setupClient(t, reply(http.StatusOK, page))
		_, err := b.client.AllModels(t.Context())
		if err == nil || !strings.Contains(err.Error(), "previous page") {
			t.Fatalf("error %v, want the repeated page noticed", err)
		}
		if b.rec.count() != 2 {
			t.Errorf("server got %d requests, want 2", b.rec.count())
		}
	})
	t.Run("endless distinct pages", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, modelServer(t, 1<<30, 0))
		_, err := b.client.AllModels(t.Context())
		if err == nil || !strings.Contains(err.Error(), "giving up") {
			t.Fatalf("error %v, want the walk bounded", err)
		}
		if n := b.rec.count(); n != 1000 {
			t.Errorf("server got %d requests, want 1000", n)
		}
	})
	t.Run("failure propagates", func(t *testing.T) {
		t.Parallel()
		b := setupClient(t, sequence(modelServer(t, 250, 250), reply(401, "")))
		_, err := b.client.AllModels(t.Context())
		assertClass(t, err, upstream.ErrAuth)
		if !strings.Contains(err.Error(), "offset 100") {
			t.Errorf("error %v does not name the offset", err)
		}
	})
}
