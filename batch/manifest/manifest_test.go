package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

const manifestDir = "../../testdata/manifests"

// readAll drains a reader, checking what every result must satisfy: items are valid
// CreateJob requests with an origin, problems are well-formed LineErrors.
func drainReader(t *testing.T, r *Reader, name string) (items []batch.Item, problems []string) {
	t.Helper()
	for range 1_000_000 {
		item, err := r.Next()
		if errors.Is(err, io.EOF) {
			return items, problems
		}
		if err != nil {
			var le *batch.LineError
			if !errors.As(err, &le) {
				t.Fatalf("Next: fatal error %v", err)
			}
			if le.File != name || le.Line < 1 || le.Field == "" || le.Reason == "" {
				t.Errorf("malformed batch.LineError %#v", le)
			}
			problems = append(problems, err.Error())
			continue
		}
		assertManifestItem(t, item, name)
		items = append(items, item)
	}
	t.Fatal("reader never reached io.EOF")
	return nil, nil
}

func assertManifestItem(t *testing.T, item batch.Item, name string) {
	t.Helper()
	req := item.Spec.Request(item.Kind, item.Model)
	if err := req.Validate(); err != nil {
		t.Errorf("item %s: request fails the contract: %v", item.Origin, err)
	}
	if !strings.HasPrefix(item.Origin, name+":") {
		t.Errorf("item origin %q, want %s:LINE", item.Origin, name)
	}
	if reason := checkID(item.ID); reason != "" {
		t.Errorf("item %s: id %q: %s", item.Origin, item.ID, reason)
	}
}

func readTestManifest(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifestDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// variants returns the file as stored (LF, no BOM) and as a Windows tool writes it
// (CRLF and a byte-order mark); both must read the same.
func lineEndVariants(b []byte) map[string][]byte {
	crlf := bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
	return map[string][]byte{
		"lf":       b,
		"crlf+bom": append([]byte("\uFEFF"), crlf...),
	}
}

func itemOrigins(items []batch.Item) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.ID+"@"+it.Origin)
	}
	return out
}

func assertLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot:\n\t%s\nwant:\n\t%s", what, strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

func assertItemRequest(t *testing.T, item batch.Item, want upstream.CreateJobRequest) {
	t.Helper()
	got := item.Spec.Request(item.Kind, item.Model)
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		t.Errorf("item %s request:\ngot  %s\nwant %s", item.Origin, g, w)
	}
}

