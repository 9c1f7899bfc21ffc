package tasks

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// Secrets never reach Redis: after a worker ran batches through every error path (faults,
// refusals, a dead input, the service rejecting its credentials), no key name and no
// value anywhere in the Redis database holds a credential, raw or encoded. The records
// and Asynq's task messages are also sampled while the batches run, so data that only
// exists in flight (pending, scheduled and retried tasks with their error strings,
// Asynq's server records, the limiter's buckets, model waiters) is covered too.

// Distinctive credentials. Every one holds the marker "S3CR3T"; the secret key also
// holds characters that JSON escapes, so its escaped forms differ from its raw bytes.
const (
	secretMarker   = "S3CR3T"
	leakSecretID   = "AKID-S3CR3T-ID-7731"
	leakSecretKey  = `S3CR3T-KEY-9a9a-xyzzy<&>"\/`
	leakWrongKey   = `WR0NG-S3CR3T-KEY-4242<&>"`
	leakGatewayID  = "gw-key-7731" // an identifier, not a secret
	leakGatewayKey = "GW-S3CR3T-5e5e-plugh"
)

func leakSecrets() map[string]string {
	return map[string]string{
		"secretId":        leakSecretID,
		"secretKey":       leakSecretKey,
		"wrong secretKey": leakWrongKey,
		"gateway secret":  leakGatewayKey,
		"callback secret": callbackSecret,
	}
}

func TestSecretsNeverReachRedis(t *testing.T) {
	t.Parallel()
	needles := secretNeedles(leakSecrets())

	// The scanner is only worth its silence if it finds a planted secret, in every kind
	// of value, in key names and in each encoded form.
	t.Run("scanner finds planted secrets", func(t *testing.T) {
		t.Parallel()
		ctx := t.Context()
		rdb := redistest.Start(t, redistest.Options{}).Client(t)
		b64 := base64.StdEncoding.EncodeToString([]byte("\x00\x01" + leakSecretKey + "\xff"))
		jsonKey, _ := json.Marshal(map[string]string{"secretKey": leakSecretKey})
		plant := map[string]func() error{
			"decoy:string": func() error { return rdb.Set(ctx, "decoy:string", "x"+leakSecretID+"y", 0).Err() },
			"decoy:hash-value": func() error {
				return rdb.HSet(ctx, "decoy:hash-value", "request", string(jsonKey)).Err()
			},
			"decoy:hash-field": func() error {
				return rdb.HSet(ctx, "decoy:hash-field", "k:"+leakGatewayKey, "1").Err()
			},
			"decoy:list": func() error { return rdb.RPush(ctx, "decoy:list", "clean", b64).Err() },
			"decoy:set":  func() error { return rdb.SAdd(ctx, "decoy:set", "clean", url.QueryEscape(leakWrongKey)).Err() },
			"decoy:zset": func() error {
				return rdb.ZAdd(ctx, "decoy:zset", redis.Z{Score: 1, Member: "m-" + leakSecretID}).Err()
			},
			"decoy:stream": func() error {
				return rdb.XAdd(ctx, &redis.XAddArgs{Stream: "decoy:stream", Values: []string{"note", "clean", "key", hex.EncodeToString([]byte(leakSecretKey))}}).Err()
			},
			"decoy:name:" + leakSecretID: func() error { return rdb.Set(ctx, "decoy:name:"+leakSecretID, "clean", 0).Err() },
		}
		for _, f := range plant {
			if err := f(); err != nil {
				t.Fatal(err)
			}
		}
		// Clean keys of every type that must not be reported.
		clean := rdb.Pipeline()
		clean.Set(ctx, "clean:string", "AKID-public "+leakGatewayID, 0)
		clean.HSet(ctx, "clean:hash", "error", "CreateJob: authentication failed (HTTP 401): AuthFailure: secretId or secretKey is wrong")
		clean.RPush(ctx, "clean:list", "a", "b")
		clean.SAdd(ctx, "clean:set", "a")
		clean.ZAdd(ctx, "clean:zset", redis.Z{Score: 2, Member: "a"})
		clean.XAdd(ctx, &redis.XAddArgs{Stream: "clean:stream", Values: []string{"a", "b"}})
		if _, err := clean.Exec(ctx); err != nil {
			t.Fatal(err)
		}

		snap, err := snapshotRedis(ctx, rdb)
		if err != nil {
			t.Fatal(err)
		}
		if len(snap) != len(plant)+6 {
			t.Errorf("walk saw %d keys, want %d", len(snap), len(plant)+6)
		}
		var got []string
		labels := map[string][]string{}
		for _, l := range snap.leaks(needles) {
			got = append(got, l.key)
			labels[l.key] = append(labels[l.key], l.what)
		}
		got = slices.Compact(got)
		want := make([]string, 0, len(plant))
		for k := range plant {
			want = append(want, k)
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("keys reported as leaking = %q\nwant exactly the decoys %q", got, want)
		}
		// The encoded decoys hold no raw secret: only their encoded needles find them.
		for key, form := range map[string]string{"decoy:list": "secretKey (base64, offset 2)", "decoy:stream": "secretKey (hex)"} {
			if ls := labels[key]; !slices.Equal(ls, []string{form}) {
				t.Errorf("%s found as %q, want only as %q", key, ls, form)
			}
		}
		if ls := labels["decoy:hash-value"]; !slices.Contains(ls, "secretKey (JSON-escaped)") || slices.Contains(ls, "secretKey (raw)") {
			t.Errorf("decoy:hash-value found as %q, want as the JSON-escaped secret key (its raw form is not there)", ls)
		}
	})

	t.Run("worker run", func(t *testing.T) {
		t.Parallel()
		testSecretsNeverReachRedisRun(t, needles)
	})
}

