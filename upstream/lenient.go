package upstream

// What the client accepts where the contract's examples show one JSON type: a service
// behind another gateway, or a later version of it, may send a number as a string or the
// reverse. The contract's own forms decode as before; these only widen what is read.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UnmarshalJSON accepts a state as a number (3), a numeric string ("3"), or its name in
// any case ("COMPLETED", "Canceled", "CANCELLED"); null is 0. Any other number is kept,
// and anything else is 0: a state the client does not know, and never takes as final.
func (s *JobState) UnmarshalJSON(b []byte) error {
	if str, ok := jsonString(b); ok {
		switch strings.ToUpper(strings.TrimSpace(str)) {
		case "SUBMITTED":
			*s = StateSubmitted
			return nil
		case "PROCESSING":
			*s = StateProcessing
			return nil
		case "COMPLETED":
			*s = StateCompleted
			return nil
		case "ERROR", "FAILED":
			*s = StateError
			return nil
		case "CANCELED", "CANCELLED":
			*s = StateCanceled
			return nil
		}
	}
	n, err := lenientInt(b)
	if err != nil { // unreadable: a state not known, the rest of the reply still read
		n = 0
	}
	*s = JobState(n)
	return nil
}

// UnmarshalJSON reads a job, its id given as a string or as a number.
func (j *Job) UnmarshalJSON(b []byte) error {
	if isNull(b) {
		return nil
	}
	type plain Job
	aux := struct {
		*plain
		ID json.RawMessage `json:"id"`
	}{plain: (*plain)(j)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	id, err := lenientString(aux.ID)
	if err != nil {
		return fmt.Errorf("job id: %w", err)
	}
	j.ID = id
	return nil
}

// Count is a list's total. On the wire a number; a numeric string is read too, and a
// total that is neither counts as not given (0).
type Count int

// UnmarshalJSON reads a total as Count says.
func (c *Count) UnmarshalJSON(b []byte) error {
	n, err := lenientInt(b)
	if err != nil || n < 0 {
		n = 0
	}
	*c = Count(n)
	return nil
}

func isNull(b []byte) bool { return bytes.Equal(bytes.TrimSpace(b), []byte("null")) }

// jsonString reports b's value when b is a JSON string.
func jsonString(b []byte) (string, bool) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false
	}
	return s, true
}

// lenientString reads a string, or a number as its text; absent or null is "".
func lenientString(b []byte) (string, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || isNull(b) {
		return "", nil
	}
	if s, ok := jsonString(b); ok {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return "", fmt.Errorf("not a string or a number: %.40s", b)
	}
	return n.String(), nil
}

// lenientInt reads an integer given as a number (3, 3.0, 3e0) or a numeric string;
// absent, null and "" are 0.
func lenientInt(b []byte) (int, error) {
	s, err := lenientString(b)
	if err != nil {
		return 0, err
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	return int(f), nil
}