func TestReaderJSONLMixed(t *testing.T) {
	t.Parallel()
	wantProblems := []string{
		`mixed-errors.jsonl:2: line: invalid JSON: invalid character 'h' in literal true (expecting 'r') at byte 2`,
		`mixed-errors.jsonl:3: modle: unknown field (did you mean "model"?)`,
		`mixed-errors.jsonl:4: url: must be an absolute http(s) URL, not "ftp://cdn.example.com/a.mp3"`,
		`mixed-errors.jsonl:4: outputPrefix: must be shorter than 20 characters (has 22)`,
		`mixed-errors.jsonl:4: contentId: required for generation jobs`,
		`mixed-errors.jsonl:6: urls: only for kind "train"`,
		`mixed-errors.jsonl:6: epochs: only for kind "train"`,
		`mixed-errors.jsonl:7: separate: only for kind "song"`,
		`mixed-errors.jsonl:7: destination: only for kind "song"`,
		`mixed-errors.jsonl:8: kind: required`,
		`mixed-errors.jsonl:9: kind: must be "song" or "train", not "karaoke"`,
		`mixed-errors.jsonl:10: id: duplicate id "ok-1" in this batch`,
		`mixed-errors.jsonl:11: model: required`,
		`mixed-errors.jsonl:11: epochs: must be between 1 and 50, not 60`,
		`mixed-errors.jsonl:12: urls[1]: must not be empty`,
		`mixed-errors.jsonl:12: urls[2]: must be an absolute http(s) URL, not "ftp://x/y.wav"`,
		`mixed-errors.jsonl:12: urls[3]: must be an absolute http(s) URL, not "https:///nohost.wav"`,
		`mixed-errors.jsonl:13: text: at most 512 characters (has 600)`,
		`mixed-errors.jsonl:14: epochs: must be an integer, not string`,
		`mixed-errors.jsonl:15: timeout: must not be negative`,
		`mixed-errors.jsonl:16: id: only ASCII letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit`,
		`mixed-errors.jsonl:17: inputs[0]: exactly one of url, text or source is required (has 2)`,
		`mixed-errors.jsonl:17: inputs[1]: exactly one of url, text or source is required (has 0)`,
		`mixed-errors.jsonl:18: inputs[1].source.pth: unknown field (did you mean "path"?)`,
		`mixed-errors.jsonl:18: epoch: unknown field (did you mean "epochs"?)`,
		`mixed-errors.jsonl:20: line: same item as an earlier line (derived id "k-b74e4e923a98119d")`,
		`mixed-errors.jsonl:21: line: invalid JSON: unexpected end of line`,
		`mixed-errors.jsonl:22: model: training model "carol" already trained by an earlier line of this batch`,
		`mixed-errors.jsonl:23: text: only one of url, text or source may be given`,
		`mixed-errors.jsonl:24: line: must be a JSON object, not array`,
		`mixed-errors.jsonl:25: line: invalid JSON: unexpected data after the object at byte 90`,
		`mixed-errors.jsonl:26: source.path: required`,
		`mixed-errors.jsonl:26: model: only digits, ASCII letters and _ are allowed`,
		`mixed-errors.jsonl:27: urls: a training needs at least one input: urls or inputs`,
	}
	wantItems := []string{
		"ok-1@mixed-errors.jsonl:1",
		"k-b74e4e923a98119d@mixed-errors.jsonl:19",
		"ok-2@mixed-errors.jsonl:28",
	}
	for variant, data := range lineEndVariants(readTestManifest(t, "mixed-errors.jsonl")) {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			items, problems := drainReader(t, NewReader("mixed-errors.jsonl", bytes.NewReader(data), FormatAuto), "mixed-errors.jsonl")
			assertLines(t, "problems", problems, wantProblems)
			assertLines(t, "items", itemOrigins(items), wantItems)
			if len(items) == 3 {
				assertItemRequest(t, items[2], upstream.CreateJobRequest{
					Inputs: []upstream.Input{{URL: "https://cdn.example.com/i.wav"}},
					Outputs: []upstream.Output{{
						InputSelectors: []int{0},
						SmartContentDescriptor: &upstream.SmartContentDescriptor{
							SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: "ivy", TotalEpoch: 30},
						},
					}},
				})
			}
		})
	}
}

func TestReaderCSVMixed(t *testing.T) {
	t.Parallel()
	wantProblems := []string{
		`mixed-errors.csv:3: separate: must be true or false, not "maybe"`,
		`mixed-errors.csv:4: epochs: must be an integer, not "thirty"`,
		`mixed-errors.csv:5: line: has 4 fields, the header has 12`,
		`mixed-errors.csv:6: line: invalid CSV: bare " in non-quoted-field at column 38`,
		`mixed-errors.csv:7: urls[1]: must be an absolute http(s) URL, not "ftp://x/y.wav"`,
		`mixed-errors.csv:8: output_prefix: must be shorter than 20 characters (has 22)`,
		`mixed-errors.csv:8: content_id: required for generation jobs`,
		`mixed-errors.csv:9: source_content_id: required`,
		`mixed-errors.csv:10: url: only for kind "song"`,
		`mixed-errors.csv:10: separate: only for kind "song"`,
		`mixed-errors.csv:10: content_id: only for kind "song"`,
		`mixed-errors.csv:12: id: duplicate id "ok-1" in this batch`,
		`mixed-errors.csv:13: epochs: only for kind "train"`,
		`mixed-errors.csv:13: timeout: must not be negative`,
		`mixed-errors.csv:14: urls: a training needs at least one URL`,
		`mixed-errors.csv:15: kind: required`,
	}
	wantItems := []string{"ok-1@mixed-errors.csv:2", "ok-2@mixed-errors.csv:16"}
	for variant, data := range lineEndVariants(readTestManifest(t, "mixed-errors.csv")) {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			items, problems := drainReader(t, NewReader("mixed-errors.csv", bytes.NewReader(data), FormatAuto), "mixed-errors.csv")
			assertLines(t, "problems", problems, wantProblems)
			assertLines(t, "items", itemOrigins(items), wantItems)
		})
	}
}

func TestReaderBadCSVHeaderRejectsFile(t *testing.T) {
	t.Parallel()
	items, problems := drainReader(t, NewReader("bad-header.csv", bytes.NewReader(readTestManifest(t, "bad-header.csv")), FormatAuto), "bad-header.csv")
	assertLines(t, "problems", problems, []string{
		`bad-header.csv:1: header: unknown column "modle" (did you mean "model"?)`,
		`bad-header.csv:1: header: unknown column "outputPrefix" (did you mean "output_prefix"?)`,
		`bad-header.csv:1: header: column "url" appears twice`,
		`bad-header.csv:1: header: column 7 has no name`,
	})
	if len(items) != 0 {
		t.Errorf("items from a file with a bad header: %v", itemOrigins(items))
	}
}

