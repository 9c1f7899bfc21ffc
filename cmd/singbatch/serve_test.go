package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// serveUntilDone serves until the context ends, runs beforeShutdown, and reports its
// error as a shutdown error.
func TestServeUntilDone(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }),
		ReadHeaderTimeout: time.Second}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serveUntilDone(ctx, hs, ln, time.Second, func() error {
			close(before)
			return errors.New("close failed")
		})
	}()
	resp, err := http.Get("http://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Errorf("body %q", body)
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !strings.HasPrefix(err.Error(), "shutdown: close failed") {
			t.Errorf("serveUntilDone: %v, want the shutdown error", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("serveUntilDone did not return after the context ended")
	}
	select {
	case <-before:
	default:
		t.Error("beforeShutdown not called")
	}
}
