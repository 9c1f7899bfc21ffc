package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/tasks"
)

// An enqueue that fails once it has begun to write says that what it stored stays and a
// re-run completes it; one that failed before writing (a missing file) says only what
// is wrong, since there is nothing to finish.
func TestEnqueueStoppedSaysWhatStays(t *testing.T) {
	t.Parallel()
	redisDown := errors.New("dial tcp 127.0.0.1:1: connection refused")
	missing := fmt.Errorf("manifest: %w", os.ErrNotExist)
	for _, tc := range []struct {
		name  string
		res   tasks.EnqueueResult
		err   error
		stays bool
	}{
		{"redis lost mid-run", tasks.EnqueueResult{StoppedWriting: true, Added: 500}, redisDown, true},
		{"redis lost before the first chunk", tasks.EnqueueResult{StoppedWriting: true}, redisDown, true},
		{"interrupted", tasks.EnqueueResult{}, context.Canceled, true},
		{"missing file", tasks.EnqueueResult{}, missing, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := enqueueStopped("b1", tc.res, tc.err)
			if !errors.Is(err, tc.err) {
				t.Fatalf("%v does not wrap %v", err, tc.err)
			}
			if got := strings.Contains(err.Error(), "what was stored stays, run the same command again"); got != tc.stays {
				t.Errorf("%q: says what stays = %v, want %v", err, got, tc.stays)
			}
		})
	}
}