// The valid samples hold the same items in both formats.
func TestReaderValidSamples(t *testing.T) {
	t.Parallel()
	song := upstream.CreateJobRequest{
		Inputs: []upstream.Input{{URL: "https://cdn.example.com/songs/a.mp3"}},
		Outputs: []upstream.Output{{
			ContentID:      "repo1",
			Destination:    "/out",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				OutputPrefix:   "a_",
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: "default", UseSeparate: upstream.SwitchOn},
			},
		}},
		Timeout: 900,
	}
	training := upstream.CreateJobRequest{
		Inputs: []upstream.Input{{URL: "https://cdn.example.com/alice/1.wav"}, {URL: "https://cdn.example.com/alice/2.wav"}},
		Outputs: []upstream.Output{{
			InputSelectors: []int{0, 1},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: "alice_v1", TotalEpoch: 30},
			},
		}},
		Timeout: 7200,
	}
	textSong := upstream.CreateJobRequest{
		Inputs: []upstream.Input{{SourceData: "la la la"}},
		Outputs: []upstream.Output{{
			ContentID:      "repo1",
			Destination:    "/singbatch/k-b74e4e923a98119d", // default: its own folder
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: "alice_v1", UseSeparate: upstream.SwitchOff},
			},
		}},
	}
	sourceSong := upstream.CreateJobRequest{
		Inputs: []upstream.Input{{Source: &upstream.Source{ContentID: "repo2", Path: "/in/b.wav"}}},
		Outputs: []upstream.Output{{
			ContentID:      "repo1",
			Destination:    "/singbatch/s-003",
			InputSelectors: []int{0},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				OutputPrefix:   "b_",
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: "default", UseSeparate: upstream.SwitchOff},
			},
		}},
	}
	mixedTraining := upstream.CreateJobRequest{
		Inputs: []upstream.Input{
			{URL: "https://cdn.example.com/bob/1.wav"},
			{SourceData: "some lyrics"},
			{Source: &upstream.Source{ContentID: "repo2", Path: "/bob/2.wav"}},
		},
		Outputs: []upstream.Output{{
			InputSelectors: []int{0, 1, 2},
			SmartContentDescriptor: &upstream.SmartContentDescriptor{
				SingingCloning: &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: "bob_v2", TotalEpoch: 30},
			},
		}},
	}
	tests := []struct {
		file  string
		items []string
		want  map[int]upstream.CreateJobRequest // by index into items
	}{{
		file:  "valid.jsonl",
		items: []string{"s-001@valid.jsonl:1", "alice@valid.jsonl:2", "k-b74e4e923a98119d@valid.jsonl:4", "s-003@valid.jsonl:6", "bob@valid.jsonl:7"},
		want:  map[int]upstream.CreateJobRequest{0: song, 1: training, 2: textSong, 3: sourceSong, 4: mixedTraining},
	}, {
		file:  "valid.csv",
		items: []string{"s-001@valid.csv:2", "alice@valid.csv:3", "k-b74e4e923a98119d@valid.csv:5", "s-003@valid.csv:6", "s-004@valid.csv:7"},
		want:  map[int]upstream.CreateJobRequest{0: song, 1: training, 2: textSong, 3: sourceSong},
	}}
	for _, tt := range tests {
		for variant, data := range lineEndVariants(readTestManifest(t, tt.file)) {
			t.Run(tt.file+"/"+variant, func(t *testing.T) {
				t.Parallel()
				items, problems := drainReader(t, NewReader(tt.file, bytes.NewReader(data), FormatAuto), tt.file)
				assertLines(t, "problems", problems, nil)
				assertLines(t, "items", itemOrigins(items), tt.items)
				if len(items) != len(tt.items) {
					return
				}
				for i, want := range tt.want {
					assertItemRequest(t, items[i], want)
				}
				wantKinds := map[string]batch.Kind{"s-001": batch.KindSong, "alice": batch.KindTrain, "s-003": batch.KindSong, "bob": batch.KindTrain}
				for _, it := range items {
					if k, ok := wantKinds[it.ID]; ok && it.Kind != k {
						t.Errorf("item %s kind %q, want %q", it.ID, it.Kind, k)
					}
				}
				if items[1].Model != "alice_v1" || items[0].Model != "default" {
					t.Errorf("models %q, %q; want default, alice_v1", items[0].Model, items[1].Model)
				}
			})
		}
	}
}

