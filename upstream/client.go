package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Defaults of Options.
const (
	DefaultTimeout     = 30 * time.Second
	DefaultMaxAttempts = 4
)

// Limits on what is read from a reply: enough for a ListJobs of a few thousand jobs,
// and small for errors, which are only mined for a code and a short excerpt.
const (
	maxReplyBody = 4 << 20
	maxErrorBody = 64 << 10
)

// Gate is consulted before every HTTP attempt (the client's own retries included) and
// told of every rate-limited reply. The worker plugs its account-wide limiter in here.
type Gate interface {
	// Wait blocks until the action may be sent, or returns why it may not. The client
	// calls release once the attempt has ended (reply read, or failed), so that a gate
	// can tell which requests may still be on their way to the service.
	Wait(ctx context.Context, action string) (release func(), err error)
	// Throttled reports a rate-limited reply; retryAfter is 0 when the service gave none.
	Throttled(action string, retryAfter time.Duration)
}

// Options configure a Client. Zero values take the documented defaults.
type Options struct {
	BaseURL     string        // default DefaultBaseURL
	Credentials Credentials   // required
	HTTPClient  *http.Client  // default a plain client; redirects are never followed
	Timeout     time.Duration // per attempt, default DefaultTimeout
	MaxAttempts int           // for read-only actions, default DefaultMaxAttempts; CreateJob is sent once
	Gate        Gate          // nil: no limiting
	Logger      *zap.Logger   // nil: nop
	Gateway     *GatewayKey   // nil: no gateway signature headers

	// Now, Sleep and Rand are injected by tests. Now stamps the gateway Date header and
	// reads HTTP-date Retry-After values; Sleep waits between retries and must return
	// ctx.Err() when ctx ends first; Rand returns a float in [0, 1) for the backoff
	// jitter and must be safe for concurrent use.
	Now   func() time.Time
	Sleep func(ctx context.Context, d time.Duration) error
	Rand  func() float64
}

// Client calls the singing-cloning job API. It is safe for concurrent use.
type Client struct {
	baseURL     string
	creds       Credentials
	http        *http.Client
	timeout     time.Duration
	maxAttempts int
	gate        Gate
	log         *zap.Logger
	gateway     *GatewayKey
	now         func() time.Time
	sleep       func(context.Context, time.Duration) error
	rand        func() float64
}

// New checks the options and returns a Client.
func New(opts Options) (*Client, error) {
	base := opts.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("upstream: BaseURL must be an absolute http(s) URL")
	}
	if opts.Credentials.SecretID.IsZero() || opts.Credentials.SecretKey.IsZero() {
		return nil, errors.New("upstream: Credentials.SecretID and Credentials.SecretKey are required")
	}
	if opts.Timeout < 0 || opts.MaxAttempts < 0 {
		return nil, errors.New("upstream: Timeout and MaxAttempts must not be negative")
	}
	c := &Client{
		baseURL:     strings.TrimRight(base, "/"),
		creds:       opts.Credentials,
		timeout:     opts.Timeout,
		maxAttempts: opts.MaxAttempts,
		gate:        opts.Gate,
		log:         opts.Logger,
		now:         opts.Now,
		sleep:       opts.Sleep,
		rand:        opts.Rand,
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.maxAttempts == 0 {
		c.maxAttempts = DefaultMaxAttempts
	}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	c.log = c.log.Named("upstream")
	if c.now == nil {
		c.now = time.Now
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.rand == nil {
		c.rand = rand.Float64
	}
	if opts.Gateway != nil {
		k, err := opts.Gateway.normalized()
		if err != nil {
			return nil, fmt.Errorf("upstream: Gateway: %w", err)
		}
		c.gateway = &k
	}
	hc := http.Client{Transport: newTransport()}
	if opts.HTTPClient != nil {
		hc = *opts.HTTPClient
	}
	// The body carries the credentials: never replay it to wherever a redirect points.
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.http = &hc
	return c, nil
}

// idleConnsPerHost is how many kept-alive connections to the service the client holds.
// Go's default keeps 2: a worker with tens of calls at once would close nearly every
// connection after its call and open (with TLS, handshake) a new one for the next.
const idleConnsPerHost = 128

// newTransport is Go's default transport, keeping enough connections alive.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns, t.MaxIdleConnsPerHost = idleConnsPerHost, idleConnsPerHost
	return t
}

