package tasks

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hibiken/asynq"
	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
)

// TypeNotify posts a batch's summary to its --notify URL once its last item is final.
const TypeNotify = "singbatch:notify"

// NotifyPayload is TypeNotify's payload: the batch and the end it announces (the URL
// stays sealed in the batch record).
type NotifyPayload struct {
	Batch string `json:"batch"`
	Ended int64  `json:"ended"` // Unix ms, Store.MarkEnded's
}

// Kind is TypeNotify.
func (NotifyPayload) Kind() string { return TypeNotify }

// webhookID is the notification's webhook-id: the same for every delivery attempt of
// one end of one batch, so a receiver can drop repeats.
func (p NotifyPayload) webhookID() string {
	sum := sha256.Sum256([]byte(p.Batch + "\x00" + strconv.FormatInt(p.Ended, 10)))
	return "msg_" + hex.EncodeToString(sum[:12])
}

// notifyTimeout bounds one delivery attempt.
const notifyTimeout = 10 * time.Second

// BatchSummary is the body of a batch's notification (its "data").
type BatchSummary struct {
	Batch     string           `json:"batch"`
	Total     int64            `json:"total"`
	Counts    map[string]int64 `json:"counts"`
	CreatedAt string           `json:"createdAt"`
	EndedAt   string           `json:"endedAt"`
	Jobs      int64            `json:"jobs"`          // jobs created (paid), retries included
	Calls     int64            `json:"upstreamCalls"` // upstream calls spent on its items
}

// notification is the posted JSON, shaped as Standard Webhooks suggest.
type notification struct {
	Type      string       `json:"type"`
	Timestamp string       `json:"timestamp"`
	Data      BatchSummary `json:"data"`
}

// noteFinal is called after an item of rec's batch became final (by this call or
// another): the first to see the batch's last item final enqueues its notification.
// Its errors are logged: the item's outcome is recorded, and a redelivered task or the
// next item's end looks again.
func (h *Handlers) noteFinal(ctx context.Context, rec batch.ItemRecord) {
	if rec.State.Final() {
		announceEnd(ctx, h.store, h.queue, h.log, rec.Batch)
	}
}

// announceEnd marks the batch ended if its last item is final, and when this call is
// the first to see it, queues its notification (if it has one).
func announceEnd(ctx context.Context, store *batch.Store, q TaskEnqueuer, log *zap.Logger, name string) {
	ended, first, err := store.MarkEnded(ctx, name)
	if err != nil || !first {
		if err != nil {
			log.Warn("cannot check whether the batch ended", zap.String("batch", name), zap.Error(err))
		}
		return
	}
	log.Info("batch finished", zap.String("batch", name))
	b, err := store.Batch(ctx, name)
	if err != nil || b.Notify == "" {
		return
	}
	p := NotifyPayload{Batch: name, Ended: ended.UnixMilli()}
	t, err := newTask(p, asynq.TaskID("notify:"+p.webhookID()), asynq.Queue(QueuePoll), asynq.MaxRetry(maxRetry))
	if err == nil {
		if _, err = q.EnqueueContext(ctx, t); errors.Is(err, asynq.ErrTaskIDConflict) {
			err = nil
		}
	}
	if err != nil {
		log.Error("cannot queue the batch's notification", zap.String("batch", name), zap.Error(err))
	}
}

// workNotify delivers a batch's notification: once per webhook-id, retried with the
// tasks' backoff while the receiver fails.
func (h *Handlers) workNotify(ctx context.Context, p NotifyPayload) error {
	b, err := h.store.Batch(ctx, p.Batch)
	if err != nil {
		return fmt.Errorf("notify %s: %w", p.Batch, err)
	}
	id := p.webhookID()
	switch {
	case b.Ended.UnixMilli() != p.Ended:
		return nil // reopened (retried, or items added) since: its next end is announced
	case b.Notified == id:
		return nil // delivered already (this task ran again after a crash)
	case b.Notify == "":
		return nil
	case h.notify.IsZero():
		// Retried, not dropped: a worker that has the secret may run it next. Every
		// worker must have the same NOTIFY_SECRET (docs/configuration.md).
		return fmt.Errorf("notify %s: this worker has no NOTIFY_SECRET to sign with", p.Batch)
	}
	target, err := h.notify.openURL(b.Notify)
	switch {
	case errors.Is(err, errNotifySecretDiffers):
		return fmt.Errorf("notify %s: %w", p.Batch, err) // as above
	case err != nil:
		return fmt.Errorf("notify %s: %w: %w", p.Batch, err, asynq.SkipRetry)
	}
	body, err := json.Marshal(notification{Type: "batch.finished", Timestamp: h.now().UTC().Format(time.RFC3339), Data: summaryOf(b)})
	if err != nil {
		return fmt.Errorf("notify %s: %w", p.Batch, err)
	}
	if err := h.post(ctx, target, id, body); err != nil {
		return fmt.Errorf("notify %s: %w", p.Batch, err)
	}
	h.log.Info("batch notification delivered", zap.String("batch", p.Batch), zap.String("webhookId", id))
	return h.store.MarkNotified(ctx, p.Batch, id)
}

// post sends one signed delivery. Its errors never hold the URL, which may carry the
// receiver's token.
func (h *Handlers) post(ctx context.Context, target, id string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, notifyTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return errors.New("bad notification URL")
	}
	ts := h.now()
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set("webhook-signature", h.notify.sign(id, ts, body))
	resp, err := h.notifyClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("post: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("the receiver answered %s", resp.Status)
	}
	return nil
}

func summaryOf(b batch.BatchRecord) BatchSummary {
	s := BatchSummary{Batch: b.Name, Total: b.Total, Counts: map[string]int64{},
		CreatedAt: b.Created.UTC().Format(time.RFC3339Nano), EndedAt: b.Ended.UTC().Format(time.RFC3339Nano),
		Jobs: b.Jobs, Calls: b.Calls}
	for _, st := range batch.States() {
		s.Counts[string(st)] = b.Counts[st]
	}
	return s
}
