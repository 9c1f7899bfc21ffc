package tasks

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ParseQueues reads queue weights written as "poll=4,train=3,songs=2" (WORKER_QUEUES).
// Empty means QueuePriorities(). A worker may serve only some queues (a dedicated poller:
// "poll=1"), as long as some worker serves each.
func ParseQueues(s string) (map[string]int, error) {
	if strings.TrimSpace(s) == "" {
		return QueuePriorities(), nil
	}
	out := map[string]int{}
	for part := range strings.SplitSeq(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			return nil, fmt.Errorf("queues %q: %q is not NAME=WEIGHT", s, part)
		}
		w, err := strconv.Atoi(strings.TrimSpace(weight))
		if err != nil {
			return nil, fmt.Errorf("queues %q: weight of %s: %q is not an integer", s, name, weight)
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("queues %q: %s given twice", s, name)
		}
		out[name] = w
	}
	if err := checkQueues(out); err != nil {
		return nil, fmt.Errorf("queues %q: %w", s, err)
	}
	return out, nil
}

// checkQueues requires singbatch queues only, at least one, each with a positive weight.
func checkQueues(q map[string]int) error {
	known := []string{QueuePoll, QueueHigh, QueueTrain, QueueSongs, QueueLow}
	if len(q) == 0 {
		return fmt.Errorf("no queue to serve (the queues are %s)", strings.Join(known, ", "))
	}
	for name, w := range q {
		if !slices.Contains(known, name) {
			return fmt.Errorf("unknown queue %q (the queues are %s)", name, strings.Join(known, ", "))
		}
		if w < 1 {
			return fmt.Errorf("queue %s: weight %d: must be a positive integer", name, w)
		}
	}
	return nil
}