func TestReaderCSVMultilineText(t *testing.T) {
	t.Parallel()
	for variant, data := range lineEndVariants(readTestManifest(t, "valid.csv")) {
		t.Run(variant, func(t *testing.T) {
			t.Parallel()
			items, _ := drainReader(t, NewReader("valid.csv", bytes.NewReader(data), FormatCSV), "valid.csv")
			last := items[len(items)-1]
			want := "line one\nline two, with a comma and \"quotes\""
			if got := last.Spec.Inputs[0].Text; got != want {
				t.Errorf("text %q, want %q", got, want)
			}
		})
	}
}

func TestReaderLines(t *testing.T) {
	t.Parallel()
	song := `{"kind":"song","url":"https://h/a.mp3","contentId":"r"}`
	tests := []struct {
		name     string
		format   Format
		in       string
		items    []string // origins
		problems []string
	}{
		{"empty", FormatJSONL, "", nil, nil},
		{"bom only", FormatJSONL, "\uFEFF", nil, nil},
		{"no final newline", FormatJSONL, "\n" + song, []string{"m:2"}, nil},
		{"blank lines counted", FormatJSONL, "\n \t\n\r\n" + song + "\n\n", []string{"m:4"}, nil},
		{"bom then line", FormatJSONL, "\uFEFF" + song + "\r\n", []string{"m:1"}, nil},
		{"bom not at start", FormatJSONL, "\n\uFEFF" + song, nil, []string{"m:2: line: invalid JSON: invalid character 'ï' looking for beginning of value at byte 1"}},
		{"invalid utf-8", FormatJSONL, `{"kind":"song","text":"a` + "\xff" + `"}` + "\n" + song, []string{"m:2"}, []string{"m:1: line: invalid UTF-8 at byte 25"}},
		{"null", FormatJSONL, "null", nil, []string{"m:1: line: must be a JSON object, not null"}},
		{"binary file", FormatJSONL, song + "\n\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\n" + song + "\n", []string{"m:1"}, []string{
			"m:2: line: invalid UTF-8 at byte 1",
			`m:3: line: invalid JSON: invalid character '\x1a' looking for beginning of value at byte 1`,
			"m:4: line: binary data (a NUL byte at byte 1): not a JSON Lines manifest; the rest of the file is skipped",
		}},
		{"csv binary file", FormatCSV, "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", nil, []string{"m:1: header: column 1: invalid UTF-8"}},
		{"too long", FormatJSONL, `{"text":"` + strings.Repeat("a", MaxLineBytes) + "\"}\n" + song, []string{"m:2"}, []string{"m:1: line: longer than 1048576 bytes"}},
		{"csv too long", FormatCSV, "kind,url,content_id\nsong,https://h/" + strings.Repeat("a", MaxLineBytes) + ",r\r\nsong,https://h/a.mp3,r\n",
			[]string{"m:3"}, []string{"m:2: line: longer than 1048576 bytes"}},
		{"csv header too long", FormatCSV, "kind," + strings.Repeat("a", MaxLineBytes) + "\nsong\n", nil, []string{"m:1: line: longer than 1048576 bytes"}},
		// A quoted cell may hold line breaks, but a record is bounded as a line is: a quote
		// left open must not take the rest of the file into memory.
		{"csv quote not closed", FormatCSV, "kind,text,content_id\nsong,x,r\nsong,\"abc\n" + strings.Repeat(strings.Repeat("a", 1000)+"\n", 1100) + "song,x,r\n",
			[]string{"m:2"}, []string{"m:3: line: longer than 1048576 bytes: a quoted cell runs on to line 1051 (a quote not closed?); the rest of the file is skipped"}},
		{"csv quoted cell of many lines under the bound", FormatCSV, "kind,text,content_id\nsong,\"" + strings.Repeat(strings.Repeat("a", 1000)+"\n", 1000) + "\",r\nsong,x,r\n",
			[]string{"m:1003"}, []string{"m:2: text: at most 512 characters (has 1000999)"}},
		{"type error in array", FormatJSONL, `{"kind":"train","model":"m","inputs":[{"url":1}]}`, nil, []string{"m:1: inputs.url: must be a string, not number"}},
		{"case-insensitive keys", FormatJSONL, `{"Kind":"song","URL":"https://h/a.mp3","ContentId":"r"}`, []string{"m:1"}, nil},
		{"odd unknown keys", FormatJSONL, `{"":1,"a b":2,"kind":"song"}`, nil, []string{`m:1: "": unknown field`, `m:1: "a b": unknown field`}},
		{"training inputs mapped back", FormatJSONL, `{"kind":"train","model":"m","urls":["https://h/a.wav"],"inputs":[{"text":"` + strings.Repeat("é", 513) + `"},{"source":{"contentId":"r"}},{"source":{"path":"/p"}}]}`, nil, []string{
			"m:1: inputs[0].text: at most 512 characters (has 513)",
			"m:1: inputs[1].source.path: required",
			"m:1: inputs[2].source.contentId: required",
		}},
		{"epochs zero", FormatJSONL, `{"kind":"train","model":"m","urls":["https://h/a.wav"],"epochs":0}`, nil, []string{"m:1: epochs: must be between 1 and 50, not 0"}},
		{"url with space", FormatJSONL, `{"kind":"song","url":"https://h/a b.mp3","contentId":"r"}`, nil, []string{`m:1: url: must be an absolute http(s) URL, not "https://h/a b.mp3"`}},
		{"long id", FormatJSONL, `{"id":"` + strings.Repeat("x", 65) + `","kind":"song","url":"https://h/a.mp3","contentId":"r"}`, nil, []string{"m:1: id: must be at most 64 characters (has 65)"}},
		{"csv header only", FormatCSV, "kind,url\n", nil, nil},
		{"csv blank lines counted", FormatCSV, "\n\nkind,url,content_id\n\n,,\nsong,https://h/a.mp3,r\n", []string{"m:6"}, nil},
		{"csv missing kind column", FormatCSV, "url\nhttps://h/a.mp3\n", nil, []string{`m:1: header: missing column "kind"`}},
		{"csv case-insensitive header", FormatCSV, "Kind, URL ,Content_ID\nsong,https://h/a.mp3,r\n", []string{"m:2"}, nil},
		{"csv invalid utf-8 cell", FormatCSV, "kind,text,content_id\nsong,a\xffb,r\nsong,ok,r\n", []string{"m:3"}, []string{"m:2: text: invalid UTF-8"}},
		{"csv unterminated quote", FormatCSV, "kind,text,content_id\nsong,\"abc,r\nsong,x,r\n", nil, []string{`m:2: line: invalid CSV: extraneous or missing " in quoted-field at line 3, column 10`}},
		{"csv source path only", FormatCSV, "kind,source_path,url,content_id\nsong,/a.wav,https://h/a.mp3,r\n", nil, []string{"m:2: source_path: only one of url, text or source_content_id and source_path may be given"}},
		{"csv source on train", FormatCSV, "kind,model,urls,source_path\ntrain,m,https://h/a.wav,/a.wav\n", nil, []string{`m:2: source_path: only for kind "song"`}},
		{"csv song without input", FormatCSV, "kind,content_id\nsong,r\n", nil, []string{"m:2: url: a song needs one input: url, text or source_content_id and source_path"}},
		{"csv urls separated by any white space", FormatCSV, "kind,model,urls\ntrain,m,\"https://h/1.wav\thttps://h/2.wav\r\n https://h/3.wav\"\n", []string{"m:2"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, problems := drainReader(t, NewReader("m", strings.NewReader(tt.in), tt.format), "m")
			var got []string
			for _, it := range items {
				got = append(got, it.Origin)
			}
			assertLines(t, "items", got, tt.items)
			assertLines(t, "problems", problems, tt.problems)
		})
	}
}

