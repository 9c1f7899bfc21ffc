// Package tasks holds the Asynq task types of singbatch, their payloads and
// constructors, the handlers that drive items through the service (each a Handler of its
// payload type), the retry policy, enqueueing, planning and retry operations. The
// account-wide limiter is tasks/limiter.
package tasks

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hibiken/asynq"

	"github.com/singbatch/singbatch/batch"
)

// Task types.
const (
	// TypeSubmit creates an item's upstream job (after reconciling by customId).
	TypeSubmit = "singbatch:submit"
	// TypePoll checks a submitted job and records its outcome when it ends.
	TypePoll = "singbatch:poll"
)

// Queues. Trainings and songs are separate so a long song catalogue cannot starve the
// trainings that other songs wait for; polls have their own so results are never stuck
// behind submissions.
const (
	QueueTrain = "train"
	QueueSongs = "songs"
	QueuePoll  = "poll"
	// Batches of priority high and low (enqueue --priority) have a queue each, for both
	// kinds: a high batch's items must not wait behind a normal backlog to be picked.
	QueueHigh = "high"
	QueueLow  = "low"
)

// QueuePriorities are the default weights of the worker's queues.
func QueuePriorities() map[string]int {
	return map[string]int{QueuePoll: 4, QueueHigh: 6, QueueTrain: 3, QueueSongs: 2, QueueLow: 1}
}

// ItemRef names one attempt of one item. Payloads carry only references: the request
// itself lives in the item record, and credentials live nowhere but the worker's config.
type ItemRef struct {
	Batch   string `json:"batch"`
	Item    string `json:"item"`
	Attempt int    `json:"attempt"`
}

// SubmitPayload is TypeSubmit's payload. It travels in the compact form of its
// ItemRef (ItemRef.compact), not as JSON: one is queued per item.
type SubmitPayload struct {
	ItemRef
}

// compact is the short text form of a reference: "BATCH:ITEM" for attempt 1,
// "BATCH/ATTEMPT:ITEM" for others (batch names hold no ':' and no '/'; an item id may
// hold anything). It never starts with '{', which tells it from a JSON payload.
func (r ItemRef) compact() []byte {
	b := make([]byte, 0, len(r.Batch)+len(r.Item)+4)
	b = append(b, r.Batch...)
	if r.Attempt != 1 {
		b = append(b, '/')
		b = strconv.AppendInt(b, int64(r.Attempt), 10)
	}
	b = append(b, ':')
	return append(b, r.Item...)
}

// parseCompact reads compact's form into r.
func (r *ItemRef) parseCompact(b []byte) error {
	s := string(b)
	head, item, ok := strings.Cut(s, ":")
	if !ok || head == "" || item == "" {
		return fmt.Errorf("bad reference %q", s)
	}
	batchName, attempt, hasAttempt := strings.Cut(head, "/")
	n := 1
	if hasAttempt {
		var err error
		if n, err = strconv.Atoi(attempt); err != nil || n < 1 {
			return fmt.Errorf("bad reference %q: attempt %q", s, attempt)
		}
	}
	*r = ItemRef{Batch: batchName, Item: item, Attempt: n}
	return nil
}

// SubmitRef reads a TypeSubmit task's payload (either form) into its reference.
func SubmitRef(payload []byte) (ItemRef, error) {
	var p SubmitPayload
	err := decodePayload(asynq.NewTask(TypeSubmit, payload), &p)
	return p.ItemRef, err
}

// refPtr lets decodePayload read a compact reference into any payload embedding an
// ItemRef.
func (r *ItemRef) refPtr() *ItemRef { return r }

// Kind is TypeSubmit.
func (SubmitPayload) Kind() string { return TypeSubmit }

// PollPayload is TypePoll's payload.
type PollPayload struct {
	ItemRef
	JobID string `json:"jobId"`
	Poll  int    `json:"poll"` // the attempt's poll tasks are numbered from 1
	// Class is the job's class (ClassOf), so that the polls of a class can be found in
	// the schedule and brought forward when its estimate drops.
	Class string `json:"class,omitempty"`
	// What the earlier polls learned: GetJob calls made, the latest (Unix ms), and
	// startedAt − createdAt at the service (ms; 0 unknown).
	Calls   int   `json:"calls,omitempty"`
	Last    int64 `json:"last,omitempty"`
	Started int64 `json:"started,omitempty"`
}

