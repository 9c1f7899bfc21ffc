package tasks

import (
	"maps"
	"testing"
)

func TestParseQueues(t *testing.T) {
	t.Parallel()
	got, err := ParseQueues(" poll=5, train=1,songs=2 ")
	if err != nil || !maps.Equal(got, map[string]int{QueuePoll: 5, QueueTrain: 1, QueueSongs: 2}) {
		t.Errorf("ParseQueues = %v, %v", got, err)
	}
	if got, err := ParseQueues(""); err != nil || !maps.Equal(got, QueuePriorities()) {
		t.Errorf("empty = %v, %v; want the defaults", got, err)
	}
	if got, err := ParseQueues("poll=1"); err != nil || len(got) != 1 {
		t.Errorf("a dedicated poller: %v, %v", got, err)
	}
	for _, bad := range []string{"poll", "poll=x", "poll=0", "song=2", "poll=1,poll=2", "=3", ","} {
		if _, err := ParseQueues(bad); err == nil {
			t.Errorf("ParseQueues(%q) accepted", bad)
		}
	}
}
