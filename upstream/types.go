// Package upstream is the client of the singing-cloning job API. It knows HTTP and
// JSON only: the wire types below mirror the provider's examples field for field.
package upstream

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Actions of the API, sent in the body's "action" field.
const (
	ActionCreateJob  = "CreateJob"
	ActionGetJob     = "GetJob"
	ActionListJobs   = "ListJobs"
	ActionListModels = "ListModels"
)

// Paths under the base URL.
const (
	PathJob        = "/release/job"
	PathMusicModel = "/release/music_model"
)

// DefaultBaseURL is the provider's gateway.
const DefaultBaseURL = "https://service-mqk0mc83-1257411467.bj.apigw.tencentcs.com"

// PathFor returns the path an action is posted to.
func PathFor(action string) string {
	if action == ActionListModels {
		return PathMusicModel
	}
	return PathJob
}

// Singing-cloning job types (output.smartContentDescriptor.singingCloning.type).
const (
	TypeGenerate = 1
	TypeTrain    = 2
)

// SwitchOption values (useSeparate).
const (
	SwitchOff = 1
	SwitchOn  = 2
)

// DefaultModel always exists at the service.
const DefaultModel = "default"

// Envelope is a request body as it travels. It carries the credentials in clear, so it
// is built only at the moment of sending and must never be logged; its String method
// redacts them in case it is printed by mistake.
type Envelope struct {
	Action            string             `json:"action"`
	SecretID          string             `json:"secretId"`
	SecretKey         string             `json:"secretKey"`
	CreateJobRequest  *CreateJobRequest  `json:"createJobRequest,omitempty"`
	GetJobRequest     *GetJobRequest     `json:"getJobRequest,omitempty"`
	ListJobsRequest   *ListJobsRequest   `json:"listJobsRequest,omitempty"`
	ListModelsRequest *ListModelsRequest `json:"listModelsRequest,omitempty"`
}

// String redacts the credentials.
func (e Envelope) String() string {
	return fmt.Sprintf("Envelope{Action:%s, credentials:REDACTED}", e.Action)
}

// GoString redacts the credentials.
func (e Envelope) GoString() string { return e.String() }

// CreateJobRequest is createJobRequest.
type CreateJobRequest struct {
	CustomID string   `json:"customId,omitempty"`
	Callback string   `json:"callback,omitempty"`
	Inputs   []Input  `json:"inputs"`
	Outputs  []Output `json:"outputs"`
	Timeout  int      `json:"timeout,omitempty"`
}

// Input is exactly one of SourceData, URL or Source.
type Input struct {
	SourceData string  `json:"sourceData,omitempty"`
	URL        string  `json:"url,omitempty"`
	Source     *Source `json:"source,omitempty"`
}

// Source is a file in one of the caller's content repositories.
type Source struct {
	ContentID string `json:"contentId"`
	Path      string `json:"path"`
}

// Output describes what a job produces.
type Output struct {
	ContentID              string                  `json:"contentId,omitempty"`
	Destination            string                  `json:"destination,omitempty"`
	InputSelectors         []int                   `json:"inputSelectors,omitempty"`
	SmartContentDescriptor *SmartContentDescriptor `json:"smartContentDescriptor,omitempty"`
	SmartContentResult     *SmartContentResult     `json:"smartContentResult,omitempty"`
}

// SmartContentDescriptor is output.smartContentDescriptor.
type SmartContentDescriptor struct {
	OutputPrefix   string          `json:"outputPrefix,omitempty"`
	SingingCloning *SingingCloning `json:"singingCloning,omitempty"`
}

// SingingCloning is the job's singing-cloning settings.
type SingingCloning struct {
	Type        int    `json:"type"`
	TotalEpoch  int    `json:"totalEpoch,omitempty"`
	ModelName   string `json:"modelName,omitempty"`
	UseSeparate int    `json:"useSeparate,omitempty"`
}

// SmartContentResult is output.smartContentResult of a COMPLETED job.
type SmartContentResult struct {
	SingingCloning *SingingCloningResult `json:"singingCloning,omitempty"`
}

// SingingCloningResult names what a job produced: a song file (generation) or a model (training).
type SingingCloningResult struct {
	SongName  string `json:"songName,omitempty"`
	ModelName string `json:"modelName,omitempty"`
}

// GetJobRequest is getJobRequest.
type GetJobRequest struct {
	ID string `json:"id"`
}

// ListJobsRequest is listJobsRequest.
type ListJobsRequest struct {
	CustomID string `json:"customId"`
}

// ListModelsRequest is listModelsRequest.
type ListModelsRequest struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Type   int `json:"type"`
}