func TestReaderCSVURLsSplitOnWhiteSpace(t *testing.T) {
	t.Parallel()
	in := "kind,model,urls\ntrain,m,\"https://h/1.wav\thttps://h/2.wav\r\n https://h/3.wav\"\n"
	items, _ := drainReader(t, NewReader("m.csv", strings.NewReader(in), FormatAuto), "m.csv")
	if len(items) != 1 {
		t.Fatalf("got %d items", len(items))
	}
	var urls []string
	for _, in := range items[0].Spec.Inputs {
		urls = append(urls, in.URL)
	}
	assertLines(t, "urls", urls, []string{"https://h/1.wav", "https://h/2.wav", "https://h/3.wav"})
	if got := items[0].Spec.Request(items[0].Kind, items[0].Model).Outputs[0].InputSelectors; !slices.Equal(got, []int{0, 1, 2}) {
		t.Errorf("inputSelectors %v", got)
	}
}

func TestReaderReadFailureIsFatalAndSticky(t *testing.T) {
	t.Parallel()
	boom := errors.New("disk on fire")
	song := `{"kind":"song","url":"https://h/a.mp3","contentId":"r"}` + "\n"
	for _, format := range []Format{FormatJSONL, FormatCSV} {
		t.Run(format.String(), func(t *testing.T) {
			t.Parallel()
			in := song
			if format == FormatCSV {
				in = "kind,url,content_id\nsong,https://h/a.mp3,r\n"
			}
			r := NewReader("m", io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom)), format)
			if _, err := r.Next(); err != nil {
				t.Fatalf("first Next: %v", err)
			}
			for range 2 {
				_, err := r.Next()
				var le *batch.LineError
				if !errors.Is(err, boom) || errors.As(err, &le) || errors.Is(err, io.EOF) {
					t.Fatalf("Next after read failure: %v, want the read failure", err)
				}
				if !strings.Contains(err.Error(), "read manifest m") {
					t.Errorf("error %q lacks context", err)
				}
			}
		})
	}
}

