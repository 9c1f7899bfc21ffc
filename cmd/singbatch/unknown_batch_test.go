package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

// Every command that takes --batch says plainly that there is no such batch, and
// changes nothing.
func TestUnknownBatchInEveryCommand(t *testing.T) {
	t.Parallel()
	b := newCLI(t)
	b.addSongs("real", "s1")
	before := b.keys()
	for _, args := range [][]string{
		{"status", "--batch", "nope"},
		{"status", "--batch", "nope", "--watch"},
		{"status", "--batch", "nope", "--watch", "--json"},
		{"report", "--batch", "nope"},
		{"retry", "--batch", "nope"},
		{"retry", "--batch", "nope", "--state", "pending"},
		{"pause", "--batch", "nope"},
		{"resume", "--batch", "nope"},
		{"cancel", "--batch", "nope"},
	} {
		_, _, err := b.run(t.Context(), "", args...)
		if !errors.Is(err, batch.ErrBatchNotFound) || !strings.Contains(err.Error(), "batch nope: batch not found") {
			t.Errorf("%v: %v, want an error saying batch nope is not found", args, err)
		}
	}
	assertList(t, "keys after the refused commands", b.keys(), before)
}
