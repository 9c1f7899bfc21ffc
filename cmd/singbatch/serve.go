package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// serveUntilDone serves hs on ln until ctx ends or serving fails. Then it calls
// beforeShutdown, when not nil (the simulator ends its hung requests there, so the
// server has nothing left to wait for), and shuts hs down, letting open requests finish
// within timeout. A serving error is returned before a shutdown error.
func serveUntilDone(ctx context.Context, hs *http.Server, ln net.Listener, timeout time.Duration, beforeShutdown func() error) error {
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }() // ends with Shutdown below
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-served:
	}
	var closeErr error
	if beforeShutdown != nil {
		closeErr = beforeShutdown()
	}
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	shutErr := hs.Shutdown(sctx)
	if serveErr == nil {
		serveErr = <-served
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", serveErr)
	}
	if err := errors.Join(closeErr, shutErr); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
