package redistest

import (
	"context"
	"runtime"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// RoundTrips is a go-redis hook (client.AddHook) that records a client's round trips
// to Redis: each command sent alone and each pipeline is one. Tests count them where
// a change promises fewer. A new connection's handshake (HELLO, CLIENT SETINFO) is left
// out: it is go-redis's, once per connection.
type RoundTrips struct {
	mu    sync.Mutex
	trips []RoundTrip
}

// RoundTrip is one round trip: its commands' names ("[a b]" for a pipeline), and the
// innermost function of this module that made it (asynq's own calls are named "asynq
// FUNC").
type RoundTrip struct {
	Commands string
	Caller   string
}

// modulePath marks this module's functions in a stack.
const modulePath = "github.com/singbatch/singbatch/"

func (r *RoundTrips) DialHook(next redis.DialHook) redis.DialHook { return next }

func (r *RoundTrips) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		r.record(cmd.Name())
		return next(ctx, cmd)
	}
}

func (r *RoundTrips) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		names := make([]string, len(cmds))
		for i, c := range cmds {
			names[i] = c.Name()
		}
		r.record("[" + strings.Join(names, " ") + "]")
		return next(ctx, cmds)
	}
}

func (r *RoundTrips) record(commands string) {
	who, handshake := caller()
	if handshake {
		return
	}
	trip := RoundTrip{Commands: commands, Caller: who}
	r.mu.Lock()
	r.trips = append(r.trips, trip)
	r.mu.Unlock()
}

// caller names the function that made a round trip (see RoundTrip.Caller), and tells
// whether it is a new connection's handshake.
func caller() (site string, handshake bool) {
	pcs := make([]uintptr, 48)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(4, pcs)])
	site = "?"
	for {
		f, more := frames.Next()
		short := f.Function[strings.LastIndex(f.Function, "/")+1:]
		switch {
		case strings.HasSuffix(f.Function, ".initConn"):
			return "", true
		case strings.Contains(f.Function, "hibiken/asynq") && site == "?":
			site = "asynq " + short
		case strings.HasPrefix(f.Function, modulePath) && !strings.HasPrefix(f.Function, modulePath+"internal/redistest."):
			if site == "?" {
				site = short
			}
			return site, false
		}
		if !more {
			return site, false
		}
	}
}

// Take returns the round trips recorded since the last Take, and forgets them.
func (r *RoundTrips) Take() []RoundTrip {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.trips
	r.trips = nil
	return out
}
