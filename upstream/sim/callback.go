package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"go.uber.org/zap"
)

// sendCallbackLocked posts the final job to its callback URL in a tracked goroutine,
// after rolling the callback faults. One attempt per copy; failures are counted.
func (s *Server) sendCallbackLocked(j *job) {
	body, err := json.Marshal(s.viewLocked(j, j.endedAt))
	if err != nil {
		s.stats.callbacks.Failed++
		return
	}
	f := s.faults
	if s.rng.chance(f.CallbackDrop) {
		s.stats.callbacks.Dropped++
		return
	}
	copies := 1
	if s.rng.chance(f.CallbackDuplicate) {
		copies = 2
		s.stats.callbacks.Duplicated++
	}
	var delay = f.CallbackDelayFor
	if s.rng.chance(f.CallbackDelay) {
		s.stats.callbacks.Delayed++
	} else {
		delay = 0
	}
	target, id := j.callback, j.id
	started := s.work.goFunc(func() {
		if delay > 0 && !s.sleep(s.ctx, delay) {
			s.countCallback(false)
			return
		}
		for range copies {
			s.countCallback(s.postCallback(target, id, body))
		}
	})
	if !started {
		s.stats.callbacks.Failed++
	}
}

func (s *Server) countCallback(ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok {
		s.stats.callbacks.Delivered++
	} else {
		s.stats.callbacks.Failed++
	}
}

// postCallback reports whether the receiver answered 2xx. The URL is never logged: it
// may carry a token.
func (s *Server) postCallback(target, jobID string, body []byte) bool {
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		s.log.Debug("sim: callback not sent", zap.String("job", jobID), zap.String("reason", "bad url"))
		return false
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.opts.HTTPClient.Do(req)
	if err != nil {
		s.log.Debug("sim: callback failed", zap.String("job", jobID), zap.String("reason", "no answer"))
		return false
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	ok := resp.StatusCode/100 == 2
	if !ok {
		s.log.Debug("sim: callback refused", zap.String("job", jobID), zap.Int("status", resp.StatusCode))
	}
	return ok
}
