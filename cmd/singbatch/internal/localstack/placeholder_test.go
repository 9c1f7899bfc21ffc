package localstack

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// The placeholder is found wherever it is, also across the reader's chunk boundary.
func TestUsesPlaceholder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, at := range []int{0, 64<<10 - 3, 64<<10 - 7, 64 << 10, 200 << 10} {
		b := bytes.Repeat([]byte("x"), 256<<10)
		copy(b[at:], Placeholder)
		p := filepath.Join(dir, "m.jsonl")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if got, err := usesPlaceholder(p); err != nil || !got {
			t.Errorf("placeholder at %d: %v %v", at, got, err)
		}
	}
	p := filepath.Join(dir, "none.jsonl")
	if err := os.WriteFile(p, bytes.Repeat([]byte("{{di"), 50000), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := usesPlaceholder(p); err != nil || got {
		t.Errorf("no placeholder: %v %v", got, err)
	}
}
