package upstream_test

import (
	"encoding/json"
	"errors"
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
		resp := upstream.ListModelsResponse{Total: upstream.Count(reportTotal), Models: []upstream.Model{}}
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

// TestAllModelsNeverEnds: a service that keeps sending pages (the same, earlier ones again,
// or more than asked for) cannot trap the walk, nor make its list grow without bound.
func TestAllModelsNeverEnds(t *testing.T) {
	t.Parallel()
	// A page of models named names, no total.
	page := func(names ...string) http.HandlerFunc {
		ms := make([]string, len(names))
		for i, n := range names {
			ms[i] = `{"name":"` + n + `","createdAt":"1"}`
		}
		return reply(http.StatusOK, `{"listModelsResponse":{"models":[`+strings.Join(ms, ",")+`]}}`)
	}
	full := make([]string, 100)
	for i := range full {
		full[i] = fmt.Sprintf("m%d", i)
	}
	a, b2 := page("a1", "a2"), page("b1", "b2")
	for _, tc := range []struct {
		name     string
		service  http.HandlerFunc
		requests int
	}{
		{"offset ignored", page(full...), 2},
		{"pages alternating", sequence(a, b2, a, b2, a, b2), 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupClient(t, tc.service)
			_, err := b.client.AllModels(t.Context())
			if !errors.Is(err, upstream.ErrTransient) || !strings.Contains(err.Error(), "earlier page") {
				t.Fatalf("error %v, want the page sent again noticed", err)
			}
			if b.rec.count() != tc.requests {
				t.Errorf("server got %d requests, want %d", b.rec.count(), tc.requests)
			}
		})
	}
	t.Run("pages over the limit, endless", func(t *testing.T) {
		t.Parallel()
		// The limit ignored: 5000 models a page, each page new.
		b := setupClient(t, func(w http.ResponseWriter, r *http.Request) {
			var env upstream.Envelope
			if err := json.NewDecoder(r.Body).Decode(&env); err != nil || env.ListModelsRequest == nil {
				w.WriteHeader(http.StatusBadRequest)
				return
			}
			resp := upstream.ListModelsResponse{}
			for i := range 5000 {
				resp.Models = append(resp.Models, upstream.Model{Name: fmt.Sprintf("m%d", env.ListModelsRequest.Offset+i)})
			}
			_ = json.NewEncoder(w).Encode(upstream.Response{RequestID: "r", ListModelsResponse: &resp})
		})
		_, err := b.client.AllModels(t.Context())
		if !errors.Is(err, upstream.ErrTransient) || !strings.Contains(err.Error(), "more than 100000") {
			t.Fatalf("error %v, want the list bounded", err)
		}
		if n := b.rec.count(); n != 21 {
			t.Errorf("server got %d requests, want 21 (105,000 models)", n)
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