// String describes the client without its credentials: fmt does not call Secret's
// redacting methods on unexported fields, so the struct must never be printed as is.
func (c *Client) String() string { return "upstream.Client{BaseURL: " + c.baseURL + "}" }

// GoString is String, for %#v.
func (c *Client) GoString() string { return c.String() }

// CreateJob submits a job. It is never retried here: a failure after the request may
// have reached the service is ErrAmbiguous (reconcile with ListJobs by customId), and a
// 5xx counts as such, since a gateway may answer 5xx for a job it has passed on.
func (c *Client) CreateJob(ctx context.Context, req *CreateJobRequest) (*Job, error) {
	if req == nil {
		return nil, fmt.Errorf("%s: %w", ActionCreateJob, &ValidationError{Field: "createJobRequest", Reason: "required"})
	}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionCreateJob, err)
	}
	resp, err := c.call(ctx, &spec{
		action: ActionCreateJob,
		fill:   func(e *Envelope) { e.CreateJobRequest = req },
		check: func(r *Response) string {
			if r.CreateJobResponse == nil || r.CreateJobResponse.Job == nil || r.CreateJobResponse.Job.ID == "" {
				return "reply has no createJobResponse.job.id"
			}
			return ""
		},
	})
	if err != nil {
		return nil, err
	}
	return resp.CreateJobResponse.Job, nil
}

// GetJob returns the job with the id CreateJob returned. A reply about another job is
// treated as unusable (transient).
func (c *Client) GetJob(ctx context.Context, id string) (*Job, error) {
	req := &GetJobRequest{ID: id}
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", ActionGetJob, err)
	}
	resp, err := c.call(ctx, &spec{
		action: ActionGetJob,
		fill:   func(e *Envelope) { e.GetJobRequest = req },
		retry:  true,
		check: func(r *Response) string {
			switch {
			case r.GetJobResponse == nil || r.GetJobResponse.Job == nil:
				return "reply has no getJobResponse.job"
			case r.GetJobResponse.Job.ID != id:
				return "getJobResponse.job.id is not the requested id"
			}
			return ""
		},
	})
	if err != nil {
		return nil, err
	}
	return resp.GetJobResponse.Job, nil
}

// ListJobs returns every job with the customId. A reply whose total exceeds the jobs it
// holds is treated as unusable (transient): reconciliation must not miss a job.
func (c *Client) ListJobs(ctx context.Context, customID string) ([]Job, error) {
	// Whether a job exists can only be told from the whole list: a short one is retried.
	jobs, _, err := c.listJobs(ctx, customID, true)
	return jobs, err
}

// ListJobsPartial is ListJobs for a caller that can do with part of the list (polling
// jobs it knows by id): a list shorter than its total is an answer, and the total the
// service counts comes with it.
func (c *Client) ListJobsPartial(ctx context.Context, customID string) ([]Job, int, error) {
	return c.listJobs(ctx, customID, false)
}

func (c *Client) listJobs(ctx context.Context, customID string, whole bool) ([]Job, int, error) {
	req := &ListJobsRequest{CustomID: customID}
	if err := req.Validate(); err != nil {
		return nil, 0, fmt.Errorf("%s: %w", ActionListJobs, err)
	}
	resp, err := c.call(ctx, &spec{
		action: ActionListJobs,
		fill:   func(e *Envelope) { e.ListJobsRequest = req },
		retry:  true,
		check: func(r *Response) string {
			switch l := r.ListJobsResponse; {
			case l == nil:
				return "reply has no listJobsResponse"
			case whole && int(l.Total) > len(l.Jobs):
				return fmt.Sprintf("listJobsResponse.total is %d but %d jobs came back", l.Total, len(l.Jobs))
			}
			return ""
		},
	})
	if err != nil {
		return nil, 0, err
	}
	jobs := resp.ListJobsResponse.Jobs
	if jobs == nil {
		jobs = []Job{}
	}
	return jobs, max(int(resp.ListJobsResponse.Total), len(jobs)), nil
}

// spec is one action: what goes into the envelope, what a usable reply holds, and
// whether it may be retried (read-only actions only).
type spec struct {
	action string
	fill   func(*Envelope)
	check  func(*Response) string // "" when the reply holds what the action needs
	retry  bool
}

