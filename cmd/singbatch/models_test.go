package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

const (
	modelsTestID  = "AKIDmodelsTest"
	modelsTestKey = "models-test-s3cret"
)

// modelsFixture is statusFixture (alice_v1 trained by b1/t1) plus a training of bob_v1
// that is still running, and one of carol_v1 that failed.
func modelsFixture(t *testing.T, vars ...string) *cliBundle {
	t.Helper()
	b := statusFixture(t)
	b.vars = append(b.vars, vars...)
	b.mustRun("", "enqueue", "--batch", "voices", b.write("voices.jsonl",
		`{"id":"t-bob","kind":"train","model":"bob_v1","urls":["https://cdn.example.com/b.wav"]}
{"id":"t-carol","kind":"train","model":"carol_v1","urls":["https://cdn.example.com/c.wav"]}
`))
	if _, err := b.store.SetModelFailed(t.Context(), "carol_v1", "training job ended in ERROR: too short"); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestModelsLocal(t *testing.T) {
	t.Parallel()
	b := modelsFixture(t)
	assertText(t, "models", cliMask(b.mustRun("", "models")), `MODEL     STATE     BATCH   ITEM     UPDATED               ERROR
alice_v1  ready     b1      t1       TIME  
bob_v1    training  voices  t-bob    TIME  
carol_v1  failed    voices  t-carol  TIME  training job ended in ERROR: too short
`)
	var got []string
	for line := range strings.Lines(b.mustRun("", "models", "--json")) {
		var m modelJSON
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s %s %s/%s %q %v", m.Name, m.State, m.Batch, m.Item, m.Error, m.UpdatedAt != ""))
	}
	assertList(t, "models --json", got, []string{
		`alice_v1 ready b1/t1 "" true`,
		`bob_v1 training voices/t-bob "" true`,
		`carol_v1 failed voices/t-carol "training job ended in ERROR: too short" true`,
	})

	empty := newCLI(t)
	assertText(t, "no models", empty.mustRun("", "models"), "no models trained by any batch\n")
}

func TestModelsRemote(t *testing.T) {
	t.Parallel()
	srv, err := sim.New(sim.Options{Credentials: upstream.Credentials{
		SecretID: upstream.NewSecret(modelsTestID), SecretKey: upstream.NewSecret(modelsTestKey)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	created := time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)
	// More than one page of ListModels (100 per page).
	for i := range 120 {
		if err := srv.AddModel(fmt.Sprintf("m%03d", i), created); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.AddModel("alice_v1", created); err != nil {
		t.Fatal(err)
	}
	b := modelsFixture(t, "UPSTREAM_URL="+srv.URL(), "UPSTREAM_SECRET_ID="+modelsTestID,
		"UPSTREAM_SECRET_KEY="+modelsTestKey, "UPSTREAM_RATE=50")

	out, errOut, err := b.run(t.Context(), "", "models", "--remote")
	if err != nil {
		t.Fatalf("models --remote: %v\n%s", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+121+2 {
		t.Fatalf("%d lines, want a header and 123 models:\n%s", len(lines), out)
	}
	assertList(t, "models --remote (first and last lines)", append(lines[:4:4], lines[len(lines)-2:]...), []string{
		"MODEL     ON SERVICE                  IN BATCHES  BATCH   ITEM",
		"alice_v1  since 2025-03-04T05:06:07Z  ready       b1      t1",
		"bob_v1    not listed                  training    voices  t-bob",
		"carol_v1  not listed                  failed      voices  t-carol",
		"m118      since 2025-03-04T05:06:07Z  -           -       -",
		"m119      since 2025-03-04T05:06:07Z  -           -       -",
	})
	if strings.Contains(out+errOut, modelsTestKey) || strings.Contains(out+errOut, modelsTestID) {
		t.Error("a credential was printed")
	}

	var m modelJSON
	first, _, _ := strings.Cut(b.mustRun("", "models", "--remote", "--json"), "\n")
	if err := json.Unmarshal([]byte(first), &m); err != nil {
		t.Fatal(err)
	}
	if m.Name != "alice_v1" || m.Remote == nil || !*m.Remote || m.RemoteTime != "2025-03-04T05:06:07Z" || m.State != "ready" {
		t.Errorf("first model: %+v", m)
	}

	// Wrong credentials: the service's refusal, without the secret.
	bad := b.vars[:len(b.vars):len(b.vars)]
	b.vars = append(bad, "UPSTREAM_SECRET_KEY=wrong-key-123")
	_, errOut, err = b.run(t.Context(), "", "models", "--remote")
	t.Logf("wrong credentials: %v", err)
	if err == nil || !strings.HasPrefix(err.Error(), "models --remote: ") || strings.Contains(err.Error(), "wrong-key-123") {
		t.Errorf("wrong credentials: %v", err)
	}
	if strings.Contains(errOut, "wrong-key-123") {
		t.Error("the secret key reached stderr")
	}
}

func TestModelsRemoteNeedsCredentials(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	_, _, err := b.run(t.Context(), "", "models", "--remote")
	if err == nil || err.Error() != "configuration: UPSTREAM_SECRET_ID and UPSTREAM_SECRET_KEY are required to call the service" {
		t.Errorf("error %v", err)
	}
}
