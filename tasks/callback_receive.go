package tasks

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// MaxCallbackBody bounds a callback's body: a Job is a few KiB.
const MaxCallbackBody = 1 << 20

// callbackStoreTimeout bounds the Redis work of one callback: past it the sender is told
// 503, so that it may try again, rather than kept waiting.
const callbackStoreTimeout = 3 * time.Second

// callbackClockSkew is how far in our future a callback's completedAt may be.
const callbackClockSkew = 5 * time.Minute

// CallbackOutcome is what became of one callback; each has its HTTP status.
type CallbackOutcome string

// Callback outcomes.
const (
	CallbackRecorded    CallbackOutcome = "recorded"    // 200: the item's end is recorded
	CallbackDuplicate   CallbackOutcome = "duplicate"   // 200: already final; nothing to do
	CallbackStale       CallbackOutcome = "stale"       // 200: for an earlier attempt; nothing to do
	CallbackNotFound    CallbackOutcome = "not_found"   // 404: not a callback path, or no such item
	CallbackForbidden   CallbackOutcome = "forbidden"   // 403: the token does not match
	CallbackMalformed   CallbackOutcome = "malformed"   // 400: not a Job
	CallbackTooLarge    CallbackOutcome = "too_large"   // 413
	CallbackMismatch    CallbackOutcome = "mismatch"    // 409: not the attempt's job, or not a final one
	CallbackUnavailable CallbackOutcome = "unavailable" // 503: Redis did not answer in time
	CallbackBadMethod   CallbackOutcome = "bad_method"  // 405
)

// CallbackOutcomes lists every outcome, for metrics.
func CallbackOutcomes() []CallbackOutcome {
	return []CallbackOutcome{CallbackRecorded, CallbackDuplicate, CallbackStale, CallbackNotFound, CallbackForbidden,
		CallbackMalformed, CallbackTooLarge, CallbackMismatch, CallbackUnavailable, CallbackBadMethod}
}

func (o CallbackOutcome) status() int {
	switch o {
	case CallbackRecorded, CallbackDuplicate, CallbackStale:
		return http.StatusOK
	case CallbackNotFound:
		return http.StatusNotFound
	case CallbackForbidden:
		return http.StatusForbidden
	case CallbackMalformed:
		return http.StatusBadRequest
	case CallbackTooLarge:
		return http.StatusRequestEntityTooLarge
	case CallbackMismatch:
		return http.StatusConflict
	case CallbackBadMethod:
		return http.StatusMethodNotAllowed
	}
	return http.StatusServiceUnavailable
}

// ServeCallback receives the service's POST of a final Job to an attempt's callback URL
// (Callbacks.URL) and records it through the same forward-only transition as a poll, so
// duplicate, late and out-of-order callbacks are harmless. Anything that does not match
// the attempt on record is refused with nothing recorded; the job's poll, the backstop,
// then finds out. Without Callbacks every path is 404.
func (h *Handlers) ServeCallback(w http.ResponseWriter, r *http.Request) {
	o, err := h.receiveCallback(w, r)
	h.stats.callback(o)
	if err != nil {
		// The path's token is cut: the URL is a credential.
		h.log.Info("callback refused", zap.String("path", redactCallbackPath(r.URL.Path)),
			zap.String("outcome", string(o)), zap.Error(err))
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(o.status())
	_, _ = io.WriteString(w, string(o)+"\n")
}

func (h *Handlers) receiveCallback(w http.ResponseWriter, r *http.Request) (CallbackOutcome, error) {
	if h.callbacks == nil {
		return CallbackNotFound, errors.New("callbacks are off")
	}
	ref, err := h.callbacks.parse(r.URL.Path)
	switch {
	case errors.Is(err, errBadCallbackMAC):
		return CallbackForbidden, err
	case err != nil:
		return CallbackNotFound, err
	}
	if r.Method != http.MethodPost {
		return CallbackBadMethod, fmt.Errorf("method %s", r.Method)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxCallbackBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return CallbackTooLarge, err
		}
		return CallbackMalformed, fmt.Errorf("read body: %w", err)
	}
	job, err := decodeCallbackJob(body)
	if err != nil {
		return CallbackMalformed, err
	}
	ctx, cancel := context.WithTimeout(r.Context(), callbackStoreTimeout)
	defer cancel()
	return h.recordCallback(ctx, ref, job)
}