// attempt sends the call once, under the per-attempt timeout, and logs it.
func (c *Client) attempt(ctx context.Context, k *spec, n int) (*Response, *APIError) {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// Whether any of the request may have reached the service decides between
	// ErrTransient and ErrAmbiguous for CreateJob.
	var sent atomic.Bool
	actx = httptrace.WithClientTrace(actx, &httptrace.ClientTrace{WroteHeaders: func() { sent.Store(true) }})

	start := time.Now()
	resp, status, apiErr := c.do(actx, k, &sent)
	fields := []zap.Field{
		zap.String("action", k.action),
		zap.Int("attempt", n),
		zap.Int("status", status),
		zap.Duration("duration", time.Since(start)),
	}
	switch {
	case apiErr != nil:
		fields = append(fields, zap.String("requestId", apiErr.RequestID), zap.String("class", apiErr.Class.Error()))
	default:
		fields = append(fields, zap.String("requestId", c.clean(resp.RequestID)))
	}
	c.log.Debug("upstream call", fields...)
	return resp, apiErr
}

// newRequest builds the POST for an action. This is the only place the credentials
// are revealed.
func (c *Client) newRequest(ctx context.Context, action string, fill func(*Envelope)) (*http.Request, error) {
	env := Envelope{
		Action:    action,
		SecretID:  c.creds.SecretID.Reveal(),
		SecretKey: c.creds.SecretKey.Reveal(),
	}
	fill(&env)
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	enc.SetEscapeHTML(false) // callbacks and URLs travel as written
	if err := enc.Encode(env); err != nil {
		return nil, fmt.Errorf("encode %s request: %w", action, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+PathFor(action), &body)
	if err != nil {
		return nil, fmt.Errorf("build %s request: %w", action, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	if c.gateway != nil {
		c.gateway.Sign(req, c.now())
	}
	return req, nil
}

// do sends one request and classifies the outcome. status is 0 when no reply came.
func (c *Client) do(ctx context.Context, k *spec, sent *atomic.Bool) (*Response, int, *APIError) {
	req, err := c.newRequest(ctx, k.action, k.fill)
	if err != nil {
		return nil, 0, &APIError{Action: k.action, Class: ErrInvalidRequest, Message: "cannot build the request", Err: c.redactErr(err)}
	}
	hr, err := c.http.Do(req)
	if err != nil {
		e := &APIError{Action: k.action, Class: ErrTransient, Message: "no reply", Err: c.redactErr(err)}
		if k.action == ActionCreateJob && sent.Load() {
			e.Class, e.Message = ErrAmbiguous, "request sent, no reply"
		}
		return nil, 0, e
	}
	defer hr.Body.Close()
	limit := int64(maxErrorBody)
	if hr.StatusCode >= 200 && hr.StatusCode < 300 {
		limit = maxReplyBody
	}
	body, readErr := io.ReadAll(io.LimitReader(hr.Body, limit+1))
	resp, apiErr := c.checkResponse(k, hr, body, readErr, limit)
	return resp, hr.StatusCode, apiErr
}

// checkResponse turns any reply into a Response or an *APIError. Nothing about the
// reply's shape is assumed (contract README §2).
func (c *Client) checkResponse(k *spec, hr *http.Response, body []byte, readErr error, limit int64) (*Response, *APIError) {
	status := hr.StatusCode
	info := parseErrorInfo(body)
	e := &APIError{
		Action:     k.action,
		StatusCode: status,
		Code:       c.clean(info.code),
		RequestID:  c.clean(info.requestID),
		RetryAfter: parseRetryAfter(hr.Header.Get("Retry-After"), c.now()),
	}
	ok := status >= 200 && status < 300
	if !ok || info.hasError {
		e.Class = classify(k.action, status, info.code)
		e.Message = c.clean(info.message)
		if e.Message == "" && !info.json && len(body) > 0 {
			e.Message = c.excerpt(hr, body)
		}
		return nil, e
	}

	// A 2xx without an error object: it must hold what the action asked for.
	e.Class = ErrTransient
	if k.action == ActionCreateJob {
		e.Class = ErrAmbiguous
	}
	var r Response
	switch {
	case readErr != nil:
		e.Message, e.Err = "reply cut off", c.redactErr(readErr)
	case int64(len(body)) > limit:
		e.Message = fmt.Sprintf("reply larger than %d bytes", limit)
	case len(bytes.TrimSpace(body)) == 0:
		e.Message = "empty reply"
	case !info.json && !looksJSON(body):
		e.Message = "reply is not JSON: " + c.excerpt(hr, body)
	default:
		if err := json.Unmarshal(body, &r); err != nil {
			e.Message, e.Err = "malformed or truncated JSON reply", c.redactErr(err)
		} else if problem := k.check(&r); problem != "" {
			e.Message = problem
		} else {
			return &r, nil
		}
	}
	return nil, e
}

// classify maps a failed reply to an error class.
func classify(action string, status int, code string) error {
	var class error
	switch {
	case status == http.StatusTooManyRequests || code == CodeRequestLimitExceeded:
		return ErrRateLimited
	case status == http.StatusUnauthorized || status == http.StatusForbidden || code == CodeAuthFailure:
		class = ErrAuth
	case status == http.StatusNotFound || code == CodeResourceNotFound:
		class = ErrNotFound
	case status == http.StatusRequestTimeout:
		// The service gave up reading the request: nothing was applied.
		return ErrTransient
	case status >= 500 || code == CodeInternalError:
		class = ErrTransient
	case status >= 400 || code == CodeInvalidParameter:
		class = ErrInvalidRequest
	case status >= 200 && status < 300:
		class = ErrTransient // an error object with a code we do not know
	default:
		class = ErrInvalidRequest // a redirect: the base URL is wrong
	}
	if class == ErrTransient && action == ActionCreateJob {
		return ErrAmbiguous
	}
	return class
}

// errorInfo is what a reply says about a failure, read leniently from any shape.
type errorInfo struct {
	json      bool // the body is a JSON object
	hasError  bool // it has a non-empty "error"
	code      string
	message   string
	requestID string
}

func parseErrorInfo(body []byte) errorInfo {
	var top map[string]json.RawMessage
	if json.Unmarshal(body, &top) != nil {
		return errorInfo{}
	}
	info := errorInfo{json: true, requestID: jsonScalar(top["requestId"])}
	raw := top["error"]
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil && obj != nil {
		info.code, info.message = jsonScalar(obj["code"]), jsonScalar(obj["message"])
	} else {
		info.message = jsonScalar(raw)
	}
	info.hasError = info.code != "" || info.message != ""
	return info
}

// jsonScalar returns a JSON string's value or a number's text, else "".
func jsonScalar(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String()
	}
	return ""
}

func looksJSON(body []byte) bool {
	b := bytes.TrimSpace(body)
	return len(b) > 0 && (b[0] == '{' || b[0] == '[')
}

// Sanitizing: whatever the service sends back may echo the request, so every string
// taken from a reply or an error loses the secrets, control characters and length.
const maxExcerpt = 80

// redact replaces every secret the client holds with REDACTED.
func (c *Client) redact(s string) string {
	secrets := []Secret{c.creds.SecretID, c.creds.SecretKey}
	if c.gateway != nil {
		secrets = append(secrets, c.gateway.Secret)
	}
	// Longest first, so a secret containing another is removed whole.
	for i := range secrets {
		for j := i + 1; j < len(secrets); j++ {
			if len(secrets[j].Reveal()) > len(secrets[i].Reveal()) {
				secrets[i], secrets[j] = secrets[j], secrets[i]
			}
		}
	}
	for _, sec := range secrets {
		v := sec.Reveal()
		if v == "" {
			continue
		}
		s = strings.ReplaceAll(s, v, redacted)
		// An echoed request body holds the secret JSON-escaped.
		if q, err := json.Marshal(v); err == nil && string(q[1:len(q)-1]) != v {
			s = strings.ReplaceAll(s, string(q[1:len(q)-1]), redacted)
		}
	}
	return s
}

// clean makes a reply's string safe and short for errors and logs.
func (c *Client) clean(s string) string {
	s = strings.Join(strings.Fields(c.redact(s)), " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == '\uFFFD' {
			return '?'
		}
		return r
	}, s)
	if r := []rune(s); len(r) > 2*maxExcerpt {
		s = string(r[:2*maxExcerpt]) + "…"
	}
	return s
}

// excerpt describes a non-JSON body by its type and first characters.
func (c *Client) excerpt(hr *http.Response, body []byte) string {
	s := c.clean(string(body))
	if r := []rune(s); len(r) > maxExcerpt {
		s = string(r[:maxExcerpt]) + "…"
	}
	if ct := c.clean(hr.Header.Get("Content-Type")); ct != "" {
		return fmt.Sprintf("(%s) %q", ct, s)
	}
	return fmt.Sprintf("%q", s)
}

// redactErr wraps a cause so its message is sanitized; errors.Is/As still see it.
func (c *Client) redactErr(err error) error {
	if err == nil {
		return nil
	}
	return &redactedError{msg: c.clean(err.Error()), err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
