package batch

// State is where an item is in its life. Transitions only move forward (see CanMove);
// a new attempt (singbatch retry) is the one way back, and it bumps the attempt number.
//
//	pending ──► waiting ──► submitting ──► submitted ──► completed
//	   │           │            │              │
//	   └───────────┴────────────┴──────────────┴───────► failed
//	   pending ──────────────► submitting
//	   pending, waiting, submitting ─────────────────────► canceled
//
//	failed ─────► pending, attempt+1     (Store.NewAttempt: singbatch retry)
//
// canceled is for items of a canceled batch (Store.Cancel) that no job was sent for:
// a job already at the service is followed to its end instead.
//
// Store.Transition makes each forward step atomically with the batch's counters and
// only for the attempt it names, so a stale or racing writer cannot move an item twice;
// Store.NewAttempt is the retry edge, from a final state only.
type State string

// Item states.
const (
	StatePending    State = "pending"    // enqueued, nothing sent yet
	StateWaiting    State = "waiting"    // its model is still being trained
	StateSubmitting State = "submitting" // attempt's customId recorded; CreateJob may be in flight
	StateSubmitted  State = "submitted"  // the service has the job; polling
	StateCompleted  State = "completed"  // final: result recorded
	StateFailed     State = "failed"     // final: error recorded
	StateCanceled   State = "canceled"   // final: its batch was canceled before a job was sent
)

// States lists every state in life-cycle order.
func States() []State {
	return []State{StatePending, StateWaiting, StateSubmitting, StateSubmitted, StateCompleted, StateFailed, StateCanceled}
}

// Final reports whether the state is one an attempt never leaves.
func (s State) Final() bool { return s == StateCompleted || s == StateFailed || s == StateCanceled }

// rank orders states; a transition must go to a higher rank.
func (s State) rank() int {
	for i, st := range States() {
		if st == s {
			return i
		}
	}
	return -1
}

// CanMove reports whether an item may go from one state to another within one attempt.
func CanMove(from, to State) bool {
	switch {
	case from.Final() || from.rank() < 0 || to.rank() < 0:
		return false
	case to == StateCanceled:
		return from == StatePending || from == StateWaiting || from == StateSubmitting
	}
	return to.rank() > from.rank()
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return s.rank() >= 0 }
