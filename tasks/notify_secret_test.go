package tasks

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hibiken/asynq"
)

// A worker without NOTIFY_SECRET, or with another one, cannot deliver a batch's
// notification; it leaves the task to be retried, so that a worker with the secret
// delivers it, instead of dropping it.
func TestNotifyIsRetriedByWorkersWithoutTheSecret(t *testing.T) {
	t.Parallel()
	var accepted atomic.Int32
	recv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { accepted.Add(1) }))
	t.Cleanup(recv.Close)
	secret, err := ParseNotifySecret("whsec_" + base64.StdEncoding.EncodeToString(notifyKey))
	if err != nil {
		t.Fatal(err)
	}
	other, err := ParseNotifySecret("whsec_" + base64.StdEncoding.EncodeToString([]byte("another-key-0123456789abcdef")))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, nil)
	b.addManifest("b", songsManifest("s", 1))
	ctx := t.Context()
	sealed, err := secret.SealURL(recv.URL + "/hook")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetNotify(ctx, "b", sealed); err != nil {
		t.Fatal(err)
	}
	b.enqueueAll("b")
	b.start() // without the secret
	rec := b.waitDone("b", 30*time.Second)
	// Its last item's record is final a moment before the end is marked.
	for deadline := time.Now().Add(10 * time.Second); rec.Ended.IsZero(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("batch done, its end never marked")
		}
		if rec, err = b.store.Batch(ctx, "b"); err != nil {
			t.Fatal(err)
		}
	}
	task, err := newTask(NotifyPayload{Batch: "b", Ended: rec.Ended.UnixMilli()})
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]NotifySecret{"no secret": {}, "another secret": other} {
		deps := b.deps()
		deps.Notify = s
		h, err := NewHandlers(deps, b.cfg.settings)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.Mux().ProcessTask(ctx, task); err == nil || errors.Is(err, asynq.SkipRetry) {
			t.Errorf("%s: ProcessTask = %v; want an error to retry on", name, err)
		}
	}
	deps := b.deps()
	deps.Notify = secret
	h, err := NewHandlers(deps, b.cfg.settings)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Mux().ProcessTask(ctx, task); err != nil {
		t.Fatalf("with the secret: %v", err)
	}
	if n := accepted.Load(); n != 1 {
		t.Errorf("%d notifications received, want 1", n)
	}
}
