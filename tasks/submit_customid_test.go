package tasks

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

func TestCustomID(t *testing.T) {
	t.Parallel()
	at := time.UnixMilli(1714564800123)
	re := regexp.MustCompile(`^sb-[0-9a-f]{16}-a[0-9]+$`)
	long := strings.Repeat("x", 100)
	cases := []string{
		CustomID("b", "s1", 1, at),
		CustomID(long, long, 2147483647, at),
	}
	for _, id := range cases {
		if !re.MatchString(id) || len(id) > upstream.MaxCustomIDLen {
			t.Errorf("CustomID %q: want sb-<16 hex>-a<attempt>, under 64 characters", id)
		}
		if err := (&upstream.CreateJobRequest{CustomID: id}).Problems(); len(err) > 0 && err[0].Field == "customId" {
			t.Errorf("CustomID %q breaks the contract: %v", id, err[0])
		}
	}
	if CustomID("b", "s1", 1, at) != CustomID("b", "s1", 1, at) {
		t.Error("not deterministic")
	}
	seen := map[string]string{}
	for name, id := range map[string]string{
		"base":         CustomID("b", "s1", 1, at),
		"attempt":      CustomID("b", "s1", 2, at),
		"item":         CustomID("b", "s2", 1, at),
		"batch":        CustomID("c", "s1", 1, at),
		"enqueued":     CustomID("b", "s1", 1, at.Add(time.Millisecond)),
		"no separator": CustomID("bs", "1", 1, at),
	} {
		if other, dup := seen[id]; dup {
			t.Errorf("%s and %s share customId %s", name, other, id)
		}
		seen[id] = name
	}
}
