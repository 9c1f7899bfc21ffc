package batch

import (
	"fmt"
	"strings"
)

// Priority is a batch's rank for CreateJob (enqueue --priority): a high batch's items
// are submitted before normal and low ones. The zero value is PriorityNormal.
type Priority string

// Priorities. Normal is stored as no field at all.
const (
	PriorityHigh   Priority = "high"
	PriorityNormal Priority = ""
	PriorityLow    Priority = "low"
)

// ParsePriority reads "high", "normal" or "low" (any case); empty is normal.
func ParsePriority(s string) (Priority, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "high":
		return PriorityHigh, nil
	case "", "normal":
		return PriorityNormal, nil
	case "low":
		return PriorityLow, nil
	}
	return PriorityNormal, fmt.Errorf("priority %q: must be high, normal or low", s)
}

// String is the priority's name: "high", "normal" or "low".
func (p Priority) String() string {
	if p == PriorityNormal {
		return "normal"
	}
	return string(p)
}

// priorityField reads the batch hash's field; anything unknown is normal.
func priorityField(v string) Priority {
	p, err := ParsePriority(v)
	if err != nil {
		return PriorityNormal
	}
	return p
}