// Response is any response body. Exactly one of the action responses is set on
// success; Error is set by the simulator (and possibly the provider) on failure.
type Response struct {
	RequestID          string              `json:"requestId"`
	CreateJobResponse  *CreateJobResponse  `json:"createJobResponse,omitempty"`
	GetJobResponse     *GetJobResponse     `json:"getJobResponse,omitempty"`
	ListJobsResponse   *ListJobsResponse   `json:"listJobsResponse,omitempty"`
	ListModelsResponse *ListModelsResponse `json:"listModelsResponse,omitempty"`
	Error              *ErrorBody          `json:"error,omitempty"`
}

// ErrorBody is the error object; its shape is the simulator's choice (contract README §2).
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes the simulator answers with.
const (
	CodeInvalidParameter     = "InvalidParameter"
	CodeAuthFailure          = "AuthFailure"
	CodeResourceNotFound     = "ResourceNotFound"
	CodeRequestLimitExceeded = "RequestLimitExceeded"
	CodeInternalError        = "InternalError"
)

// CreateJobResponse is createJobResponse.
type CreateJobResponse struct {
	Job *Job `json:"job"`
}

// GetJobResponse is getJobResponse.
type GetJobResponse struct {
	Job *Job `json:"job"`
}

// ListJobsResponse is listJobsResponse.
type ListJobsResponse struct {
	Jobs  []Job `json:"jobs"`
	Total Count `json:"total"`
}

// ListModelsResponse is listModelsResponse.
type ListModelsResponse struct {
	Total  Count   `json:"total"`
	Models []Model `json:"models"`
}

// Model is one trained (or built-in) model.
type Model struct {
	Name      string `json:"name"`
	CreatedAt Millis `json:"createdAt"`
}

// Job is the service's job structure, also what a callback POSTs.
type Job struct {
	ID       string   `json:"id"`
	State    JobState `json:"state"`
	CustomID string   `json:"customId,omitempty"`
	Callback string   `json:"callback,omitempty"`
	Inputs   []Input  `json:"inputs"`
	Outputs  []Output `json:"outputs"`
	Timing   Timing   `json:"timing"`
	// Message is the reason an ERROR job failed. The provider documents no such field;
	// the simulator sends it and the client keeps it when present.
	Message string `json:"message,omitempty"`
}

// Result returns the first output's singing-cloning result, or nil before COMPLETED.
func (j *Job) Result() *SingingCloningResult {
	for _, o := range j.Outputs {
		if o.SmartContentResult != nil && o.SmartContentResult.SingingCloning != nil {
			return o.SmartContentResult.SingingCloning
		}
	}
	return nil
}

// Timing holds the job's timestamps.
type Timing struct {
	CreatedAt   Millis `json:"createdAt"`
	StartedAt   Millis `json:"startedAt"`
	CompletedAt Millis `json:"completedAt"`
}

// Millis is a Unix-millisecond timestamp. On the wire it is a string ("0" = not yet);
// a bare number is accepted too.
type Millis int64

// MillisOf converts a time; the zero time is 0.
func MillisOf(t time.Time) Millis {
	if t.IsZero() {
		return 0
	}
	return Millis(t.UnixMilli())
}

// Time returns the instant, or the zero time for 0.
func (m Millis) Time() time.Time {
	if m == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(m))
}

// MarshalJSON writes the string form the provider uses.
func (m Millis) MarshalJSON() ([]byte, error) {
	return []byte(`"` + strconv.FormatInt(int64(m), 10) + `"`), nil
}

// UnmarshalJSON accepts "123", 123, "" and null.
func (m *Millis) UnmarshalJSON(b []byte) error {
	s := strings.TrimSpace(string(b))
	if s == "null" {
		*m = 0
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return fmt.Errorf("millis: %w", err)
		}
		s = strings.TrimSpace(str)
		if s == "" {
			*m = 0
			return nil
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return fmt.Errorf("millis %q: not a number of milliseconds", s)
		}
		n = int64(f)
	}
	*m = Millis(n)
	return nil
}

// JobState is a job's state. Unknown values are kept as they are.
type JobState int

// Job states.
const (
	StateSubmitted  JobState = 1
	StateProcessing JobState = 2
	StateCompleted  JobState = 3
	StateError      JobState = 4
	StateCanceled   JobState = 5
)

// Final reports whether the state is one a job never leaves.
func (s JobState) Final() bool {
	return s == StateCompleted || s == StateError || s == StateCanceled
}

func (s JobState) String() string {
	switch s {
	case StateSubmitted:
		return "SUBMITTED"
	case StateProcessing:
		return "PROCESSING"
	case StateCompleted:
		return "COMPLETED"
	case StateError:
		return "ERROR"
	case StateCanceled:
		return "CANCELED"
	}
	return "STATE(" + strconv.Itoa(int(s)) + ")"
}
