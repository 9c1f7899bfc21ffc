package sim

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"go.uber.org/zap"

	"github.com/singbatch/singbatch/upstream"
)

// StatsPath serves Stats as JSON (GET).
const StatsPath = "/sim/stats"

// ServeHTTP serves the API (POST JSON at /release/job and /release/music_model) and
// GET /sim/stats.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.work.add() {
		writeJSON(w, http.StatusServiceUnavailable, upstream.Response{
			RequestID: s.rng.uuid(),
			Error:     &upstream.ErrorBody{Code: upstream.CodeInternalError, Message: "the simulator is shut down"},
		})
		return
	}
	defer s.work.done()
	if r.URL.Path == StatsPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		writeJSON(w, http.StatusOK, s.Stats())
		return
	}
	s.serveAPI(w, r)
}

// call is one API request being answered.
type call struct {
	s         *Server
	w         http.ResponseWriter
	requestID string
	action    string
	secrets   []string // values never to be echoed
	recorded  bool
}

// record counts the call's outcome once.
func (c *call) record(o Outcome, status int) {
	if c.recorded {
		return
	}
	c.recorded = true
	c.s.mu.Lock()
	c.s.stats.call(c.action, o)
	c.s.mu.Unlock()
	c.s.log.Debug("sim: request", zap.String("action", c.action), zap.String("outcome", string(o)),
		zap.Int("status", status), zap.String("requestId", c.requestID))
}

// echo quotes a value from the request for an error message, unless it holds a
// secret. Every request value a message repeats goes through echo.
func (c *call) echo(v string) string {
	for _, sec := range c.secrets {
		if sec != "" && strings.Contains(v, sec) {
			return "REDACTED"
		}
	}
	return strconv.Quote(v)
}

// fail answers with the simulator's error shape.
func (c *call) fail(status int, code, msg string) {
	c.record(outcomeOf(status), status)
	writeJSON(c.w, status, upstream.Response{RequestID: c.requestID, Error: &upstream.ErrorBody{Code: code, Message: msg}})
}

func (c *call) ok(resp upstream.Response) {
	resp.RequestID = c.requestID
	c.record(OutcomeOK, http.StatusOK)
	writeJSON(c.w, http.StatusOK, resp)
}

func outcomeOf(status int) Outcome {
	switch status {
	case http.StatusBadRequest:
		return OutcomeInvalid
	case http.StatusUnauthorized:
		return OutcomeAuth
	case http.StatusNotFound:
		return OutcomeNotFound
	case http.StatusTooManyRequests:
		return OutcomeThrottled
	}
	return OutcomeInternal
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"code":"InternalError","message":"encode response"}}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	now := s.clock.Now()
	c := &call{s: s, w: w, requestID: s.rng.uuid(), action: actionUnknown,
		secrets: []string{s.opts.Credentials.SecretID.Reveal(), s.opts.Credentials.SecretKey.Reveal()}}
	s.mu.Lock()
	s.stats.arrive(now)
	s.mu.Unlock()

	if r.Method != http.MethodPost {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, fmt.Sprintf("method must be POST, not %s", r.Method))
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, "Content-Type must be application/json")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes))
	if err != nil {
		msg := "body: unreadable"
		if errors.As(err, new(*http.MaxBytesError)) {
			msg = fmt.Sprintf("body: larger than %d bytes", s.opts.MaxBodyBytes)
		}
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, msg)
		return
	}
	env, err := decodeEnvelope(body)
	c.secrets = append(c.secrets, env.SecretID, env.SecretKey)
	if err != nil {
		// The decoder may quote a field name from the body.
		msg := err.Error()
		for _, sec := range c.secrets {
			if sec != "" {
				msg = strings.ReplaceAll(msg, sec, "REDACTED")
			}
		}
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, msg)
		return
	}
	if isAction(env.Action) {
		c.action = env.Action
	}

	s.mu.Lock()
	allowed, retry := s.limiter.allow(env.SecretID, s.rate, now)
	rate, faults := s.rate, s.faults
	s.mu.Unlock()
	if !allowed {
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(math.Ceil(retry.Seconds())))))
		c.fail(http.StatusTooManyRequests, upstream.CodeRequestLimitExceeded, fmt.Sprintf("more than %d requests per second", rate))
		return
	}
	if s.rng.chance(faults.InternalError) {
		c.fail(http.StatusInternalServerError, upstream.CodeInternalError, "internal error (injected fault)")
		return
	}
	if s.rng.chance(faults.Hang) {
		c.record(OutcomeHung, 0)
		if !s.sleep(r.Context(), faults.HangFor) {
			// The client gave up or the simulator is closing: drop the connection
			// rather than answer.
			panic(http.ErrAbortHandler)
		}
	}
	if g := s.opts.Gateway; g != nil {
		if err := s.verifyGateway(r, g, now); err != nil {
			c.fail(http.StatusUnauthorized, upstream.CodeAuthFailure, "gateway signature: "+err.Error())
			return
		}
	}
	if !s.authorized(env) {
		c.fail(http.StatusUnauthorized, upstream.CodeAuthFailure, "secretId or secretKey is wrong")
		return
	}
	if msg := routeProblem(r.URL.Path, env, c.echo); msg != "" {
		c.fail(http.StatusBadRequest, upstream.CodeInvalidParameter, msg)
		return
	}
	switch env.Action {
	case upstream.ActionCreateJob:
		s.serveCreateJob(c, env.CreateJobRequest)
	case upstream.ActionGetJob:
		s.serveGetJob(c, env.GetJobRequest)
	case upstream.ActionListJobs:
		s.serveListJobs(c, env.ListJobsRequest)
	case upstream.ActionListModels:
		s.serveListModels(c, env.ListModelsRequest)
	}
}

