package limiter

import "context"

// Priority orders the submit share's waiters: a batch's priority (enqueue --priority).
// Lower values go first. The zero value is PriorityNormal, so a call that names none is
// an ordinary one.
type Priority int

// Priorities, first to last.
const (
	PriorityHigh   Priority = -1
	PriorityNormal Priority = 0
	PriorityLow    Priority = 1
)

// priorityLevels is how many priorities there are; level = Priority - PriorityHigh.
const priorityLevels = 3

func (p Priority) level() int { return min(max(int(p-PriorityHigh), 0), priorityLevels-1) }

// String is the priority's name, as enqueue --priority takes it (batch.ParsePriority).
func (p Priority) String() string {
	switch p.level() {
	case 0:
		return "high"
	case 2:
		return "low"
	}
	return "normal"
}

// StarveAfter bounds how long a lower priority waits behind higher ones: a priority
// passed over this many times in a row gets the next grant, within a process; across
// processes, a waiter that has yielded for this many of the account's intervals stops
// yielding. So every waiting priority gets at least about 1/(StarveAfter+1) of the
// submit share's grants: a low batch slows down behind a high one, and never stops.
const StarveAfter = 9

type priorityKey struct{}

// WithPriority returns a context whose calls wait at priority p in the submit share.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

// PriorityOf is the priority a context's calls wait at (PriorityNormal if none).
func PriorityOf(ctx context.Context) Priority {
	p, _ := ctx.Value(priorityKey{}).(Priority)
	return Priority(p.level()) + PriorityHigh
}
