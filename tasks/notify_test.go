package tasks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
)

// notifyKey is the test's NOTIFY_SECRET key; the receiver checks signatures with it.
var notifyKey = []byte("notify-key-0123456789abcdef-S3CR3T")

type received struct {
	id, ts, sig string
	body        []byte
}

// One finished batch, three workers, a receiver that fails twice: exactly one
// notification is accepted, signed as Standard Webhooks say, with the batch's summary;
// every delivery attempt carries the same webhook-id. The URL's token is not in Redis.
func TestNotifyOnceWhenBatchEnds(t *testing.T) {
	t.Parallel()
	var (
		mu       sync.Mutex
		attempts []received
	)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		attempts = append(attempts, received{r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp"), r.Header.Get("webhook-signature"), body})
		n := len(attempts)
		mu.Unlock()
		if r.URL.Query().Get("token") != "tok-S3CR3T" || n <= 2 {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(recv.Close)
	secret, err := ParseNotifySecret("whsec_" + base64.StdEncoding.EncodeToString(notifyKey))
	if err != nil {
		t.Fatal(err)
	}
	b := newBundle(t, func(c *bundleConfig) { c.settings.RetryCap = 50 * time.Millisecond })
	b.addManifest("b", songsManifest("s", 6))
	ctx := t.Context()
	sealed, err := secret.SealURL(recv.URL + "/hook?token=tok-S3CR3T")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.store.SetNotify(ctx, "b", sealed); err != nil {
		t.Fatal(err)
	}
	b.enqueueAll("b")
	for range 3 {
		b.startWith(func(d *HandlerDeps) { d.Notify = secret })
	}
	b.waitDone("b", 30*time.Second)
	waitFor(t, 20*time.Second, "the notification accepted", func() bool {
		rec, _ := b.store.Batch(ctx, "b")
		return rec.Notified != ""
	})
	time.Sleep(300 * time.Millisecond) // a second delivery would come within this
	mu.Lock()
	defer mu.Unlock()
	if len(attempts) != 3 {
		t.Fatalf("%d delivery attempts, want 3 (two refused, one accepted)", len(attempts))
	}
	for _, a := range attempts {
		if a.id != attempts[0].id || !strings.HasPrefix(a.id, "msg_") {
			t.Errorf("webhook-id %q, want one msg_ id for every attempt (%q)", a.id, attempts[0].id)
		}
		ts, err := strconv.ParseInt(a.ts, 10, 64)
		if err != nil || time.Since(time.Unix(ts, 0)) > time.Minute {
			t.Errorf("webhook-timestamp %q", a.ts)
		}
		mac := hmac.New(sha256.New, notifyKey)
		mac.Write([]byte(a.id + "." + a.ts + "."))
		mac.Write(a.body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); a.sig != want {
			t.Errorf("webhook-signature %q, want %q", a.sig, want)
		}
	}
	var n struct {
		Type string       `json:"type"`
		Data BatchSummary `json:"data"`
	}
	if err := json.Unmarshal(attempts[2].body, &n); err != nil {
		t.Fatal(err)
	}
	if n.Type != "batch.finished" || n.Data.Batch != "b" || n.Data.Total != 6 || n.Data.Counts[string(batch.StateCompleted)] != 6 ||
		n.Data.Jobs != 6 || n.Data.Calls < 12 || n.Data.EndedAt == "" {
		t.Errorf("notification %+v", n)
	}
	snap, err := snapshotRedis(ctx, b.rdb)
	if err != nil {
		t.Fatal(err)
	}
	needles := secretNeedles(map[string]string{"notify URL token": "tok-S3CR3T", "notify key": string(notifyKey),
		"NOTIFY_SECRET": "whsec_" + base64.StdEncoding.EncodeToString(notifyKey)})
	for _, l := range snap.leaks(needles) {
		t.Errorf("in Redis: %s", l)
	}
	// The refused deliveries were logged, and their lines name neither the URL's token
	// nor the secret.
	refusals := 0
	for _, e := range b.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		if strings.Contains(line, "the receiver answered 503") {
			refusals++
		}
		for _, n := range needles {
			if strings.Contains(line, string(n.b)) {
				t.Errorf("log line %q holds %s", e.Message, n.label)
			}
		}
	}
	if refusals != 2 {
		t.Errorf("%d log lines of a refused delivery, want 2", refusals)
	}
}

// A batch whose last item became final while no MarkEnded followed (its worker
// stopped in between) is found by the batch sweep, which marks its end and queues its
// notification.
func TestSweepAnnouncesAMissedEnd(t *testing.T) {
	t.Parallel()
	b := newBundle(t, nil)
	b.addManifest("b", songsManifest("s", 2))
	ctx := t.Context()
	if err := b.store.SetNotify(ctx, "b", "v1:sealed"); err != nil {
		t.Fatal(err)
	}
	err := b.store.Items(ctx, "b", nil, func(it batch.ItemRecord) error {
		_, _, err := b.store.Transition(ctx, "b", it.ID, it.Attempt, nil, batch.StateFailed, batch.Update{Error: "x"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, _ := b.store.Batch(ctx, "b"); !rec.Ended.IsZero() {
		t.Fatal("the end is marked already; the test needs it missed")
	}
	if err := b.h.sweepBatches(ctx); err != nil {
		t.Fatal(err)
	}
	rec, err := b.store.Batch(ctx, "b")
	if err != nil || rec.Ended.IsZero() {
		t.Fatalf("after the sweep: ended %v, %v", rec.Ended, err)
	}
	id := NotifyPayload{Batch: "b", Ended: rec.Ended.UnixMilli()}.webhookID()
	if _, err := asynq.NewInspectorFromRedisClient(b.rdb).GetTaskInfo(QueuePoll, "notify:"+id); err != nil {
		t.Errorf("notification task %s: %v", id, err)
	}
}