func TestReaderFormat(t *testing.T) {
	t.Parallel()
	_, err := NewReader("notes.txt", strings.NewReader("{}"), FormatAuto).Next()
	if !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Next on .txt: %v, want ErrUnknownFormat", err)
	}
	// An explicit format wins over the name.
	items, _ := drainReader(t, NewReader("notes.txt", strings.NewReader(`{"kind":"song","url":"https://h/a","contentId":"r"}`), FormatJSONL), "notes.txt")
	if len(items) != 1 {
		t.Errorf("explicit format: %d items, want 1", len(items))
	}
	for name, want := range map[string]Format{"a.jsonl": FormatJSONL, "A.NDJSON": FormatJSONL, "x/a.json": FormatJSONL, "a.csv": FormatCSV} {
		if got, err := FormatOf(name); got != want || err != nil {
			t.Errorf("FormatOf(%q) = %v, %v; want %v", name, got, err, want)
		}
	}
	for s, want := range map[string]Format{"": FormatAuto, "auto": FormatAuto, "JSONL": FormatJSONL, "ndjson": FormatJSONL, "csv": FormatCSV} {
		if got, err := ParseFormat(s); got != want || err != nil {
			t.Errorf("ParseFormat(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseFormat("xml"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("ParseFormat(xml): %v", err)
	}
}

// collect drains ReadManifests into item origins, problem strings and the final error.
func collectManifests(seq func(func(batch.Item, error) bool)) (items, problems []string, fatal error) {
	for item, err := range seq {
		var le *batch.LineError
		switch {
		case errors.As(err, &le):
			problems = append(problems, le.Error())
		case err != nil:
			fatal = err
		default:
			items = append(items, item.ID+"@"+item.Origin)
		}
	}
	return items, problems, fatal
}

func TestReadManifestsDuplicatesAcrossFiles(t *testing.T) {
	t.Parallel()
	jsonl := filepath.Join(manifestDir, "valid.jsonl")
	csvName := filepath.Join(manifestDir, "valid.csv")
	items, problems, err := collectManifests(Read([]string{jsonl, csvName}, nil, FormatAuto))
	if err != nil {
		t.Fatal(err)
	}
	assertLines(t, "items", items, []string{
		"s-001@" + jsonl + ":1", "alice@" + jsonl + ":2", "k-b74e4e923a98119d@" + jsonl + ":4", "s-003@" + jsonl + ":6", "bob@" + jsonl + ":7",
		"s-004@" + csvName + ":7",
	})
	assertLines(t, "problems", problems, []string{
		csvName + `:2: id: duplicate id "s-001" in this batch`,
		csvName + `:3: id: duplicate id "alice" in this batch`,
		csvName + `:3: model: training model "alice_v1" already trained by an earlier line of this batch`,
		csvName + `:5: line: same item as an earlier line (derived id "k-b74e4e923a98119d")`,
		csvName + `:6: id: duplicate id "s-003" in this batch`,
	})
}

func TestReadManifestsStdin(t *testing.T) {
	t.Parallel()
	stdin := strings.NewReader("kind,url,content_id\nsong,https://h/a.mp3,r\nsong,,r\n")
	items, problems, err := collectManifests(Read([]string{"-"}, stdin, FormatCSV))
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 || !strings.HasSuffix(items[0], "@stdin:2") {
		t.Errorf("items %v, want one from stdin:2", items)
	}
	assertLines(t, "problems", problems, []string{"stdin:3: url: a song needs one input: url, text or source_content_id and source_path"})
}

func TestReadManifestsRejectsBadNamesBeforeReading(t *testing.T) {
	t.Parallel()
	valid := filepath.Join(manifestDir, "valid.jsonl")
	tests := []struct {
		name   string
		names  []string
		stdin  io.Reader
		format Format
		is     error
	}{
		{"unknown extension", []string{valid, "notes.txt"}, nil, FormatAuto, ErrUnknownFormat},
		{"stdin twice", []string{"-", "-"}, strings.NewReader(""), FormatJSONL, nil},
		{"no stdin", []string{"-"}, nil, FormatJSONL, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			items, problems, err := collectManifests(Read(tt.names, tt.stdin, tt.format))
			if err == nil || len(items) != 0 || len(problems) != 0 {
				t.Fatalf("got items %v, problems %v, err %v; want only an error", items, problems, err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err %v, want %v", err, tt.is)
			}
		})
	}
}

func TestReadManifestsMissingFileEndsSequence(t *testing.T) {
	t.Parallel()
	valid := filepath.Join(manifestDir, "valid.jsonl")
	missing := filepath.Join(t.TempDir(), "missing.jsonl")
	items, _, err := collectManifests(Read([]string{valid, missing, valid}, nil, FormatAuto))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err %v, want not-exist", err)
	}
	if len(items) != 5 {
		t.Errorf("%d items before the error, want the 5 of %s", len(items), valid)
	}
}

