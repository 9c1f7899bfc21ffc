package tasks

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

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
	b.h.notify = secret
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
	assertNotInRedis(t, b, "tok-S3CR3T", recv.URL)
}

// assertNotInRedis fails when any value (or key) in Redis holds one of needles.
func assertNotInRedis(t *testing.T, b *bundle, needles ...string) {
	t.Helper()
	ctx := t.Context()
	iter := b.rdb.Scan(ctx, 0, "*", 1000).Iterator()
	for iter.Next(ctx) {
		key := iter.Val()
		var vals []string
		switch typ := b.rdb.Type(ctx, key).Val(); typ {
		case "string":
			vals = []string{b.rdb.Get(ctx, key).Val()}
		case "hash":
			for f, v := range b.rdb.HGetAll(ctx, key).Val() {
				vals = append(vals, f, v)
			}
		case "list":
			vals = b.rdb.LRange(ctx, key, 0, -1).Val()
		case "set":
			vals = b.rdb.SMembers(ctx, key).Val()
		case "zset":
			vals = b.rdb.ZRange(ctx, key, 0, -1).Val()
		}
		for _, v := range append(vals, key) {
			for _, n := range needles {
				if strings.Contains(v, n) {
					t.Errorf("Redis key %s holds %q", key, n)
				}
			}
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
}
