package main

import (
	"net"
	"net/http"
	"time"

	"github.com/singbatch/singbatch/tasks"
	"github.com/singbatch/singbatch/upstream"
	"github.com/singbatch/singbatch/upstream/sim"
)

// callbackListener is a free loopback port for a run's callbacks, the Callbacks that
// point there, and the simulator set to lose drop of them.
func (w *world) callbackListener(drop float64) (net.Listener, *tasks.Callbacks, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	cb, err := tasks.NewCallbacks("http://"+ln.Addr().String(),
		upstream.NewSecret("bench-callback-secret-0123456789abcdef"), upstream.Secret{})
	if err == nil {
		err = w.sim.SetFaults(sim.Faults{CallbackDrop: drop})
	}
	if err != nil {
		_ = ln.Close()
		return nil, nil, err
	}
	return ln, cb, nil
}

// serveCallbacks passes each POST on ln to the worker's handlers until stop.
func serveCallbacks(ln net.Listener, h *tasks.Handlers) (stop func()) {
	hs := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(h.ServeCallback)}
	served := make(chan struct{})
	go func() { _ = hs.Serve(ln); close(served) }() // ends with Close below
	return func() {
		_ = hs.Close()
		<-served
	}
}