// decodeCallbackJob reads a Job, bare as the provider sends it, or under "job".
func decodeCallbackJob(body []byte) (*upstream.Job, error) {
	var wrapped struct {
		Job json.RawMessage `json:"job"`
	}
	if err := json.Unmarshal(body, &wrapped); err != nil {
		return nil, fmt.Errorf("callback body: %w", err)
	}
	if len(bytes.TrimSpace(wrapped.Job)) > 0 && !bytes.Equal(bytes.TrimSpace(wrapped.Job), []byte("null")) {
		body = wrapped.Job
	}
	var job upstream.Job
	if err := json.Unmarshal(body, &job); err != nil {
		return nil, fmt.Errorf("callback job: %w", err)
	}
	if job.ID == "" || job.CustomID == "" {
		return nil, errors.New("callback job: no id or customId")
	}
	return &job, nil
}

// recordCallback checks the job against the attempt on record and records its end.
func (h *Handlers) recordCallback(ctx context.Context, ref ItemRef, job *upstream.Job) (CallbackOutcome, error) {
	rec, err := h.store.Item(ctx, ref.Batch, ref.Item)
	switch {
	case errors.Is(err, batch.ErrItemNotFound):
		return CallbackNotFound, err
	case err != nil:
		return CallbackUnavailable, err
	case rec.Attempt != ref.Attempt:
		return CallbackStale, nil
	}
	if err := h.matchCallback(rec, job); err != nil {
		return CallbackMismatch, err
	}
	if rec.State.Final() {
		return CallbackDuplicate, nil
	}
	if rec.State != batch.StateSubmitting && rec.State != batch.StateSubmitted {
		return CallbackMismatch, fmt.Errorf("item is %s: it has no job yet", rec.State)
	}
	if rec.JobID == "" && isGroupID(rec.CustomID) {
		// Every member's job carries the group's customId: this one must echo the
		// item's request, and be no other member's.
		if echo(job.Inputs, job.Outputs) != requestEcho(rec) {
			return CallbackMismatch, errors.New("the job's request is not the item's")
		}
		owner, err := h.store.ClaimGroupJob(ctx, rec.CustomID, job.ID, groupMember(rec))
		if err != nil {
			return CallbackUnavailable, err
		}
		if owner != groupMember(rec) {
			return CallbackMismatch, fmt.Errorf("job %s is another member's", job.ID)
		}
	}
	class := classOf(rec)
	est, err := h.estimate(ctx, class)
	if err != nil {
		return CallbackUnavailable, err
	}
	f := finishing{class: class, est: est, before: pollState{submitted: submittedAt(rec)},
		from: []batch.State{batch.StateSubmitting, batch.StateSubmitted}, callback: true}
	if err := h.finish(ctx, rec, job, f); err != nil {
		return CallbackUnavailable, err
	}
	h.noteCallbackDelay(rec, job)
	return CallbackRecorded, nil
}

// matchCallback tells a forged or stray body from the attempt's job: same customId,
// same job id once known, a final state, times that hold together, the inputs the item
// sent, and, for a completed song, a result. What fails is left to the poll.
func (h *Handlers) matchCallback(rec batch.ItemRecord, job *upstream.Job) error {
	switch {
	case rec.CustomID == "" || job.CustomID != rec.CustomID:
		return errors.New("not the attempt's customId")
	case rec.JobID != "" && job.ID != rec.JobID:
		return fmt.Errorf("job %s is not the attempt's job %s", job.ID, rec.JobID)
	case !job.State.Final():
		return fmt.Errorf("job %s is %s, not final", job.ID, job.State)
	}
	t := job.Timing
	done := t.CompletedAt.Time()
	switch {
	case done.IsZero():
		return errors.New("a final job without completedAt")
	case !t.CreatedAt.Time().IsZero() && done.Before(t.CreatedAt.Time()):
		return errors.New("completedAt before createdAt")
	case !t.StartedAt.Time().IsZero() && done.Before(t.StartedAt.Time()):
		return errors.New("completedAt before startedAt")
	case done.After(h.now().Add(callbackClockSkew)):
		return errors.New("completedAt in the future")
	}
	if len(job.Inputs) > 0 && !reflect.DeepEqual(job.Inputs, rec.Spec.Request(rec.Kind, rec.Model).Inputs) {
		return errors.New("inputs differ from the item's")
	}
	if job.State == upstream.StateCompleted && rec.Kind == batch.KindSong {
		if res, _ := jobResult(rec, job); res == nil || res.SongName == "" {
			return errors.New("a completed song without a result")
		}
	}
	return nil
}
