package manifest

import (
	"strings"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

// deriveFromLine reads one manifest line and returns its item's id.
func deriveFromLine(t *testing.T, line string, format Format) string {
	t.Helper()
	return readOneItem(t, line, format).ID
}

// itemFromLine reads one JSONL line into its item.
func itemFromLine(t *testing.T, line string) batch.Item {
	t.Helper()
	return readOneItem(t, line, FormatJSONL)
}

func readOneItem(t *testing.T, line string, format Format) batch.Item {
	t.Helper()
	items, problems := drainReader(t, NewReader("m", strings.NewReader(line), format), "m")
	if len(problems) != 0 || len(items) != 1 {
		t.Fatalf("line %q: items %v, problems %v", line, itemOrigins(items), problems)
	}
	return items[0]
}

func TestDerivedIDIsStable(t *testing.T) {
	t.Parallel()
	// Golden value: ids are stored in Redis, so a change here re-identifies every
	// id-less item of every batch already enqueued. Change only with a migration.
	const want = "k-b74e4e923a98119d"
	for _, tt := range []struct {
		name, line string
		format     Format
	}{
		{"jsonl", `{"kind":"song","text":"la la la","model":"alice_v1","contentId":"repo1"}`, FormatJSONL},
		{"other key order and spacing", ` { "contentId" : "repo1", "model":"alice_v1" ,"text":"la la la","kind":"song" } `, FormatJSONL},
		{"csv", "kind,text,model,content_id\nsong, la la la ,alice_v1,repo1\n", FormatCSV},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := deriveFromLine(t, tt.line, tt.format); got != want {
				t.Errorf("id %q, want %q", got, want)
			}
		})
	}
}

func TestDerivedIDDependsOnContent(t *testing.T) {
	t.Parallel()
	lines := map[string]string{
		"base":         `{"kind":"song","url":"https://h/a.mp3","contentId":"r"}`,
		"url":          `{"kind":"song","url":"https://h/b.mp3","contentId":"r"}`,
		"model":        `{"kind":"song","url":"https://h/a.mp3","contentId":"r","model":"m2"}`,
		"contentId":    `{"kind":"song","url":"https://h/a.mp3","contentId":"r2"}`,
		"separate":     `{"kind":"song","url":"https://h/a.mp3","contentId":"r","separate":true}`,
		"prefix":       `{"kind":"song","url":"https://h/a.mp3","contentId":"r","outputPrefix":"p"}`,
		"destination":  `{"kind":"song","url":"https://h/a.mp3","contentId":"r","destination":"/d"}`,
		"timeout":      `{"kind":"song","url":"https://h/a.mp3","contentId":"r","timeout":60}`,
		"text":         `{"kind":"song","text":"https://h/a.mp3","contentId":"r"}`,
		"train":        `{"kind":"train","urls":["https://h/a.mp3"],"model":"m"}`,
		"train epochs": `{"kind":"train","urls":["https://h/a.mp3"],"model":"m","epochs":31}`,
		"train order":  `{"kind":"train","urls":["https://h/b.mp3","https://h/a.mp3"],"model":"m"}`,
		"train order2": `{"kind":"train","urls":["https://h/a.mp3","https://h/b.mp3"],"model":"m"}`,
	}
	seen := map[string]string{}
	for name, line := range lines {
		id := deriveFromLine(t, line, FormatJSONL)
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share id %s", name, other, id)
		}
		seen[id] = name
		if again := deriveFromLine(t, line, FormatJSONL); again != id {
			t.Errorf("%s: id %s, then %s", name, id, again)
		}
	}
	// The explicit default is the same request as the implicit one.
	if a, b := deriveFromLine(t, lines["base"], FormatJSONL), deriveFromLine(t, `{"kind":"song","url":"https://h/a.mp3","contentId":"r","model":"default","epochs":null}`, FormatJSONL); a != b {
		t.Errorf("explicit default model changed the id: %s vs %s", a, b)
	}
}

func TestCheckID(t *testing.T) {
	t.Parallel()
	for id, ok := range map[string]bool{
		"s-001": true, "alice": true, "A.b_c-9": true, "9": true, strings.Repeat("x", MaxIDLen): true,
		strings.Repeat("x", MaxIDLen+1): false, "-a": false, ".a": false, "_a": false, "a/b": false,
		"a b": false, "..": false, "é": false, "a:b": false,
	} {
		if got := checkID(id) == ""; got != ok {
			t.Errorf("checkID(%q) ok = %v, want %v", id, got, ok)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	known := []string{"model", "output_prefix", "epochs", "content_id"}
	for in, want := range map[string]string{
		"modle": "model", "outputPrefix": "output_prefix", "epoch": "epochs", "ContentId": "content_id",
		"colour": "", "x": "",
	} {
		if got := suggest(in, known); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
