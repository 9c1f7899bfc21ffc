package batch

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// BatchRecord is a batch: its items' number per state and the manifests read into it.
type BatchRecord struct {
	Name      string
	Created   time.Time
	Total     int64           // items in the batch; always the sum of Counts
	Counts    map[State]int64 // every state, zero included
	Manifests []ManifestRead  // by first read
	Paused    bool            // no new CreateJob until it resumes (Store.Pause)
	Canceled  bool            // nothing more is sent for it (Store.Cancel)
	MaxJobs   int64           // cap on the jobs created for it, retries included; 0: none
	Jobs      int64           // jobs created for it (claims that may have created one)
	Calls     int64           // upstream calls spent on its items (Store.AddCall)
	Parked    int64           // items held back: paused, or over a cap
	HeldBy    string          // when items are parked over a cap: "batch" or "account"
	Ended     time.Time       // when its last item became final (Store.MarkEnded); zero: not ended
	Notify    string          // sealed URL its end is announced to; "" none
	Notified  string          // webhook id of the last notification delivered
	Priority  Priority        // rank of its CreateJobs (enqueue --priority)
}

// ManifestRead is what AddItems did with one manifest file, over all its reads.
type ManifestRead struct {
	File     string
	First    time.Time // first chunk stored
	Last     time.Time // last chunk stored
	Added    int64
	Existing int64
	Refused  int64
}

// HeldReason says why the batch's parked items wait, and what lets them go on.
func (b BatchRecord) HeldReason() string {
	switch {
	case b.Paused:
		return "batch paused (singbatch resume)"
	case b.HeldBy == "batch":
		return "the batch's job cap is reached (enqueue --max-jobs N raises it)"
	case b.HeldBy == "account":
		return "the account's daily job cap is reached (ACCOUNT_MAX_JOBS_PER_DAY; they go on the next UTC day)"
	}
	return "being queued again"
}

// Done reports whether every item of the batch is in a final state.
func (b BatchRecord) Done() bool {
	return b.Finished() == b.Total
}

// FinishedJobs is how many of the jobs created for the batch have ended: those of its
// items not submitting or submitted now (a refused CreateJob created none and is not
// counted, Store.RefundJob).
func (b BatchRecord) FinishedJobs() int64 {
	return max(b.Jobs-b.Counts[StateSubmitting]-b.Counts[StateSubmitted], 0)
}

// Finished is how many of the batch's items are in a final state.
func (b BatchRecord) Finished() int64 {
	return b.Counts[StateCompleted] + b.Counts[StateFailed] + b.Counts[StateCanceled]
}

func batchFromHashes(name string, rec, counts, manifests map[string]string) (BatchRecord, error) {
	b := BatchRecord{Name: name, Counts: make(map[State]int64, len(States()))}
	created, err := parseInt(rec, "created")
	if err != nil {
		return BatchRecord{}, fmt.Errorf("batch record %s: %w", name, err)
	}
	b.Created = UnixMillis(created).Time()
	b.Paused = rec["paused"] == "1"
	b.Canceled = rec["canceled"] == "1"
	b.HeldBy = rec["heldBy"]
	b.Priority = priorityField(rec["priority"])
	b.Notify, b.Notified = rec["notify"], rec["notified"]
	if rec["endedAt"] != "" {
		ms, err := strconv.ParseInt(rec["endedAt"], 10, 64)
		if err != nil {
			return BatchRecord{}, fmt.Errorf("batch record %s: field endedAt: %q is not an integer", name, rec["endedAt"])
		}
		b.Ended = UnixMillis(ms).Time()
	}
	for field, v := range map[string]*int64{"maxJobs": &b.MaxJobs, "jobs": &b.Jobs, "calls": &b.Calls} {
		if rec[field] == "" {
			continue
		}
		if *v, err = strconv.ParseInt(rec[field], 10, 64); err != nil {
			return BatchRecord{}, fmt.Errorf("batch record %s: field %s: %q is not an integer", name, field, rec[field])
		}
	}
	if b.Total, err = parseInt(rec, "total"); err != nil {
		return BatchRecord{}, fmt.Errorf("batch record %s: %w", name, err)
	}
	for _, st := range States() {
		if b.Counts[st], err = parseInt(counts, string(st)); err != nil {
			return BatchRecord{}, fmt.Errorf("batch counts %s: %w", name, err)
		}
	}
	byFile := map[string]*ManifestRead{}
	for field, v := range manifests {
		what, file, ok := strings.Cut(field, ":")
		if !ok || what == "no" || what == "file" { // the manifests' numbers (origin.go)
			continue
		}
		m := byFile[file]
		if m == nil {
			m = &ManifestRead{File: file}
			byFile[file] = m
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return BatchRecord{}, fmt.Errorf("batch manifests %s: field %s: %q is not an integer", name, field, v)
		}
		switch what {
		case "first":
			m.First = UnixMillis(n).Time()
		case "last":
			m.Last = UnixMillis(n).Time()
		case "added":
			m.Added = n
		case "existing":
			m.Existing = n
		case "refused":
			m.Refused = n
		}
	}
	for _, m := range byFile {
		b.Manifests = append(b.Manifests, *m)
	}
	sort.Slice(b.Manifests, func(i, j int) bool {
		mi, mj := b.Manifests[i], b.Manifests[j]
		if !mi.First.Equal(mj.First) {
			return mi.First.Before(mj.First)
		}
		return mi.File < mj.File
	})
	return b, nil
}
