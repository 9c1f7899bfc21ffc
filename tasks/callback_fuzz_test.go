package tasks

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

// FuzzCallback: whatever path and body arrive at the callback receiver, it never
// panics and answers with a status of its outcomes; a path whose token it did not make
// never changes a record. In CI the seed corpus and a bounded run go; explore with
// go test ./tasks -run '^$' -fuzz FuzzCallback -fuzztime 1m
func FuzzCallback(f *testing.F) {
	b := newBundle(f, func(c *bundleConfig) { c.callbacks = true })
	ctx := f.Context()
	b.addManifest("b", songsManifest("s", 1))
	rec := b.item("b", "s00")
	for _, step := range []struct {
		to batch.State
		u  batch.Update
	}{{batch.StateSubmitting, batch.Update{CustomID: "cid-1"}}, {batch.StateSubmitted, batch.Update{JobID: "job-1"}}} {
		if ok, _, err := b.store.Transition(ctx, "b", rec.ID, 1, nil, step.to, step.u); !ok || err != nil {
			f.Fatalf("seed the item: %v %v", ok, err)
		}
	}
	valid := strings.TrimPrefix(b.callbacks.URL(refOf(rec)), b.callbackSrv.URL)
	f.Add(true, "", []byte(`{"id":"job-1","customId":"cid-1","state":"3","outputs":[{"smartContentResult":{"singingCloning":{"songName":"x.wav"}}}]}`))
	f.Add(true, "", []byte(`{"job":{"id":"job-2","customId":"cid-1","state":4}}`))
	f.Add(true, "", []byte(`{"id":"job-1","customId":"other","state":"COMPLETED"}`))
	f.Add(false, "/cb/v1/b/s00/1/AAAA", []byte(`{"id":"job-1","customId":"cid-1","state":"3"}`))
	f.Add(false, "/cb/v1/b/s00/2/"+valid[strings.LastIndexByte(valid, '/')+1:], []byte(`{"id":"job-1","customId":"cid-1","state":"3"}`))
	f.Add(false, "/cb/v1/../../x", []byte("\x00\xff"))
	f.Add(true, "", []byte(strings.Repeat("[", 4096)))

	statuses := map[int]bool{}
	for _, o := range CallbackOutcomes() {
		statuses[o.status()] = true
	}
	f.Fuzz(func(t *testing.T, useValid bool, path string, body []byte) {
		if useValid {
			path = valid
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		item := func() batch.ItemRecord {
			rec, err := b.store.Item(ctx, "b", "s00")
			if err != nil {
				t.Fatal(err)
			}
			return rec
		}
		before := item()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "http://worker", bytes.NewReader(body))
		req.URL.Path = path
		w := httptest.NewRecorder()
		b.h.ServeCallback(w, req)
		if !statuses[w.Code] {
			t.Fatalf("status %d is none of the outcomes'", w.Code)
		}
		if after := item(); !useValid && path != valid && !reflect.DeepEqual(before, after) {
			t.Fatalf("a callback on %q changed the record:\nbefore %+v\nafter  %+v", path, before, after)
		}
	})
}