// Kind is TypePoll.
func (PollPayload) Kind() string { return TypePoll }

// state is what the payload knows of its job.
func (p PollPayload) state(rec batch.ItemRecord) pollState {
	s := pollState{submitted: submittedAt(rec), calls: p.Calls, started: time.Duration(p.Started) * time.Millisecond}
	if p.Last > 0 {
		s.last = time.UnixMilli(p.Last)
	}
	return s
}

// setState records what the polls learned for the next one.
func (p *PollPayload) setState(class string, s pollState) {
	p.Class, p.Calls, p.Started = class, s.calls, s.started.Milliseconds()
	if !s.last.IsZero() {
		p.Last = s.last.UnixMilli()
	}
}

// QueueFor returns the queue an item's submission goes to, by its batch's priority
// and its kind.
func QueueFor(kind batch.Kind, prio batch.Priority) string {
	switch prio {
	case batch.PriorityHigh:
		return QueueHigh
	case batch.PriorityLow:
		return QueueLow
	}
	if kind == batch.KindTrain {
		return QueueTrain
	}
	return QueueSongs
}

// SubmitTaskID is deterministic per (batch, item, attempt), so enqueueing twice while
// the first is still queued is refused by Asynq (ErrTaskIDConflict). It is 12 characters
// of a hash (72 bits) rather than the readable reference, which the payload carries
// already: with a short payload, the task's message fits the 64 bytes under which
// Redis keeps asynq's task hash as a listpack (hash-max-listpack-value), about 250
// bytes less per queued item than a hash table (docs/redis-memory.md). Two live tasks
// of one queue share an id with odds of n²/2⁷³ (1e-8 for ten million).
func SubmitTaskID(ref ItemRef) string {
	h := sha256.New()
	h.Write([]byte("submit\x00" + ref.Batch + "\x00" + ref.Item + "\x00" + strconv.Itoa(ref.Attempt)))
	var sum [sha256.Size]byte
	return base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0])[:9])
}

// PollTaskID is deterministic per poll of an attempt.
func PollTaskID(p PollPayload) string {
	return "poll:" + p.Batch + ":" + p.Item + ":" + strconv.Itoa(p.Attempt) + ":" + strconv.Itoa(p.Poll)
}

// NewSubmitTask builds the task that submits one attempt of an item of a batch of
// priority prio.
func NewSubmitTask(ref ItemRef, kind batch.Kind, prio batch.Priority) (*asynq.Task, error) {
	return asynq.NewTask(TypeSubmit, ref.compact(),
		asynq.TaskID(SubmitTaskID(ref)),
		asynq.Queue(QueueFor(kind, prio)),
		asynq.MaxRetry(maxRetry),
	), nil
}

// NewPollTask builds the follow-up that polls a job after delay.
func NewPollTask(p PollPayload, delay time.Duration) (*asynq.Task, error) {
	return newTask(p,
		asynq.TaskID(PollTaskID(p)),
		asynq.Queue(QueuePoll),
		asynq.ProcessIn(delay),
		asynq.MaxRetry(maxRetry),
	)
}

// maxRetry bounds transient failures of one task (network, Redis, 5xx). Waiting for a
// model and rate limiting spend no retries.
const maxRetry = 25

// decodePayload reads a payload: JSON, or the compact reference of a submit task
// (ItemRef.compact) into a payload embedding an ItemRef. A malformed one can never
// succeed, so it skips retries.
func decodePayload(t *asynq.Task, v any) error {
	if b := t.Payload(); len(b) > 0 && b[0] != '{' {
		if r, ok := v.(interface{ refPtr() *ItemRef }); ok {
			if err := r.refPtr().parseCompact(b); err != nil {
				return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
			}
			return nil
		}
	}
	if err := json.Unmarshal(t.Payload(), v); err != nil {
		return fmt.Errorf("decode %s payload: %v: %w", t.Type(), err, asynq.SkipRetry)
	}
	return nil
}
