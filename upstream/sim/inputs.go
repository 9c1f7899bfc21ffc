package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// inputInfo is what probing found out about one input.
type inputInfo struct {
	dur  time.Duration
	text bool   // sourceData: stands for TextAudio of song, cannot train
	err  string // non-empty: the input is unusable and the job ends in ERROR
}

func failAll(n int, reason string) []inputInfo {
	infos := make([]inputInfo, n)
	for i := range infos {
		infos[i].err = reason
	}
	return infos
}

// needsFetch reports whether some selected input is a url that must be downloaded.
func (s *Server) needsFetch(req *upstream.CreateJobRequest, selected []bool) bool {
	if s.opts.SkipFetch {
		return false
	}
	for i, in := range req.Inputs {
		if selected[i] && in.URL != "" {
			return true
		}
	}
	return false
}

// fetchAndPlan runs in its own goroutine for jobs with url inputs.
func (s *Server) fetchAndPlan(j *job, selected []bool) {
	infos := s.resolveInputs(s.ctx, j.inputs, selected)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	s.planLocked(j, infos, now)
	s.advanceLocked(j, now)
}

// resolveInputs probes the selected inputs (unselected ones are left zero).
func (s *Server) resolveInputs(ctx context.Context, inputs []upstream.Input, selected []bool) []inputInfo {
	infos := make([]inputInfo, len(inputs))
	for i, in := range inputs {
		if !selected[i] {
			continue
		}
		switch {
		case in.SourceData != "":
			infos[i] = inputInfo{dur: s.opts.TextAudio, text: true}
		case s.opts.SkipFetch:
			infos[i] = inputInfo{dur: s.opts.AssumedAudio}
		case in.Source != nil:
			infos[i] = s.probeSource(in.Source)
		default:
			infos[i] = s.probeURL(ctx, in.URL)
		}
	}
	return infos
}

// probeSource reads OutputDir/<contentId>/<path>.
func (s *Server) probeSource(src *upstream.Source) inputInfo {
	p := filepath.Join(s.opts.OutputDir, src.ContentID, filepath.FromSlash(path.Clean("/"+src.Path)))
	f, err := os.Open(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return inputInfo{err: fmt.Sprintf("source %s:%s not found", src.ContentID, path.Clean("/"+src.Path))}
		}
		return inputInfo{err: "source unreadable"}
	}
	defer f.Close()
	return probed(ProbeAudio(f))
}

func probed(d time.Duration, _ string, err error) inputInfo {
	switch {
	case errors.Is(err, errTooLarge):
		return inputInfo{err: "file too large"}
	case errors.Is(err, ErrNotAudio):
		return inputInfo{err: "not audio: " + ErrNotAudio.Error()}
	case err != nil:
		return inputInfo{err: "unreadable audio: " + err.Error()}
	case d <= 0:
		return inputInfo{err: "audio is empty"}
	}
	return inputInfo{dur: d}
}

// probeURL downloads a url input (bounded in time and size) and probes it. Reasons
// never repeat the URL: presigned URLs carry tokens.
func (s *Server) probeURL(ctx context.Context, raw string) inputInfo {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return inputInfo{err: "url is not an absolute http(s) URL"}
	}
	select {
	case s.fetchSem <- struct{}{}:
		defer func() { <-s.fetchSem }()
	case <-ctx.Done():
		return inputInfo{err: "fetch failed: the simulator shut down"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.opts.FetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, raw, nil)
	if err != nil {
		return inputInfo{err: "url is not usable"}
	}
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return inputInfo{err: "fetch failed: " + err.Error()}
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return inputInfo{err: fmt.Sprintf("fetch failed: HTTP %d", resp.StatusCode)}
	}
	info := probed(ProbeAudio(&limitReader{r: resp.Body, n: s.opts.MaxFetchBytes}))
	if info.err == "file too large" {
		info.err = fmt.Sprintf("file larger than %d bytes", s.opts.MaxFetchBytes)
	}
	return info
}

var errTooLarge = errors.New("too large")

// limitReader fails with errTooLarge past n bytes, unlike io.LimitReader which would
// make a long file look like a short one.
type limitReader struct {
	r io.Reader
	n int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		// Allow a clean EOF exactly at the limit.
		var one [1]byte
		if n, err := l.r.Read(one[:]); n == 0 && err != nil {
			return 0, err
		}
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
