package tasks

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/hibiken/asynq"
)

// Args is a task's payload. Kind is its Asynq task type, so that a payload and the type
// it travels under cannot drift apart (river's JobArgs).
type Args interface{ Kind() string }

// Handler works the tasks of one kind, given their decoded payload (river's Worker[T];
// here Worker is the server that runs them).
type Handler[T Args] interface {
	Work(ctx context.Context, args T) error
}

// WorkFunc is a function that is a Handler.
type WorkFunc[T Args] func(ctx context.Context, args T) error

// Work calls f.
func (f WorkFunc[T]) Work(ctx context.Context, args T) error { return f(ctx, args) }

// register routes T's kind to w, which sees the payload decoded into a T.
func register[T Args](mux *asynq.ServeMux, w Handler[T]) {
	var zero T
	mux.HandleFunc(zero.Kind(), func(ctx context.Context, t *asynq.Task) error {
		var args T
		if err := decodePayload(t, &args); err != nil {
			return err
		}
		return w.Work(ctx, args)
	})
}

// newTask builds the task that carries args.
func newTask[T Args](args T, opts ...asynq.Option) (*asynq.Task, error) {
	b, err := json.Marshal(args)
	if err != nil {
		return nil, fmt.Errorf("encode %s payload: %w", args.Kind(), err)
	}
	return asynq.NewTask(args.Kind(), b, opts...), nil
}
