// Command gen writes the bundled example of singbatch: small audio files (a training set
// of one synthetic "voice" and a few songs) and the demo manifests that use them.
//
//	go run ./examples/gen            # rewrites examples/audio/*.wav, demo.jsonl, demo.csv
//	go run ./examples/gen -out DIR   # somewhere else
//
// The output is deterministic: running it again gives byte-identical files, and a test
// checks that the committed files are what it writes.
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	out := flag.String("out", "examples", "folder to write the example into (audio/ and the manifests)")
	flag.Parse()
	if err := Write(*out); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
