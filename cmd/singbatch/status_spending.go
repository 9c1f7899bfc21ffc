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
	if done := rec.FinishedJobs(); done > 0 {
		fmt.Fprintf(b, " (%.2f per finished job)", float64(rec.Calls)/float64(done))
	}
	if rec.Priority != batch.PriorityNormal {
		fmt.Fprintf(b, "; priority %s", rec.Priority)
	}
	if rec.Parked > 0 {
		fmt.Fprintf(b, "; %d items held back: %s", rec.Parked, rec.HeldReason())
	}
	b.WriteString("\n")
}
