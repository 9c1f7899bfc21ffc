package localstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.uber.org/zap"
)

// fileServerShutdown bounds the wait for open downloads when the run stops.
const fileServerShutdown = 5 * time.Second

// fileServer serves the folders of manifests to the simulator.
type fileServer struct {
	srv   *http.Server
	mux   *http.ServeMux
	url   string
	done  chan error
	log   *zap.Logger
	roots map[string]string // folder → URL prefix ("/f1")
	order []string          // folders, in the order they were added
}

// startFileServer listens on a free loopback port.
func startFileServer(log *zap.Logger) (*fileServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("run: file server: %w", err)
	}
	s := &fileServer{mux: http.NewServeMux(), url: "http://" + ln.Addr().String(), done: make(chan error, 1),
		log: log, roots: map[string]string{}}
	s.srv = &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: zap.NewStdLog(log)}
	go func() { s.done <- s.srv.Serve(ln) }() // owned by s: close ends it
	return s, nil
}

// serve makes a folder available and returns its base URL.
func (s *fileServer) serve(dir string) string {
	if prefix, ok := s.roots[dir]; ok {
		return s.url + prefix
	}
	prefix := "/f" + strconv.Itoa(len(s.roots)+1)
	s.roots[dir] = prefix
	s.order = append(s.order, dir)
	s.mux.Handle(prefix+"/", http.StripPrefix(prefix, filesOnly(http.FileServer(http.Dir(dir)))))
	return s.url + prefix
}

// filesOnly answers 404 for folder paths: the simulator needs files, not listings.
func filesOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "" || r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// served describes each served folder as "URL = folder".
func (s *fileServer) served() []string {
	lines := make([]string, 0, len(s.order))
	for _, dir := range s.order {
		lines = append(lines, s.url+s.roots[dir]+" = "+dir)
	}
	return lines
}

// rewrite copies each manifest that uses the placeholder into dir with the placeholder
// replaced by the URL of the manifest's folder, and returns the names to read (copies,
// or the originals when they have no placeholder) and, for each copy, the original's
// name. Line numbers are kept, so an error in a copy names the original's line.
func (s *fileServer) rewrite(files []string, dir string) ([]string, map[string]string, error) {
	names := make([]string, len(files))
	shownAs := map[string]string{}
	for i, name := range files {
		uses, err := usesPlaceholder(name)
		if err != nil {
			return nil, nil, err
		}
		if !uses {
			names[i] = name
			continue
		}
		abs, err := filepath.Abs(filepath.Dir(name))
		if err != nil {
			return nil, nil, fmt.Errorf("run: manifest %s: %w", name, err)
		}
		// One sub-folder per manifest keeps its file name (and so its format).
		sub := filepath.Join(dir, strconv.Itoa(i+1))
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return nil, nil, fmt.Errorf("run: manifest copy: %w", err)
		}
		cp := filepath.Join(sub, filepath.Base(name))
		if err := copyReplacing(name, cp, []byte(Placeholder), []byte(s.serve(abs))); err != nil {
			return nil, nil, err
		}
		names[i], shownAs[cp] = cp, name
	}
	return names, shownAs, nil
}

// close stops serving, letting open downloads finish for a few seconds.
func (s *fileServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), fileServerShutdown)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.log.Warn("file server shutdown", zap.Error(err))
		_ = s.srv.Close()
	}
	if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.log.Warn("file server", zap.Error(err))
	}
}
