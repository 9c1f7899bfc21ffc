// Package dashboardtest seeds a Redis with what the dashboard shows, for the tests of
// the dashboard and of the command that serves it.
package dashboardtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/keyspace"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/tasks"
)

// Distinctive credentials: the dashboard's environment holds them, and the seeded data
// even leaks them into error messages, as a sanitizing bug elsewhere would. The key has
// characters that HTML and JSON escape, so every encoding of it is checked.
const (
	SecretID      = "AKIDdashSECRETid7731"
	SecretKey     = `dashSECRETkey<&>"9913`
	GatewaySecret = "dashSECRETgateway5521"
	Prefix        = "dashtest"
	Batch         = "spring-2025"
	EscBatch      = "escapes"
	EscID         = `<img src=x onerror="window.pwned=1">`
	EscError      = `<script>window.pwned=2</script> & "quoted"`
	// UpstreamRate is the account's limit the dashboard is told of.
	UpstreamRate = 10
	// Calls are the upstream calls seeded on the batch's items (its series).
	Calls = 7
	// Jobs are the jobs its items were claimed for (s3, s4, s5, s7, t1, t3), of which
	// FinishedJobs ended (s5, s7, t1).
	Jobs         = 6
	FinishedJobs = 3
	// NotifySecret is the dashboard's NOTIFY_SECRET, whose key is NotifyKey; the batch's
	// --notify URL, sealed with it, carries NotifyToken.
	NotifyKey    = "dashNOTIFYkey-0123456789-abcdef"
	NotifyToken  = "dashNOTIFYtoken4417"
	NotifySecret = "whsec_ZGFzaE5PVElGWWtleS0wMTIzNDU2Nzg5LWFiY2RlZg=="
)

// Bundle is what a dashboard test may use (river-style test bundle).
type Bundle struct {
	Redis    *redistest.Server
	Store    *batch.Store
	Vars     []string            // the process environment of the dashboard
	Secrets  bool                // Vars hold the credentials (Seed)
	TaskIDs  map[string][]string // queue -> seeded asynq task ids
	ErrTexts map[string]string   // seeded item errors, by item id, as stored
}

// Seed starts a private Redis and seeds it: a batch with items in every
// state (failed ones with errors, two of which leak a secret), a batch of hostile
// strings, models, and Asynq tasks pending, scheduled, retrying and archived in the
// queues songs, poll and train.
func Seed(t *testing.T) *Bundle {
	t.Helper()
	srv := redistest.Start(t, redistest.Options{})
	b := &Bundle{
		Redis: srv,
		Store: batch.NewStore(srv.Client(t), keyspace.Keys{Prefix: Prefix}, nil),
		Vars: []string{
			"REDIS_URL=" + srv.URL(), "REDIS_PREFIX=" + Prefix,
			"UPSTREAM_SECRET_ID=" + SecretID, "UPSTREAM_SECRET_KEY=" + SecretKey,
			"UPSTREAM_GATEWAY_KEY_ID=gw", "UPSTREAM_GATEWAY_KEY_SECRET=" + GatewaySecret,
			"NOTIFY_SECRET=" + NotifySecret,
			"LOG_LEVEL=debug", "LOG_FORMAT=json",
		},
		Secrets:  true,
		TaskIDs:  map[string][]string{},
		ErrTexts: map[string]string{},
	}
	b.seedItems(t)
	b.seedTasks(t)
	return b
}

// Song is a song item of the seeded batch's songs.jsonl.
func Song(id, model string, line int) batch.Item {
	return batch.Item{ID: id, Kind: batch.KindSong, Model: model, Origin: fmt.Sprintf("songs.jsonl:%d", line)}
}

// Train is a training item of the seeded batch's voices.jsonl.
func Train(id, model string, line int) batch.Item {
	return batch.Item{ID: id, Kind: batch.KindTrain, Model: model, Origin: fmt.Sprintf("voices.jsonl:%d", line)}
}

