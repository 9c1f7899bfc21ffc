package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
)

// BenchmarkReadJSONL reads a generated 100,000-line manifest. Memory stays flat: besides
// the 8-byte hash of each id, what a line allocates is garbage once its item is handed
// over (see B/op against the input size).
func BenchmarkReadJSONL(b *testing.B) {
	const lines = 100_000
	var buf bytes.Buffer
	for i := range lines {
		if i%10 == 0 {
			fmt.Fprintf(&buf, `{"id":"t-%06d","kind":"train","model":"m_%06d","urls":["https://cdn.example.com/%d/1.wav","https://cdn.example.com/%d/2.wav"],"epochs":20}`+"\n", i, i, i, i)
			continue
		}
		fmt.Fprintf(&buf, `{"id":"s-%06d","kind":"song","url":"https://cdn.example.com/songs/%d.mp3","model":"default","separate":true,"contentId":"repo1","outputPrefix":"p_","timeout":900}`+"\n", i, i)
	}
	data := buf.Bytes()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	total := 0
	for b.Loop() {
		r := NewReader("bench.jsonl", bytes.NewReader(data), FormatJSONL)
		n := 0
		for {
			_, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		if n != lines {
			b.Fatalf("read %d items, want %d", n, lines)
		}
		total += n
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "items/s")
}
