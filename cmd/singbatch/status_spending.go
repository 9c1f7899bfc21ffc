package main

import (
	"fmt"
	"strings"

	"github.com/singbatch/singbatch/batch"
)

// writeSpending writes a batch's jobs paid, its cap, the upstream calls spent, and the
// items held back and why.
func writeSpending(b *strings.Builder, rec batch.BatchRecord) {
	fmt.Fprintf(b, "  jobs created %d", rec.Jobs)
	if rec.MaxJobs > 0 {
		fmt.Fprintf(b, " of at most %d (enqueue --max-jobs)", rec.MaxJobs)
	}
	fmt.Fprintf(b, ", upstream calls %d", rec.Calls)
	if done := rec.Finished(); done > 0 {
		fmt.Fprintf(b, " (%.2f per finished item)", float64(rec.Calls)/float64(done))
	}
	if rec.Priority != batch.PriorityNormal {
		fmt.Fprintf(b, "; priority %s", rec.Priority)
	}
	if rec.Parked > 0 {
		fmt.Fprintf(b, "; %d items held back: %s", rec.Parked, heldReason(rec))
	}
	b.WriteString("\n")
}

// heldReason says why a batch's parked items wait, and what lets them go on.
func heldReason(rec batch.BatchRecord) string {
	switch {
	case rec.Paused:
		return "batch paused (singbatch resume)"
	case rec.HeldBy == "batch":
		return "the batch's job cap is reached (enqueue --max-jobs N raises it)"
	case rec.HeldBy == "account":
		return "the account's daily job cap is reached (ACCOUNT_MAX_JOBS_PER_DAY; they go on the next UTC day)"
	}
	return "being queued again"
}