func TestReadManifestsStopsWhenAsked(t *testing.T) {
	t.Parallel()
	n := 0
	for range Read([]string{filepath.Join(manifestDir, "mixed-errors.jsonl")}, nil, FormatAuto) {
		n++
		if n == 3 {
			break // must not panic: the sequence honours yield's false
		}
	}
	if n != 3 {
		t.Errorf("n = %d", n)
	}
}

func TestLineErrorFormat(t *testing.T) {
	t.Parallel()
	e := &batch.LineError{File: "songs.jsonl", Line: 7, Field: "outputPrefix", Reason: "must be shorter than 20 characters (has 23)"}
	if got, want := e.Error(), "songs.jsonl:7: outputPrefix: must be shorter than 20 characters (has 23)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestReadManifestsWithoutDuplicateCheck(t *testing.T) {
	t.Parallel()
	jsonl := filepath.Join(manifestDir, "valid.jsonl")
	csvName := filepath.Join(manifestDir, "valid.csv")
	var derived []string
	seq := func(yield func(batch.Item, error) bool) {
		for it, err := range Read([]string{jsonl, csvName}, nil, FormatAuto, WithoutDuplicateCheck()) {
			if err == nil && it.DerivedID {
				derived = append(derived, it.Origin)
			}
			if !yield(it, err) {
				return
			}
		}
	}
	items, problems, err := collectManifests(seq)
	if err != nil {
		t.Fatal(err)
	}
	// Duplicate ids, explicit or derived, are yielded for the caller to find.
	assertLines(t, "items", items, []string{
		"s-001@" + jsonl + ":1", "alice@" + jsonl + ":2", "k-b74e4e923a98119d@" + jsonl + ":4", "s-003@" + jsonl + ":6", "bob@" + jsonl + ":7",
		"s-001@" + csvName + ":2", "k-b74e4e923a98119d@" + csvName + ":5", "s-003@" + csvName + ":6", "s-004@" + csvName + ":7",
	})
	assertLines(t, "derived", derived, []string{jsonl + ":4", csvName + ":5"})
	// A training's model name is still checked: the line is rejected.
	assertLines(t, "problems", problems, []string{
		csvName + `:3: model: training model "alice_v1" already trained by an earlier line of this batch`,
	})
}

func TestSniffFormat(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Format{
		`{"id":"a"}`:                 FormatJSONL,
		"\n\n  \t{\"id\":\"a\"}":     FormatJSONL,
		"\xef\xbb\xbf{\"id\":\"a\"}": FormatJSONL,
		"id,kind\na,song\n":          FormatCSV,
		"\xef\xbb\xbfid,kind\n":      FormatCSV,
		"\n\"id\",kind\n":            FormatCSV,
		"":                           FormatJSONL,
		"   \n":                      FormatJSONL,
	} {
		br := bufio.NewReader(strings.NewReader(in))
		if got := sniffFormat(br); got != want {
			t.Errorf("sniffFormat(%q) = %v, want %v", in, got, want)
		}
		// Nothing was consumed.
		if rest, _ := io.ReadAll(br); string(rest) != in {
			t.Errorf("sniffFormat(%q) consumed input: %q left", in, rest)
		}
	}
}

