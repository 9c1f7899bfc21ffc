package tasks

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// Grouped customIds. The contract's ListJobs returns every job under a customId, so
// items claimed close together (one batch, one class of work) share one: a poll then
// lists the whole group and records every member's end it finds, and the members' own
// polls stand down. CreateJob stays at most once: a claim joins a group that holds no
// equal request, and reconciliation recognises the item's job among the group's by its
// echoed inputs and outputs, a job being adopted by one member only.

// maxGroupSize bounds POLL_GROUP_SIZE: a ListJobs answer holds the whole group.
const maxGroupSize = 100

// groupWindow is how long a group takes members: items claimed further apart are
// unlikely to end together.
const groupWindow = time.Minute

// groupPrefix starts every group customId; a per-attempt one starts with "sb-".
const groupPrefix = "sbg-"

// GroupCustomID is the customId of a group: "sbg-" + 16 hex digits of sha256(batch,
// class, seq, opened) + "-g" + seq, at most 4+16+2+19 characters. Unique per group, as
// CustomID is per attempt.
func GroupCustomID(batchName, class string, g batch.Group) string {
	h := sha256.New()
	for _, part := range []string{batchName, class, strconv.FormatInt(g.Seq, 10), strconv.FormatInt(g.Opened.UnixMilli(), 10)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return groupPrefix + hex.EncodeToString(h.Sum(nil)[:8]) + "-g" + strconv.FormatInt(g.Seq, 10)
}

// isGroupID tells a group customId from a per-attempt one.
func isGroupID(customID string) bool { return strings.HasPrefix(customID, groupPrefix) }

// groupMember names an attempt in a group's job map.
func groupMember(rec batch.ItemRecord) string { return rec.ID + ":" + strconv.Itoa(rec.Attempt) }

// echo is what a job says of the request that created it, in one canonical form: its
// inputs, and where each output goes. Only these, which any echo must carry and a
// service has no reason to rewrite: descriptors may come back with defaults filled in.
// Two members of one group never share one (JoinGroup's digest is of it).
func echo(inputs []upstream.Input, outputs []upstream.Output) string {
	type place struct {
		ContentID   string `json:"c,omitempty"`
		Destination string `json:"d,omitempty"`
	}
	places := make([]place, len(outputs))
	for i, o := range outputs {
		places[i] = place{o.ContentID, o.Destination}
	}
	// Structs of strings and slices always encode.
	b, _ := json.Marshal(struct {
		I []upstream.Input `json:"i"`
		O []place          `json:"o"`
	}{inputs, places})
	return string(b)
}

// requestEcho is the echo an item's job will have.
func requestEcho(rec batch.ItemRecord) string {
	req := rec.Spec.Request(rec.Kind, rec.Model)
	return echo(req.Inputs, req.Outputs)
}

// groupCustomID joins the item to its class's open group and returns the group's
// customId; with GroupSize 1, the attempt's own customId. JoinGroup keeps a group no
// bigger than the service's ListJobs shows at once.
func (h *Handlers) groupCustomID(ctx context.Context, rec batch.ItemRecord) (string, error) {
	if h.set.GroupSize == 1 {
		return CustomID(rec.Batch, rec.ID, rec.Attempt, rec.EnqueuedAt), nil
	}
	sum := sha256.Sum256([]byte(requestEcho(rec)))
	class := classOf(rec)
	g, err := h.store.JoinGroup(ctx, rec.Batch, class, hex.EncodeToString(sum[:12]), h.set.GroupSize, groupWindow)
	if err != nil {
		return "", err
	}
	return GroupCustomID(rec.Batch, class, g), nil
}

// pickGroupJob finds the item's job among those listed under its group's customId: one
// whose echo is the item's request, that no other member has adopted; it is recorded
// as this member's. ambiguous: a listed job may be the item's but cannot be told yet
// (another member's, not yet recorded as such): nothing may be created meanwhile.
func (h *Handlers) pickGroupJob(ctx context.Context, rec batch.ItemRecord, jobs []upstream.Job) (job *upstream.Job, ambiguous bool, err error) {
	want, me := requestEcho(rec), groupMember(rec)
	owners, err := h.store.GroupJobOwners(ctx, rec.CustomID)
	if err != nil {
		return nil, false, err
	}
	var mine []upstream.Job
	for _, j := range jobs {
		switch {
		case j.CustomID != rec.CustomID || j.ID == "":
		case owners[j.ID] != "" && owners[j.ID] != me:
		case echo(j.Inputs, j.Outputs) == want:
			mine = append(mine, j)
		case owners[j.ID] == "":
			ambiguous = true
		}
	}
	sort.SliceStable(mine, func(i, k int) bool {
		if mine[i].Timing.CreatedAt != mine[k].Timing.CreatedAt {
			return mine[i].Timing.CreatedAt < mine[k].Timing.CreatedAt
		}
		return mine[i].ID < mine[k].ID
	})
	for i := range mine {
		owner, err := h.store.ClaimGroupJob(ctx, rec.CustomID, mine[i].ID, me)
		if err != nil {
			return nil, false, err
		}
		if owner == me {
			if len(mine) > 1 {
				h.log.Error("several upstream jobs echo one item's request in its group: adopting the earliest",
					append(itemFields(rec), zap.Int("jobs", len(mine)), zap.String("adopted", mine[i].ID))...)
			}
			return &mine[i], false, nil
		}
	}
	return nil, ambiguous, nil
}

// recordGroupEnds records the end of every listed job of the group that is final and
// whose member still waits for it (est: the class's estimate, for learning). The
// members' records are read together, in one round trip.
func (h *Handlers) recordGroupEnds(ctx context.Context, rec batch.ItemRecord, jobs []upstream.Job, est Estimate) error {
	var owners map[string]string
	ended := map[string][]*upstream.Job{} // member id → its jobs found final
	var ids []string
	for i := range jobs {
		j := &jobs[i]
		if j.ID == rec.JobID || !j.State.Final() || j.CustomID != rec.CustomID {
			continue
		}
		if owners == nil {
			var err error
			if owners, err = h.store.GroupJobOwners(ctx, rec.CustomID); err != nil {
				return err
			}
		}
		id, _, ok := strings.Cut(owners[j.ID], ":")
		if !ok {
			continue // its member has not recorded it yet: its own poll will
		}
		if ended[id] == nil {
			ids = append(ids, id)
		}
		ended[id] = append(ended[id], j)
	}
	if len(ids) == 0 {
		return nil
	}
	members, err := h.store.ItemsByID(ctx, rec.Batch, ids)
	if err != nil {
		return fmt.Errorf("group members of %s: %w", rec.CustomID, err)
	}
	for _, m := range members {
		for _, j := range ended[m.ID] {
			if owners[j.ID] != groupMember(m) || m.State != batch.StateSubmitted || m.JobID != j.ID {
				continue
			}
			f := finishing{class: classOf(m), est: est, before: pollState{submitted: submittedAt(m)}}
			if err := h.finish(ctx, m, j, f); err != nil {
				return err
			}
		}
	}
	return nil
}

// pollGroup lists the item's group: every member's job found final is recorded, and the
// item's own job is returned. A list that fails, or is capped by the service before it,
// leaves it to GetJob; a capped list also shrinks the groups to come.
func (h *Handlers) pollGroup(ctx context.Context, rec batch.ItemRecord, est Estimate) (*upstream.Job, error) {
	jobs, total, err := h.api.ListJobsPartial(ctx, rec.CustomID)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		h.log.Debug("group list failed; asking for the job alone", append(itemFields(rec), zap.Error(err))...)
		return h.api.GetJob(ctx, rec.JobID)
	}
	if total > len(jobs) && len(jobs) > 0 {
		if err := h.store.NoteListCap(ctx, len(jobs)); err != nil {
			h.log.Warn("cannot note the service's list cap", zap.Error(err))
		}
	}
	if err := h.recordGroupEnds(ctx, rec, jobs, est); err != nil {
		return nil, err
	}
	for i := range jobs {
		if jobs[i].ID == rec.JobID {
			return &jobs[i], nil
		}
	}
	return h.api.GetJob(ctx, rec.JobID)
}