func isAction(a string) bool {
	switch a {
	case upstream.ActionCreateJob, upstream.ActionGetJob, upstream.ActionListJobs, upstream.ActionListModels:
		return true
	}
	return false
}

func (s *Server) authorized(env upstream.Envelope) bool {
	id := subtle.ConstantTimeCompare([]byte(env.SecretID), []byte(s.opts.Credentials.SecretID.Reveal()))
	key := subtle.ConstantTimeCompare([]byte(env.SecretKey), []byte(s.opts.Credentials.SecretKey.Reveal()))
	return id&key == 1
}

// decodeEnvelope parses a body strictly: unknown fields and trailing data are errors
// that name the field.
func decodeEnvelope(body []byte) (upstream.Envelope, error) {
	var env upstream.Envelope
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		var te *json.UnmarshalTypeError
		var se *json.SyntaxError
		switch {
		case errors.As(err, &te):
			return env, fmt.Errorf("%s: must be a JSON value for Go %s, not %s", te.Field, te.Type, te.Value)
		case errors.As(err, &se):
			return env, fmt.Errorf("body: invalid JSON at byte %d", se.Offset)
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			return env, errors.New("body: empty or truncated JSON")
		}
		return env, fmt.Errorf("body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return env, errors.New("body: unexpected data after the JSON object")
	}
	return env, nil
}

// routeProblem checks the path, the action and that exactly the action's request
// object is present.
func routeProblem(path string, env upstream.Envelope, echo func(string) string) string {
	if path != upstream.PathJob && path != upstream.PathMusicModel {
		return fmt.Sprintf("path %s: no such API (use %s or %s)", echo(path), upstream.PathJob, upstream.PathMusicModel)
	}
	if !isAction(env.Action) {
		return fmt.Sprintf("action: %s is not CreateJob, GetJob, ListJobs or ListModels", echo(env.Action))
	}
	if want := upstream.PathFor(env.Action); path != want {
		return fmt.Sprintf("action %s must be posted to %s, not %s", env.Action, want, path)
	}
	objects := []struct {
		name   string
		action string
		set    bool
	}{
		{"createJobRequest", upstream.ActionCreateJob, env.CreateJobRequest != nil},
		{"getJobRequest", upstream.ActionGetJob, env.GetJobRequest != nil},
		{"listJobsRequest", upstream.ActionListJobs, env.ListJobsRequest != nil},
		{"listModelsRequest", upstream.ActionListModels, env.ListModelsRequest != nil},
	}
	for _, o := range objects {
		switch {
		case o.action == env.Action && !o.set:
			return fmt.Sprintf("%s: required for action %s", o.name, env.Action)
		case o.action != env.Action && o.set:
			return fmt.Sprintf("%s: not expected with action %s", o.name, env.Action)
		}
	}
	return ""
}

// problemMessage joins validation problems, each field prefixed with the request
// object's name.
func problemMessage(object string, ps []*upstream.ValidationError) string {
	parts := make([]string, len(ps))
	for i, p := range ps {
		parts[i] = object + "." + p.Field + ": " + p.Reason
	}
	return strings.Join(parts, "; ")
}

// problemsOf unpacks an error from a request type's Validate.
func problemsOf(err error) []*upstream.ValidationError {
	if err == nil {
		return nil
	}
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		errs = j.Unwrap()
	} else {
		errs = []error{err}
	}
	var ps []*upstream.ValidationError
	for _, e := range errs {
		var ve *upstream.ValidationError
		if errors.As(e, &ve) {
			ps = append(ps, ve)
		} else {
			ps = append(ps, &upstream.ValidationError{Field: "?", Reason: e.Error()})
		}
	}
	return ps
}