func testSecretsNeverReachRedisRun(t *testing.T, needles []needle) {
	ctx := t.Context()
	good := upstream.Credentials{SecretID: upstream.NewSecret(leakSecretID), SecretKey: upstream.NewSecret(leakSecretKey)}
	wrong := upstream.Credentials{SecretID: good.SecretID, SecretKey: upstream.NewSecret(leakWrongKey)}
	gateway := &upstream.GatewayKey{KeyID: leakGatewayID, Secret: upstream.NewSecret(leakGatewayKey)}
	b := newBundle(t, func(c *bundleConfig) {
		c.sim.Credentials, c.creds = good, good
		c.sim.Gateway = &sim.GatewayAuth{KeyID: leakGatewayID, Secret: gateway.Secret}
		// Every CreateJob is lost until one was: that task's message then certainly
		// carries an error string (see below). Then ordinary fault rates.
		c.sim.Faults = sim.Faults{LoseCreate: 1, InternalError: 0.2}
		c.rate = 50
		// Callbacks on: every job's request carries a per-attempt URL, a credential.
		c.callbacks = true
	})
	for _, m := range []string{"carol_v1", "dup_v1"} { // trained elsewhere
		if err := b.sim.AddModel(m, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}

	sampler := startRedisSampler(t, b.rdb, needles)

	// Batch 1, right credentials: successes, songs waiting for trainings, a failed
	// training and its waiter, a training the service refuses (400: the model exists),
	// an input nothing serves (job ERROR), a model only the service lists.
	dead := deadURL(t)
	b.addManifest("mixed", strings.ReplaceAll(`{"id":"alice","kind":"train","model":"alice_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s-a1","kind":"song","model":"alice_v1","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"s-def","kind":"song","text":"la la la","contentId":"repo1"}
{"id":"bob","kind":"train","model":"bob_v1","urls":["AUDIO/voice10.wav"],"epochs":1}
{"id":"s-bob","kind":"song","model":"bob_v1","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"dup","kind":"train","model":"dup_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"s-bad","kind":"song","url":"DEAD","contentId":"repo1"}
{"id":"s-carol","kind":"song","model":"carol_v1","url":"AUDIO/song.wav","contentId":"repo2"}
`, "DEAD", dead))
	mixedTasks := b.enqueueRetained("mixed")
	stopA := b.runWorker(b.gatewayClient(good, gateway))

	waitFor(t, 10*time.Second, "a lost CreateJob", func() bool {
		return b.sim.Stats().Count(upstream.ActionCreateJob, sim.OutcomeLost) > 0
	})
	if err := b.sim.SetFaults(sim.Faults{LoseCreate: 0.3, InternalError: 0.2}); err != nil {
		t.Fatal(err)
	}
	mixed := b.waitDone("mixed", 25*time.Second)
	stopA()

	// Batch 2, run by a worker whose secret key the service rejects (401). No faults:
	// what is recorded is the authentication failure.
	if err := b.sim.SetFaults(sim.Faults{}); err != nil {
		t.Fatal(err)
	}
	b.addManifest("wrongkey", `{"id":"w-def","kind":"song","text":"do re mi","contentId":"repo1"}
{"id":"w-train","kind":"train","model":"eve_v1","urls":["AUDIO/voice.wav"],"epochs":1}
{"id":"w-eve","kind":"song","model":"eve_v1","url":"AUDIO/song.wav","contentId":"repo1"}
{"id":"w-alice","kind":"song","model":"alice_v1","url":"AUDIO/song.wav","contentId":"repo1"}
`)
	wrongTasks := b.enqueueRetained("wrongkey")
	b.runWorker(b.gatewayClient(wrong, gateway))
	wrongRec := b.waitDone("wrongkey", 15*time.Second)

	// Everything is final: the whole database, with the second worker still running.
	final, err := snapshotRedis(ctx, b.rdb)
	if err != nil {
		t.Fatal(err)
	}
	walks, sampledLeaks, seen, sampleErrs := sampler.stop()

	for _, l := range final.leaks(needles) {
		t.Errorf("final walk: %s", l)
	}
	for _, l := range sampledLeaks {
		t.Errorf("walk during the run: %s", l)
	}
	for _, err := range sampleErrs {
		t.Errorf("walk during the run: %v", err)
	}
	// The callback URLs' tokens (derived, never stored) of every attempt there was.
	tokens := map[string]string{}
	for _, name := range []string{"mixed", "wrongkey"} {
		_ = b.store.Items(ctx, name, nil, func(r batch.ItemRecord) error {
			for a := 1; a <= r.Attempt; a++ {
				u := b.callbacks.URL(ItemRef{Batch: r.Batch, Item: r.ID, Attempt: a})
				tokens[u[strings.LastIndexByte(u, '/')+1:]] = r.ID
			}
			return nil
		})
	}
	for token, id := range tokens {
		for key := range final {
			if strings.Contains(key, token) || final.contains(key, token) {
				t.Errorf("final walk: %s holds the callback token of %s", key, id)
			}
		}
	}
	if b.sim.Stats().Callbacks.Delivered == 0 || len(tokens) == 0 {
		t.Error("no callback was delivered: the run did not exercise them")
	}
	// The same run's logs, while at it (each log path has its own test).
	for _, e := range b.logs.All() {
		line := e.Message + " " + fmt.Sprint(e.ContextMap())
		for _, n := range needles {
			if strings.Contains(line, string(n.b)) {
				t.Errorf("log line %q holds %s", e.Message, n.label)
			}
		}
		for token := range tokens {
			if strings.Contains(line, token) {
				t.Errorf("log line %q holds a callback token", e.Message)
			}
		}
	}
	if dbs := keyspaces(t, b.rdb); !slices.Equal(dbs, []string{"db0"}) {
		t.Errorf("databases holding keys = %v, want only db0 (the one walked)", dbs)
	}

	// The runs went through the paths that write error strings.
	if mixed.Counts[batch.StateCompleted] != 4 || mixed.Counts[batch.StateFailed] != 4 {
		t.Errorf("mixed: %v, want 4 completed (alice, s-a1, s-def, s-carol) and 4 failed", mixed.Counts)
	}
	if wrongRec.Counts[batch.StateFailed] != wrongRec.Total || wrongRec.Total != 4 {
		t.Errorf("wrongkey: %v of %d, want all 4 failed", wrongRec.Counts, wrongRec.Total)
	}
	st := b.sim.Stats()
	if st.Count(upstream.ActionCreateJob, sim.OutcomeAuth) == 0 || st.Count(upstream.ActionCreateJob, sim.OutcomeInvalid) == 0 {
		t.Errorf("sim saw no 401 or no 400 on CreateJob: %v", st.Calls)
	}

	// The walks saw what they had to see, so that their silence means something.
	itemErr := func(batchName, id string, wants ...string) {
		t.Helper()
		key := b.keys.Item(batchName, id)
		for _, w := range wants {
			if !final.contains(key, w) {
				t.Errorf("final walk: %s (%s) holds no %q", key, final[key].typ, w)
			}
		}
	}
	itemErr("mixed", "dup", upstream.ErrInvalidRequest.Error(), "dup_v1 already exists")
	itemErr("mixed", "s-bad", "fetch failed")
	itemErr("mixed", "s-bob", "model bob_v1: training failed")
	for _, id := range []string{"w-def", "w-train", "w-eve", "w-alice"} {
		itemErr("wrongkey", id, upstream.ErrAuth.Error())
	}
	for _, name := range []string{"mixed", "wrongkey"} {
		if final[b.keys.Batch(name)].typ != "hash" || final[b.keys.BatchCounts(name)].typ != "hash" {
			t.Errorf("final walk: no batch record of %s", name)
		}
	}
	submitTasks := maps.Clone(mixedTasks)
	maps.Copy(submitTasks, wrongTasks)
	for ref := range submitTasks {
		// A short spec is in the item's hash (field spec), a longer one under its own key.
		item := final[b.keys.Item(ref.Batch, ref.Item)]
		inHash := slices.Contains(item.parts, redisPart{where: "a field name", s: "spec"})
		if item.typ != "hash" || !inHash && final[b.keys.ItemRequest(ref.Batch, ref.Item)].typ != "string" {
			t.Errorf("final walk: no item hash or request of %s/%s", ref.Batch, ref.Item)
		}
	}
	for _, m := range []string{"alice_v1", "bob_v1", "dup_v1", "carol_v1", "eve_v1"} {
		if final[b.keys.Model(m)].typ != "hash" {
			t.Errorf("final walk: no record of model %s", m)
		}
	}
	// Asynq's task messages: the submit tasks were enqueued with a retention, so every
	// one stays as a completed task, its message holding the error of its last failed
	// run. The first CreateJob was lost, so some message holds an error string.
	for ref, key := range submitTasks {
		if final[key].typ != "hash" || !final.contains(key, ref.Item) {
			t.Errorf("final walk: no task hash %s holding the submit task of %s/%s", key, ref.Batch, ref.Item)
		}
	}
	var withError []string
	for key := range final {
		if strings.HasPrefix(key, "asynq:{") && strings.Contains(key, "}:t:") &&
			(final.contains(key, upstream.ErrAmbiguous.Error()) || final.contains(key, upstream.ErrTransient.Error()) ||
				final.contains(key, ErrNotYet.Error())) {
			withError = append(withError, key)
		}
	}
	if len(withError) == 0 {
		t.Errorf("final walk: no Asynq task message holds an error string")
	}
	if len(final.withPrefix("asynq:servers:")) == 0 {
		t.Errorf("final walk: no Asynq server record")
	}
	// What only exists while the batches run.
	saw := func(what string, match func(key string) bool) int {
		n := 0
		for k := range seen {
			if match(k) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no walk during the run saw %s", what)
		}
		return n
	}
	polls := saw("a poll task", func(k string) bool { return strings.HasPrefix(k, "asynq:{"+QueuePoll+"}:t:") })
	retries := saw("a task waiting for its retry", func(k string) bool {
		return strings.HasPrefix(k, "asynq:{") && strings.HasSuffix(k, "}:retry")
	})
	limiter := saw("the limiter's buckets", func(k string) bool { return strings.HasPrefix(k, "rate:"+b.keys.RateLimit("")) })
	waiters := saw("a model's waiters", func(k string) bool { return strings.HasPrefix(k, b.keys.ModelWaiters("")) })
	t.Logf("%d walks during the run, %d keys seen (%d poll tasks, %d retry sets, %d limiter buckets, %d waiter sets); final walk: %d keys, %d task messages with an error string",
		walks, len(seen), polls, retries, limiter, waiters, len(final), len(withError))
}

// gatewayClient is an upstream client with a gateway key, behind the bundle's limiter.
func (b *bundle) gatewayClient(creds upstream.Credentials, gw *upstream.GatewayKey) *upstream.Client {
	b.t.Helper()
	c, err := upstream.New(upstream.Options{
		BaseURL: b.sim.URL(), Credentials: creds, Gateway: gw,
		Timeout: 5 * time.Second, Gate: b.gate, Logger: b.log,
	})
	if err != nil {
		b.t.Fatalf("upstream.New: %v", err)
	}
	return c
}

// runWorker runs a Worker calling api until the returned stop (or the test's end).
func (b *bundle) runWorker(api JobAPI) (stop func()) {
	b.t.Helper()
	opts := b.cfg.worker
	opts.Redis, opts.Logger = b.rdb, b.log
	deps := b.deps()
	deps.API, deps.Inspector = api, nil
	w, err := NewWorker(opts, deps, b.cfg.settings)
	if err != nil {
		b.t.Fatalf("NewWorker: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				b.t.Errorf("Worker.Run: %v", err)
			}
		})
	}
	b.t.Cleanup(stop)
	return stop
}

