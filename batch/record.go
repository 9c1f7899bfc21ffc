package batch

import (
	"fmt"
	"strconv"
	"time"
)

// Field names of an item's hash (Keys.Item). The Lua scripts spell the same names.
const (
	fieldBatch        = "batch"
	fieldID           = "id"
	fieldSeq          = "seq"
	fieldKind         = "kind"
	fieldModel        = "model"
	fieldOrigin       = "origin"
	fieldRun          = "run"
	fieldState        = "state"
	fieldAttempt      = "attempt"
	fieldCustomID     = "customId"
	fieldJobID        = "jobId"
	fieldEnqueuedAt   = "enqueuedAt"
	fieldClaimedAt    = "claimedAt"
	fieldSubmittedAt  = "submittedAt"
	fieldStartedAt    = "startedAt"
	fieldFinishedAt   = "finishedAt"
	fieldSongName     = "songName"
	fieldOutputRepo   = "outputRepository"
	fieldOutputPath   = "outputPath"
	fieldTrainedModel = "trainedModel"
	fieldError        = "error"
	fieldUpdatedAt    = "updatedAt"
	fieldCalls        = "calls"
	fieldHeld         = "held"
	// fieldSpec holds the item's spec when it is short (add_items.lua); a longer one
	// has a key of its own (Keys.ItemRequest).
	fieldSpec = "spec"
)

// ItemRecord is an item as stored: what to do (from the manifest) and how its current
// attempt went. It holds no credentials and no callback URL: those belong to one
// attempt's request and are set by tasks when it is sent.
type ItemRecord struct {
	Batch  string
	ID     string
	Seq    int64 // 1-based position in the batch, in the order manifests were read
	Kind   Kind
	Model  string // model sung with (song) or created (train)
	Origin string // "FILE:LINE"
	// Run is the token of the enqueue run that last stored or read the item (AddRun):
	// a song whose model nobody knows waits while that run is open (RunState).
	Run string
	// Spec is the item's job (see JobSpec).
	Spec JobSpec

	State    State
	Attempt  int    // starts at 1; singbatch retry (Store.NewAttempt) adds 1
	CustomID string // the current attempt's customId, once recorded
	JobID    string // the service's job id, once known

	EnqueuedAt  time.Time // when the current attempt became pending
	ClaimedAt   time.Time // when it was claimed for CreateJob (Redis's clock)
	SubmittedAt time.Time // when the service accepted the job
	StartedAt   time.Time // when the service started it (its timing.startedAt)
	FinishedAt  time.Time // when the attempt reached a final state
	UpdatedAt   time.Time // last change of the record

	// Result of a completed job: a song file in repository OutputRepository at
	// OutputPath (destination + "/" + songName), or the trained model's name.
	SongName         string
	OutputRepository string
	OutputPath       string
	TrainedModel     string
	Error            string // why the attempt failed
	// Held says why the item waits unsent, parked by its batch (see Store.Claim):
	// "paused", "batch cap" or "account cap"; "" when it is not held back.
	Held string

	Calls int64 // upstream calls spent on the item, every attempt (Store.AddCall)
}

// itemFromHash decodes an item hash and its request (Keys.ItemRequest's value, "" when
// the spec is in the hash). key names the record in errors.
func itemFromHash(key string, h map[string]string, request string) (ItemRecord, error) {
	r := ItemRecord{
		Batch:            h[fieldBatch],
		ID:               h[fieldID],
		Kind:             Kind(h[fieldKind]),
		Model:            h[fieldModel],
		Origin:           h[fieldOrigin],
		Run:              h[fieldRun],
		State:            State(h[fieldState]),
		CustomID:         h[fieldCustomID],
		JobID:            h[fieldJobID],
		SongName:         h[fieldSongName],
		OutputRepository: h[fieldOutputRepo],
		OutputPath:       h[fieldOutputPath],
		TrainedModel:     h[fieldTrainedModel],
		Error:            h[fieldError],
		Held:             h[fieldHeld],
	}
	var err error
	if r.Calls, err = parseInt(h, fieldCalls); err != nil {
		return ItemRecord{}, fmt.Errorf("item record %s: %w", key, err)
	}
	if r.Seq, err = parseInt(h, fieldSeq); err != nil {
		return ItemRecord{}, fmt.Errorf("item record %s: %w", key, err)
	}
	attempt, err := parseInt(h, fieldAttempt)
	if err != nil {
		return ItemRecord{}, fmt.Errorf("item record %s: %w", key, err)
	}
	r.Attempt = int(attempt)
	for _, t := range []struct {
		field string
		dst   *time.Time
	}{
		{fieldEnqueuedAt, &r.EnqueuedAt},
		{fieldClaimedAt, &r.ClaimedAt},
		{fieldSubmittedAt, &r.SubmittedAt},
		{fieldStartedAt, &r.StartedAt},
		{fieldFinishedAt, &r.FinishedAt},
		{fieldUpdatedAt, &r.UpdatedAt},
	} {
		ms, err := parseInt(h, t.field)
		if err != nil {
			return ItemRecord{}, fmt.Errorf("item record %s: %w", key, err)
		}
		*t.dst = UnixMillis(ms).Time()
	}
	if r.UpdatedAt.IsZero() { // not changed since it was stored
		r.UpdatedAt = r.EnqueuedAt
	}
	if request == "" {
		request = h[fieldSpec]
	}
	if request != "" {
		if r.Spec, err = decodeStoredSpec([]byte(request), r.ID); err != nil {
			return ItemRecord{}, fmt.Errorf("item record %s: %w", key, err)
		}
	}
	if r.SongName != "" { // what Update.Stored left out
		if _, ok := h[fieldOutputRepo]; !ok {
			r.OutputRepository = r.Spec.ContentID
		}
		if _, ok := h[fieldOutputPath]; !ok {
			r.OutputPath = SongPath(r.Spec.Destination, r.SongName)
		}
	}
	return r, nil
}

// parseInt reads an integer field; absent or empty is 0.
func parseInt(h map[string]string, field string) (int64, error) {
	s := h[field]
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("field %s: %q is not an integer", field, s)
	}
	return n, nil
}

// pairsToMap turns a flat HGETALL reply returned by a script into a map.
func pairsToMap(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, fmt.Errorf("unexpected script reply %T", v)
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, ok1 := list[i].(string)
		val, ok2 := list[i+1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("unexpected script reply element %T", list[i])
		}
		m[k] = val
	}
	return m, nil
}

func msString(t time.Time) string { return strconv.FormatInt(int64(UnixMillisOf(t)), 10) }