// endlessLine yields n bytes of one JSONL line without holding them: a 10 MB line is
// never in memory at once. With width, it yields lines of width bytes (LF included).
type endlessLine struct{ left, width, done int }

func (r *endlessLine) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := min(len(p), r.left)
	for i := range n {
		p[i] = 'a'
		if r.done++; r.width > 0 && r.done%r.width == 0 {
			p[i] = '\n'
		}
	}
	if r.left == n { // the line's end, then a valid line after it
		p[n-1] = '\n'
	}
	r.left -= n
	return n, nil
}

// A 10 MB line is reported as too long and skipped, in bounded memory: what reading it
// allocates does not grow with the line (a 40 MB line costs the same), stays well under
// the 10 MB it would take to hold it, and the lines after it are read. In JSONL and CSV.
func TestTenMegabyteLineInBoundedMemory(t *testing.T) {
	for _, tc := range []struct {
		name, head, song string
		format           Format
	}{
		{"big.jsonl", "", `{"kind":"song","url":"https://h/a.mp3","contentId":"r"}` + "\n", FormatJSONL},
		{"big.csv", "kind,url,content_id\n", "song,https://h/a.mp3,r\n", FormatCSV},
	} {
		line := 1 + strings.Count(tc.head, "\n")
		read := func(size int) uint64 {
			t.Helper()
			in := io.MultiReader(strings.NewReader(tc.head), &endlessLine{left: size}, strings.NewReader(tc.song))
			var items []batch.Item
			var problems []string
			allocated := allocatedBy(func() { items, problems = drainReader(t, NewReader(tc.name, in, tc.format), tc.name) })
			assertLines(t, "problems", problems, []string{fmt.Sprintf("%s:%d: line: longer than 1048576 bytes", tc.name, line)})
			if len(items) != 1 || items[0].Origin != fmt.Sprintf("%s:%d", tc.name, line+1) {
				t.Errorf("%s: items after the long line: %v", tc.name, itemOrigins(items))
			}
			return allocated
		}
		ten, forty := read(10<<20), read(40<<20)
		t.Logf("%s: allocated %d bytes for a 10 MB line, %d for a 40 MB one", tc.name, ten, forty)
		if ten > 6*MaxLineBytes || forty > ten+MaxLineBytes {
			t.Errorf("%s: allocations grow with the line: %d bytes for 10 MB, %d for 40 MB", tc.name, ten, forty)
		}
	}
}

// allocatedBy returns the bytes f allocates.
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A CSV quote never closed, in front of 10 MB of short lines, is reported at its line in
// bounded memory, like a 10 MB line: encoding/csv alone would hold all the lines after
// it as one cell (63 MB allocated for 10 MB, 294 MB for 40 MB).
func TestUnclosedCSVQuoteInBoundedMemory(t *testing.T) {
	read := func(size int) uint64 {
		t.Helper()
		in := io.MultiReader(strings.NewReader("kind,text,content_id\nsong,x,r\nsong,\"abc\n"),
			&endlessLine{left: size, width: 100}, strings.NewReader("song,x,r\n"))
		var items []batch.Item
		var problems []string
		allocated := allocatedBy(func() { items, problems = drainReader(t, NewReader("q.csv", in, FormatCSV), "q.csv") })
		// Line 3 (10 bytes) and 10,485 lines of 100 bytes fit in 1 MiB; line 10,489 does not.
		assertLines(t, "problems", problems, []string{"q.csv:3: line: longer than 1048576 bytes: a quoted cell runs on to line 10489 (a quote not closed?); the rest of the file is skipped"})
		assertLines(t, "items", itemOrigins(items), []string{"k-" + items[0].ID[2:] + "@q.csv:2"})
		return allocated
	}
	ten, forty := read(10<<20), read(40<<20)
	t.Logf("allocated %d bytes for a quote left open before 10 MB of lines, %d before 40 MB", ten, forty)
	// About 6.4 MB: encoding/csv grows its record to 1 MiB a quarter at a time (about
	// 5 MiB of copies), then makes a string of it.
	if ten > 8*MaxLineBytes || forty > ten+MaxLineBytes {
		t.Errorf("allocations grow with the lines: %d bytes for 10 MB, %d for 40 MB", ten, forty)
	}
}