// enqueueRetained enqueues the submit task of every item of a batch, kept by Asynq for
// an hour once done (more than the worker keeps: the completed messages stay to be
// walked). Retained ids do not block the handlers: released waiters and new attempts
// get tasks of other ids.
func (b *bundle) enqueueRetained(batchName string) (taskKeys map[ItemRef]string) {
	b.t.Helper()
	ctx := context.Background()
	taskKeys = map[ItemRef]string{}
	err := b.store.Items(ctx, batchName, nil, func(r batch.ItemRecord) error {
		task, err := NewSubmitTask(refOf(r), r.Kind, batch.PriorityNormal)
		if err != nil {
			return err
		}
		if _, err := b.queue.EnqueueContext(ctx, task, asynq.Retention(time.Hour)); err != nil {
			return err
		}
		taskKeys[refOf(r)] = asynqTaskKey(QueueFor(r.Kind, batch.PriorityNormal), SubmitTaskID(refOf(r)))
		return nil
	})
	if err != nil {
		b.t.Fatalf("enqueue: %v", err)
	}
	return taskKeys
}

// asynqTaskKey is the hash in which Asynq keeps a task (asynq's internal base.TaskKey).
func asynqTaskKey(queue, id string) string { return "asynq:{" + queue + "}:t:" + id }

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s after %v", what, timeout)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keyspaces lists the databases holding keys ("db0", ...), from INFO keyspace.
func keyspaces(t *testing.T, rdb *redis.Client) []string {
	t.Helper()
	info, err := rdb.Info(t.Context(), "keyspace").Result()
	if err != nil {
		t.Fatal(err)
	}
	var dbs []string
	for line := range strings.SplitSeq(info, "\n") {
		if name, _, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && strings.HasPrefix(name, "db") {
			dbs = append(dbs, name)
		}
	}
	return dbs
}
