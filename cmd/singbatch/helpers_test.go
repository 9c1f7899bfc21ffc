package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testEnv is an env for dispatch whose process environment is exactly vars.
func testEnv(stdin string, stdout, stderr io.Writer, vars []string) env {
	return env{
		stdin: strings.NewReader(stdin), stdout: stdout, stderr: stderr,
		getenv: func(k string) string {
			for _, kv := range vars {
				if n, v, _ := strings.Cut(kv, "="); n == k {
					return v
				}
			}
			return ""
		},
		environ: func() []string { return vars },
	}
}
