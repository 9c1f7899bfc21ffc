package tasks

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"
)

// PollInspector is what bringing polls forward needs of Asynq; *asynq.Inspector has it.
type PollInspector interface {
	ListScheduledTasks(queue string, opts ...asynq.ListOption) ([]*asynq.TaskInfo, error)
	RunTask(queue, id string) error
}

// bringForwardPage and bringForwardMax bound one scan of the poll schedule.
const (
	bringForwardPage = 500
	bringForwardMax  = 200_000
)

// bringForward runs now every scheduled poll of a class: its estimate just appeared or
// dropped, so these polls were aimed too late (or parked, waiting for the scouts). Each
// re-aims itself on the new estimate without a call, or calls if its job is due. At
// most one process scans a class per MinInterval; polls scheduled meanwhile are aimed
// on the new estimate anyway. Best effort: a poll not brought forward still runs at
// its own time.
func (h *Handlers) bringForward(ctx context.Context, class string) {
	if h.inspector == nil {
		return
	}
	if first, err := h.store.TryOnce(ctx, "bring-forward:"+class, h.set.Poll.MinInterval); err != nil || !first {
		return
	}
	var due []string
	for page := 1; page*bringForwardPage <= bringForwardMax; page++ {
		infos, err := h.inspector.ListScheduledTasks(QueuePoll, asynq.PageSize(bringForwardPage), asynq.Page(page))
		if err != nil {
			if !errors.Is(err, asynq.ErrQueueNotFound) {
				h.log.Warn("cannot list scheduled polls to bring them forward", zap.String("class", class), zap.Error(err))
			}
			break
		}
		for _, ti := range infos {
			var p PollPayload
			if json.Unmarshal(ti.Payload, &p) == nil && p.Class == class {
				due = append(due, ti.ID)
			}
		}
		if len(infos) < bringForwardPage {
			break
		}
	}
	moved := 0
	for _, id := range due {
		if ctx.Err() != nil {
			break
		}
		// A task that ran meanwhile is not found any more: nothing to do.
		if err := h.inspector.RunTask(QueuePoll, id); err == nil {
			moved++
		}
	}
	h.log.Debug("polls brought forward", zap.String("class", class), zap.Int("polls", moved))
}
