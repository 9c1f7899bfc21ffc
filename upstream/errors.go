package upstream

import (
	"errors"
	"fmt"
	"time"
)

// Error classes. Callers match them with errors.Is; an *APIError carries the details.
var (
	// ErrRateLimited: 429 or code RequestLimitExceeded. Retry after APIError.RetryAfter.
	ErrRateLimited = errors.New("rate limited")
	// ErrTransient: 5xx, connection errors, timeouts, unreadable replies of read-only calls.
	ErrTransient = errors.New("transient failure")
	// ErrAmbiguous: a CreateJob was sent but no usable answer came back, so the job may
	// exist. Reconcile with ListJobs by customId before creating again.
	ErrAmbiguous = errors.New("outcome unknown")
	// ErrAuth: 401/403 or AuthFailure. Permanent.
	ErrAuth = errors.New("authentication failed")
	// ErrInvalidRequest: any other 4xx, or a request that fails validation. Permanent.
	ErrInvalidRequest = errors.New("invalid request")
	// ErrNotFound: 404 or ResourceNotFound.
	ErrNotFound = errors.New("not found")
)

// APIError is a failed call. It never contains the request body or credentials.
type APIError struct {
	Action     string
	StatusCode int           // 0 when no HTTP response arrived
	Code       string        // service error code, when the body had one
	Message    string        // service message or a description of the odd reply
	RequestID  string        // when the body had one
	RetryAfter time.Duration // from Retry-After, for rate limits and 503s
	Class      error         // one of the Err* classes
	Err        error         // underlying cause (network error, decode error), may be nil
}

func (e *APIError) Error() string {
	msg := e.Action + ": " + e.Class.Error()
	if e.StatusCode != 0 {
		msg += fmt.Sprintf(" (HTTP %d)", e.StatusCode)
	}
	if e.Code != "" {
		msg += ": " + e.Code
	}
	if e.Message != "" {
		msg += ": " + e.Message
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.RequestID != "" {
		msg += " [requestId " + e.RequestID + "]"
	}
	return msg
}

// Unwrap exposes both the class and the cause to errors.Is/As.
func (e *APIError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Class}
	}
	return []error{e.Class, e.Err}
}

// Permanent reports whether retrying the same request cannot help.
func Permanent(err error) bool {
	return errors.Is(err, ErrAuth) || errors.Is(err, ErrInvalidRequest)
}

// ValidationError is one broken contract rule, found before anything was sent.
type ValidationError struct {
	Field  string // path, e.g. "outputs[0].smartContentDescriptor.outputPrefix"
	Reason string
}

func (e *ValidationError) Error() string { return e.Field + ": " + e.Reason }

// Is makes a validation error an ErrInvalidRequest.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidRequest }
