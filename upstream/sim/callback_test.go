package sim_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

func withCallback(req *upstream.CreateJobRequest, url string) *upstream.CreateJobRequest {
	req.Callback = url + "/hook?token=cb-token"
	return req
}

func TestCallbackCarriesFinalJob(t *testing.T) {
	t.Parallel()
	sink := newCallbackSink(t)
	b := setup(t, realTime)
	ok := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), sink.URL))
	bad := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, "nosuch"), sink.URL))
	eventually(t, func() bool { return len(sink.received()) == 2 })

	byID := map[string]upstream.Job{}
	for _, j := range sink.received() {
		byID[j.ID] = j
	}
	for _, id := range []string{ok.ID, bad.ID} {
		got := byID[id]
		if want := b.getJob(t, id); !reflect.DeepEqual(got, want) {
			t.Errorf("callback job = %+v\nGetJob       = %+v", got, want)
		}
	}
	if byID[ok.ID].State != upstream.StateCompleted || byID[bad.ID].State != upstream.StateError || !strings.Contains(byID[bad.ID].Message, "not found") {
		t.Errorf("callback states: %v, %v %q", byID[ok.ID].State, byID[bad.ID].State, byID[bad.ID].Message)
	}
	eventually(t, func() bool { return b.srv.Stats().Callbacks.Delivered == 2 })
	if cb := b.srv.Stats().Callbacks; cb.Failed != 0 {
		t.Errorf("callback stats = %+v", cb)
	}
}

// The callback fires without anyone polling: the scheduler finalizes the job.
func TestCallbackWithoutPollingOnManualClock(t *testing.T) {
	t.Parallel()
	sink := newCallbackSink(t)
	b := setup(t, nil)
	j := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), sink.URL))
	b.clock.Advance(time.Hour)
	eventually(t, func() bool { return len(sink.received()) == 1 })
	if got := sink.received()[0]; got.ID != j.ID || got.State != upstream.StateCompleted {
		t.Fatalf("callback = %+v", got)
	}
}

func TestCallbackFaults(t *testing.T) {
	t.Parallel()
	sink := newCallbackSink(t)
	b := setup(t, func(o *sim.Options) { realTime(o); o.Faults.CallbackDuplicate = 1 })
	dup := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), sink.URL))
	eventually(t, func() bool { return len(sink.received()) == 2 })
	if got := sink.received(); got[0].ID != dup.ID || !reflect.DeepEqual(got[0], got[1]) {
		t.Fatalf("duplicated callbacks differ: %+v", got)
	}

	if err := b.srv.SetFaults(sim.Faults{CallbackDrop: 1}); err != nil {
		t.Fatal(err)
	}
	dropped := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), sink.URL))
	if j := b.waitFinal(t, dropped.ID); j.State != upstream.StateCompleted {
		t.Fatalf("dropped-callback job: %v", j.State)
	}

	if err := b.srv.SetFaults(sim.Faults{CallbackDelay: 1, CallbackDelayFor: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	delayed := b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), sink.URL))
	eventually(t, func() bool { return len(sink.received()) == 3 })
	got := sink.received()[2]
	sink.mu.Lock()
	arrived := sink.at[2]
	sink.mu.Unlock()
	if got.ID != delayed.ID || arrived.Sub(got.Timing.CompletedAt.Time()) < 150*time.Millisecond {
		t.Fatalf("delayed callback %s arrived %v after completion", got.ID, arrived.Sub(got.Timing.CompletedAt.Time()))
	}
	for _, j := range sink.received() {
		if j.ID == dropped.ID {
			t.Fatal("a dropped callback was delivered")
		}
	}
	// The sink sees a POST a moment before the simulator counts its answer.
	eventually(t, func() bool {
		return b.srv.Stats().Callbacks == (sim.CallbackStats{Delivered: 3, Dropped: 1, Duplicated: 1, Delayed: 1})
	})
}

func TestCallbackFailureCountedNotRetried(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(refuse.Close)
	b := setup(t, realTime)
	b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), refuse.URL))
	b.create(t, withCallback(generate(upstream.Input{SourceData: "x"}, upstream.DefaultModel), httptestClosedURL(t)))
	eventually(t, func() bool { return b.srv.Stats().Callbacks.Failed == 2 })
	if n := hits.Load(); n != 1 {
		t.Fatalf("refusing receiver got %d POSTs, want 1", n)
	}
	if st := b.srv.Stats(); st.Callbacks.Delivered != 0 {
		t.Fatalf("callback stats = %+v", st.Callbacks)
	}
	raw, _ := json.Marshal(b.srv.Stats())
	if strings.Contains(string(raw), "cb-token") {
		t.Fatalf("stats expose a callback URL: %s", raw)
	}
}
