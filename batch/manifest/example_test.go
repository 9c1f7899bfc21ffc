package manifest_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
)

// Example reads a JSONL manifest from standard input: valid lines become items, and
// every bad one is reported with its file, line and field while reading goes on.
func Example() {
	stdin := strings.NewReader(`{"id":"alice","kind":"train","model":"alice_v1","urls":["https://example.com/a1.wav"]}
{"id":"s-001","kind":"song","url":"https://example.com/song.mp3","model":"alice_v1","contentId":"repo1"}
{"id":"s-002","kind":"song","url":"ftp://example.com/song.mp3","contentId":"repo1"}
{"kind":"song","text":"la la la","contentId":"repo1","separate":true}
`)
	for item, err := range manifest.Read([]string{"-"}, stdin, manifest.FormatJSONL) {
		var le *batch.LineError
		switch {
		case errors.As(err, &le):
			fmt.Println("refused:", le)
		case err != nil:
			fmt.Println("cannot read:", err)
			return
		default:
			fmt.Printf("%s: %s %s on model %s, %d input(s)\n", item.Origin, item.Kind, item.ID, item.Model, len(item.Spec.Inputs))
		}
	}
	// Output:
	// stdin:1: train alice on model alice_v1, 1 input(s)
	// stdin:2: song s-001 on model alice_v1, 1 input(s)
	// refused: stdin:3: url: must be an absolute http(s) URL, not "ftp://example.com/song.mp3"
	// stdin:4: song k-02c4f4dd753338fd on model default, 1 input(s)
}
