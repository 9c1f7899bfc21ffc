package tasks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/batch/manifest"
)

// strictCheck is the first pass of a strict Enqueue: it reads every manifest, reports
// every invalid line and every training whose model name is already taken, and writes
// nothing. ok says whether the second pass may go on; it then reads standard input from
// the returned reader (a spooled copy), and cleanup removes that copy.
//
// Duplicate ids must be found before anything is written, so this pass uses the
// reader's in-memory id set (a map of 64-bit hashes, about 38 bytes per id: 96 MB peak RSS for a million), where
// the writing pass finds them in Redis (batch.AddRun).
func strictCheck(ctx context.Context, store *batch.Store, opts *EnqueueOptions, res *EnqueueResult) (stdin io.Reader, cleanup func(), ok bool, err error) {
	cleanup = func() {}
	stdin = opts.Stdin
	var spool *os.File
	if slices.Contains(opts.Manifests, "-") && opts.Stdin != nil {
		if spool, err = os.CreateTemp(opts.TempDir, "singbatch-stdin-*.manifest"); err != nil {
			return nil, cleanup, false, fmt.Errorf("enqueue --strict: spool standard input: %w", err)
		}
		cleanup = func() {
			_ = spool.Close()
			_ = os.Remove(spool.Name())
		}
		stdin = io.TeeReader(opts.Stdin, spool)
	}

	lastBad := ""
	for it, lineErr := range withoutTaken(manifest.Read(opts.Manifests, stdin, opts.Format), opts.ServiceModels, false) {
		if lineErr != nil {
			var le *batch.LineError
			if !errors.As(lineErr, &le) {
				return nil, cleanup, false, lineErr
			}
			if at := le.File + ":" + strconv.Itoa(le.Line); at != lastBad {
				lastBad = at
				res.Rejected++
			}
			if opts.OnLineError != nil {
				opts.OnLineError(le)
			}
			continue
		}
		if it.Kind != batch.KindTrain {
			continue
		}
		r, taken, err := modelTaken(ctx, store, opts.Batch, it)
		if err != nil {
			return nil, cleanup, false, err
		}
		if taken {
			res.Refused++
			if opts.OnRefused != nil {
				opts.OnRefused(r)
			}
		}
	}
	if res.Rejected > 0 || res.Refused > 0 {
		return nil, cleanup, false, nil
	}
	if spool != nil {
		// The copy must be whole even if the reader stopped before the end.
		if _, err := io.Copy(io.Discard, stdin); err != nil {
			return nil, cleanup, false, fmt.Errorf("enqueue --strict: read standard input: %w", err)
		}
		if _, err := spool.Seek(0, io.SeekStart); err != nil {
			return nil, cleanup, false, fmt.Errorf("enqueue --strict: re-read standard input: %w", err)
		}
		stdin = spool
	}
	return stdin, cleanup, true, nil
}

// modelTaken tells, without writing, whether Store.AddItems would refuse a training
// because its model name is held by another item: the model is training or ready, and
// the training is not already in the batch (an item already there is left alone, never
// refused).
func modelTaken(ctx context.Context, store *batch.Store, batchName string, it batch.Item) (batch.Refused, bool, error) {
	m, err := store.ModelState(ctx, it.Model)
	if err != nil {
		return batch.Refused{}, false, fmt.Errorf("enqueue --strict: %w", err)
	}
	if m.State != batch.ModelTraining && m.State != batch.ModelReady {
		return batch.Refused{}, false, nil
	}
	if m.Batch == batchName && m.Item == it.ID {
		return batch.Refused{}, false, nil // this very item trains it
	}
	if m.Batch != "" { // "default" has no holder and can never be trained
		_, err := store.Item(ctx, batchName, it.ID)
		switch {
		case err == nil:
			return batch.Refused{}, false, nil
		case !errors.Is(err, batch.ErrItemNotFound):
			return batch.Refused{}, false, fmt.Errorf("enqueue --strict: %w", err)
		}
	}
	return batch.Refused{ID: it.ID, Origin: it.Origin, Err: &batch.ModelTakenError{
		Model: m.Name, State: m.State, Batch: m.Batch, Item: m.Item}}, true, nil
}
