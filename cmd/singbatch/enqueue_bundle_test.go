package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/hibiken/asynq"
	"github.com/redis/go-redis/v9"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/internal/redistest"
	"github.com/singbatch/singbatch/internal/testkit"
	"github.com/singbatch/singbatch/tasks"
)

// cliBundle is one test's world for the batch commands (enqueue, status, report,
// models): a private redis-server (Asynq's keys are not under REDIS_PREFIX, so tests
// that look at queues cannot share one), a per-test prefix, the store and an Asynq
// inspector on it, and a folder for manifests. Commands run in-process through dispatch.
type cliBundle struct {
	t         *testing.T
	redis     *redistest.Server
	rdb       *redis.Client
	prefix    string
	store     *batch.Store
	inspector *asynq.Inspector
	dir       string
	vars      []string
}

func newCLI(t *testing.T, vars ...string) *cliBundle {
	t.Helper()
	prefix := "clitest-" + strings.ReplaceAll(t.Name(), "/", "-")
	kit := testkit.New(t, testkit.Options{Prefix: prefix, NoSim: true})
	b := &cliBundle{
		t: t, redis: kit.Redis, rdb: kit.RDB, prefix: prefix, store: kit.Store,
		inspector: asynq.NewInspectorFromRedisClient(kit.RDB),
		dir:       t.TempDir(),
		vars: append([]string{"REDIS_URL=" + kit.Redis.URL(), "REDIS_PREFIX=" + prefix,
			"LOG_FORMAT=console", "LOG_LEVEL=error"}, vars...),
	}
	return b
}

func (b *cliBundle) env(stdin string, stdout, stderr *syncBuffer) env {
	vars := b.vars
	return testEnv(stdin, stdout, stderr, vars)
}

// run runs one command line to its end.
func (b *cliBundle) run(ctx context.Context, stdin string, args ...string) (stdout, stderr string, err error) {
	var out, errOut syncBuffer
	err = dispatch(ctx, b.env(stdin, &out, &errOut), args)
	return out.String(), errOut.String(), err
}

// mustRun runs a command that must succeed.
func (b *cliBundle) mustRun(stdin string, args ...string) string {
	b.t.Helper()
	out, errOut, err := b.run(b.t.Context(), stdin, args...)
	if err != nil {
		b.t.Fatalf("singbatch %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// write puts a manifest in the test's folder and returns its path.
func (b *cliBundle) write(name, content string) string {
	b.t.Helper()
	p := filepath.Join(b.dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// songLines is a JSONL manifest of n songs with ids PREFIX-0001...
func cliSongLines(prefix string, from, n int) string {
	var s strings.Builder
	for i := from; i < from+n; i++ {
		fmt.Fprintf(&s, `{"id":"%s-%04d","kind":"song","url":"https://cdn.example.com/%d.mp3","contentId":"repo1"}`+"\n", prefix, i, i)
	}
	return s.String()
}

// queued lists a queue's pending submit tasks as "submit:BATCH:ITEM:ATTEMPT", then
// what their task id adds to SubmitTaskID (":resume:…"), after checking that the id
// is the payload's.
func (b *cliBundle) queued(queue string) []string {
	b.t.Helper()
	var out []string
	for page := 1; ; page++ {
		ts, err := b.inspector.ListPendingTasks(queue, asynq.PageSize(1000), asynq.Page(page))
		if errors.Is(err, asynq.ErrQueueNotFound) {
			return out
		}
		if err != nil {
			b.t.Fatalf("list %s: %v", queue, err)
		}
		for _, ti := range ts {
			if ti.Type != tasks.TypeSubmit {
				b.t.Errorf("task %s in %s has type %s", ti.ID, queue, ti.Type)
			}
			ref, err := tasks.SubmitRef(ti.Payload)
			id := tasks.SubmitTaskID(ref)
			if err != nil || !strings.HasPrefix(ti.ID, id) {
				b.t.Errorf("task %s in %s: payload %q (%v), whose id is %s", ti.ID, queue, ti.Payload, err, id)
			}
			out = append(out, submitEntry(ref.Batch, ref.Item, ref.Attempt)+strings.TrimPrefix(ti.ID, id))
		}
		if len(ts) < 1000 {
			sort.Strings(out)
			return out
		}
	}
}

// items lists a batch's records as "ID STATE ATTEMPT ORIGIN".
func (b *cliBundle) items(name string) []string {
	b.t.Helper()
	var out []string
	err := b.store.Items(b.t.Context(), name, nil, func(r batch.ItemRecord) error {
		out = append(out, fmt.Sprintf("%s %s %d %s", r.ID, r.State, r.Attempt, r.Origin))
		return nil
	})
	if err != nil {
		b.t.Fatal(err)
	}
	return out
}

// keys lists every key in Redis.
func (b *cliBundle) keys() []string {
	b.t.Helper()
	ks, err := b.rdb.Keys(b.t.Context(), "*").Result()
	if err != nil {
		b.t.Fatal(err)
	}
	sort.Strings(ks)
	return ks
}

// submitEntry is how queued lists the submit task of an item's attempt.
func submitEntry(batchName, id string, attempt int) string {
	return fmt.Sprintf("submit:%s:%s:%d", batchName, id, attempt)
}

func assertList(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func assertText(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\ngot:\n%s\nwant:\n%s", what, got, want)
	}
}
