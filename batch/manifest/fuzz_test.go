package manifest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

// FuzzReader: whatever the bytes, the reader never panics, ends, yields only items that
// pass the contract, and reports only well-formed line errors. CI runs the seed corpus
// (testdata/fuzz) with the tests, then a bounded run (.ci/run); explore with:
// go test ./batch/manifest -run '^$' -fuzz FuzzReader -fuzztime 1m
func FuzzReader(f *testing.F) {
	for _, name := range []string{"valid.jsonl", "valid.csv", "mixed-errors.jsonl", "mixed-errors.csv", "bad-header.csv"} {
		b, err := os.ReadFile(filepath.Join(manifestDir, name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, filepath.Ext(name) == ".csv")
	}
	f.Add([]byte("\uFEFF{\"kind\":\"train\",\"inputs\":[{\"source\":{\"contentId\":\"r\"}},{}],\"model\":\"m\"}\r\n"), false)
	f.Add([]byte(`{"kind":"song","inputs":[1],"source":"x","url":"http://[::1"}`), false)
	f.Add([]byte("kind,urls,text\ntrain,\"a\nb\",\xff\n\"unterminated"), true)
	f.Add([]byte("\n\n\r\n"), true)
	f.Add([]byte(`{"":""}`), false)

	f.Fuzz(func(t *testing.T, data []byte, csv bool) {
		format := FormatJSONL
		if csv {
			format = FormatCSV
		}
		r := NewReader("f", bytes.NewReader(data), format)
		// Every call consumes input or reports a problem of a consumed line; at most
		// one problem per field and a header has few columns, so this bounds a healthy run.
		limit := 64*(len(data)+1) + 64
		for range limit {
			item, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			var le *batch.LineError
			switch {
			case errors.As(err, &le):
				if le.File != "f" || le.Line < 1 || le.Field == "" || le.Reason == "" {
					t.Fatalf("malformed batch.LineError %#v", le)
				}
				if want := "f:" + strconv.Itoa(le.Line) + ": " + le.Field + ": " + le.Reason; le.Error() != want {
					t.Fatalf("Error() = %q, want %q", le.Error(), want)
				}
			case err != nil:
				t.Fatalf("fatal error reading from memory: %v", err)
			default:
				req := item.Spec.Request(item.Kind, item.Model)
				if verr := req.Validate(); verr != nil {
					t.Fatalf("item %s fails the contract: %v", item.Origin, verr)
				}
				if checkID(item.ID) != "" || item.Kind != batch.KindSong && item.Kind != batch.KindTrain {
					t.Fatalf("bad item %+v", item)
				}
			}
		}
		t.Fatalf("no io.EOF after %d calls", limit)
	})
}