func (b *Bundle) seedItems(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	add := func(name, manifest string, items ...batch.Item) {
		if _, err := b.Store.AddItems(ctx, name, manifest, items); err != nil {
			t.Fatal(err)
		}
	}
	add(Batch, "voices.jsonl", Train("t1", "alice_v1", 1), Train("t2", "bob_v1", 2), Train("t3", "carol_v1", 3))
	add(Batch, "songs.jsonl", Song("s1", "alice_v1", 1), Song("s2", "default", 2), Song("s3", "default", 3),
		Song("s4", "default", 4), Song("s5", "default", 5), Song("s6", "default", 6),
		Song("s7", "default", 7), Song("s8", "carol_v1", 8))
	add(EscBatch, "hostile.jsonl", Song(EscID, "default", 1))

	b.ErrTexts["s6"] = "CreateJob: invalid request (HTTP 400): InvalidParameter: inputs[0].url: not reachable [requestId req-s6]"
	b.ErrTexts["s7"] = "GetJob job-s7: authentication failed (HTTP 401): AuthFailure: secretKey " + SecretKey + " does not match"
	b.ErrTexts["t2"] = "training job-t2 ended in ERROR: bad audio; echoed secretId=" + SecretID
	b.ErrTexts[EscID] = EscError
	steps := []struct {
		batch, id string
		to        batch.State
		u         batch.Update
	}{
		{Batch, "s3", batch.StateSubmitting, batch.Update{CustomID: "sb-s3-1"}},
		{Batch, "s4", batch.StateSubmitting, batch.Update{CustomID: "sb-s4-1"}},
		{Batch, "s4", batch.StateSubmitted, batch.Update{JobID: "job-s4"}},
		{Batch, "s5", batch.StateSubmitting, batch.Update{CustomID: "sb-s5-1"}},
		{Batch, "s5", batch.StateSubmitted, batch.Update{JobID: "job-s5"}},
		{Batch, "s5", batch.StateCompleted, batch.Update{SongName: "s5_out.wav", OutputRepository: "repo1", OutputPath: "/out/s5/s5_out.wav"}},
		{Batch, "s6", batch.StateFailed, batch.Update{Error: b.ErrTexts["s6"]}},
		{Batch, "s7", batch.StateSubmitting, batch.Update{CustomID: "sb-s7-1"}},
		{Batch, "s7", batch.StateFailed, batch.Update{JobID: "job-s7", Error: b.ErrTexts["s7"]}},
		{Batch, "s8", batch.StateWaiting, batch.Update{}},
		{Batch, "t1", batch.StateSubmitting, batch.Update{CustomID: "sb-t1-1"}},
		{Batch, "t1", batch.StateSubmitted, batch.Update{JobID: "job-t1"}},
		{Batch, "t1", batch.StateCompleted, batch.Update{TrainedModel: "alice_v1"}},
		{Batch, "t2", batch.StateFailed, batch.Update{JobID: "job-t2", Error: b.ErrTexts["t2"]}},
		{Batch, "t3", batch.StateSubmitting, batch.Update{CustomID: "sb-t3-1"}},
		{Batch, "t3", batch.StateSubmitted, batch.Update{JobID: "job-t3"}},
		{EscBatch, EscID, batch.StateFailed, batch.Update{Error: EscError, SongName: `a&b <c>.wav`}},
	}
	for _, s := range steps {
		if s.to == batch.StateSubmitting { // claimed as a worker claims: it counts a job
			if o, _, err := b.Store.Claim(ctx, s.batch, s.id, 1, s.u.CustomID, batch.ClaimCaps{}); o != batch.Claimed || err != nil {
				t.Fatalf("seed: claim %s/%s: %v %v", s.batch, s.id, o, err)
			}
			continue
		}
		if ok, _, err := b.Store.Transition(ctx, s.batch, s.id, 1, nil, s.to, s.u); err != nil || !ok {
			t.Fatalf("seed %s/%s -> %s: ok=%v err=%v", s.batch, s.id, s.to, ok, err)
		}
	}
	notify, err := tasks.ParseNotifySecret(NotifySecret)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := notify.SealURL("https://hooks.example.com/singbatch?token=" + NotifyToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Store.SetNotify(ctx, Batch, sealed); err != nil {
		t.Fatal(err)
	}
	for i := range Calls {
		if err := b.Store.AddCall(ctx, Batch, []string{"s4", "s5", "t1"}[i%3]); err != nil {
			t.Fatal(err)
		}
	}
}

// seedTasks enqueues submit and poll tasks and lets a real Asynq server fail two of
// them, so the queues hold tasks pending (songs), scheduled and retrying (poll) and
// archived (train), the last two with their last error.
func (b *Bundle) seedTasks(t *testing.T) {
	t.Helper()
	conn := asynq.RedisClientOpt{Addr: b.Redis.Addr}
	client := asynq.NewClient(conn)
	defer client.Close()
	enqueue := func(task *asynq.Task, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		info, err := client.Enqueue(task)
		if err != nil {
			t.Fatal(err)
		}
		b.TaskIDs[info.Queue] = append(b.TaskIDs[info.Queue], info.ID)
	}
	ref := func(id string) tasks.ItemRef { return tasks.ItemRef{Batch: Batch, Item: id, Attempt: 1} }
	enqueue(tasks.NewSubmitTask(ref("s1"), batch.KindSong, batch.PriorityNormal))
	enqueue(tasks.NewSubmitTask(ref("s2"), batch.KindSong, batch.PriorityNormal))
	enqueue(tasks.NewPollTask(tasks.PollPayload{ItemRef: ref("s4"), JobID: "job-s4", Poll: 1}, time.Hour))
	enqueue(tasks.NewPollTask(tasks.PollPayload{ItemRef: ref("t3"), JobID: "job-t3", Poll: 1}, 0))
	enqueue(tasks.NewSubmitTask(ref("t2"), batch.KindTrain, batch.PriorityNormal))

	mux := asynq.NewServeMux()
	mux.HandleFunc(tasks.TypePoll, func(context.Context, *asynq.Task) error {
		return errors.New("GetJob job-t3: transient failure (HTTP 503): InternalError: busy [requestId req-t3]")
	})
	mux.HandleFunc(tasks.TypeSubmit, func(context.Context, *asynq.Task) error {
		return fmt.Errorf("CreateJob: authentication failed (HTTP 401): AuthFailure: secretId %s unknown: %w", SecretID, asynq.SkipRetry)
	})
	srv := asynq.NewServer(conn, asynq.Config{
		Queues:         map[string]int{tasks.QueuePoll: 1, tasks.QueueTrain: 1}, // songs stays pending
		Concurrency:    2,
		RetryDelayFunc: func(int, error, *asynq.Task) time.Duration { return time.Hour },
		LogLevel:       asynq.FatalLevel,
	})
	if err := srv.Start(mux); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	insp := asynq.NewInspector(conn)
	defer insp.Close()
	Eventually(t, 10*time.Second, func() bool {
		poll, err1 := insp.GetQueueInfo(tasks.QueuePoll)
		train, err2 := insp.GetQueueInfo(tasks.QueueTrain)
		return err1 == nil && err2 == nil && poll.Retry == 1 && train.Archived == 1
	})
}

// Eventually waits up to within for cond, failing the test when it is not reached.
func Eventually(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not reached within %v", within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Get fetches a URL and returns its status and body.
func Get(t *testing.T, u string) (int, string) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

// AssertNoSecret fails when any secret appears in s in any encoding a page or a JSON
// reply could give it.
func AssertNoSecret(t *testing.T, where, s string) {
	t.Helper()
	for _, sec := range []string{SecretID, SecretKey, GatewaySecret, NotifySecret, NotifyKey, NotifyToken,
		strings.TrimPrefix(NotifySecret, "whsec_")} {
		q, _ := json.Marshal(sec)
		forms := map[string]bool{sec: true, string(q[1 : len(q)-1]): true, html.EscapeString(sec): true,
			url.QueryEscape(sec): true, url.PathEscape(sec): true}
		for f := range forms {
			if strings.Contains(s, f) {
				t.Errorf("%s shows a secret (%q)", where, f)
			}
		}
	}
}

// ItemIDs lists the item ids of a batch page, in order.
func ItemIDs(page string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`data-item="([^"]*)"`).FindAllStringSubmatch(page, -1) {
		ids = append(ids, html.UnescapeString(m[1]))
	}
	return ids
}

// The dashboard's basic-authentication credentials in the tests that turn it on.
const (
	User     = "operator"
	Password = "dash-pa55word-not-in-logs"
)

// Request sends one request with optional basic credentials and headers.
func Request(t *testing.T, method, u string, creds bool, header map[string]string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if creds {
		req.SetBasicAuth(User, Password)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// Everything but the health probe asks for the credentials; with writes allowed, a
// change from another site is refused and one from the dashboard's own page goes through.
