package tasks

import (
	"context"
	"fmt"
	"iter"
	"strconv"
	"strings"

	"github.com/singbatch/singbatch/batch"
	"github.com/singbatch/singbatch/upstream"
)

// ServiceModels are the model names the service lists (ListModels). A training of one
// of them would only be refused by the service, after its item was queued; enqueue and
// its dry run reject such lines up front.
type ServiceModels map[string]bool

// NewServiceModels indexes the service's models.
func NewServiceModels(ms []upstream.Model) ServiceModels {
	s := make(ServiceModels, len(ms))
	for _, m := range ms {
		s[m.Name] = true
	}
	return s
}

// OwnModels are the names of the models singbatch trains or trained itself (a model
// record naming its training item). The service lists them once trained; enqueueing
// the same manifest again must find their trainings in the batch, not reject them as
// names the service already has. A training of such a name by another item is refused
// by the store's own check (ModelTakenError).
func OwnModels(ctx context.Context, store *batch.Store) (map[string]bool, error) {
	return trainedModels(ctx, store, func(m batch.ModelRecord) bool { return m.Item != "" })
}

// ModelsTrainedBy are the names of the models the batch's own items train or trained.
// A dry run drops these from the service's list: the real enqueue finds such a
// training in the batch, while another batch's training of the name is refused.
func ModelsTrainedBy(ctx context.Context, store *batch.Store, batchName string) (map[string]bool, error) {
	return trainedModels(ctx, store, func(m batch.ModelRecord) bool { return m.Item != "" && m.Batch == batchName })
}

func trainedModels(ctx context.Context, store *batch.Store, keep func(batch.ModelRecord) bool) (map[string]bool, error) {
	ms, err := store.Models(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]bool, len(ms))
	for _, m := range ms {
		if keep(m) {
			names[m.Name] = true
		}
	}
	return names, nil
}

// Without is s less the names in drop.
func (s ServiceModels) Without(drop map[string]bool) ServiceModels {
	if len(drop) == 0 {
		return s
	}
	out := make(ServiceModels, len(s))
	for name := range s {
		if !drop[name] {
			out[name] = true
		}
	}
	return out
}

// withoutTaken passes seq on, turning each training of a name the service has (or of
// the built-in model, when builtIn) into a line error of its model field.
func withoutTaken(seq iter.Seq2[batch.Item, error], service ServiceModels, builtIn bool) iter.Seq2[batch.Item, error] {
	if len(service) == 0 && !builtIn {
		return seq
	}
	return func(yield func(batch.Item, error) bool) {
		for it, err := range seq {
			if err == nil && it.Kind == batch.KindTrain {
				reason := ""
				switch {
				case builtIn && it.Model == upstream.DefaultModel:
					reason = fmt.Sprintf("%q is the service's built-in model; a training needs a name of its own", it.Model)
				case service[it.Model]:
					reason = fmt.Sprintf("%q already exists at the service (ListModels); a model name can be trained once", it.Model)
				}
				if reason != "" {
					file, line := splitOrigin(it.Origin)
					err = &batch.LineError{File: file, Line: line, Field: "model", Reason: reason}
				}
			}
			if !yield(it, err) {
				return
			}
		}
	}
}

// splitOrigin splits an item's origin "FILE:LINE".
func splitOrigin(origin string) (string, int) {
	i := strings.LastIndexByte(origin, ':')
	if i < 0 {
		return origin, 0
	}
	n, _ := strconv.Atoi(origin[i+1:])
	return origin[:i], n
}
