package batch

import (
	"errors"
	"fmt"
	"regexp"
)

// MaxBatchNameLen bounds batch names, which appear in every item key.
const MaxBatchNameLen = 100

var batchNameRE = regexp.MustCompile(`^[0-9A-Za-z_.-]+$`)

// ValidBatchName checks a batch name: 1 to 100 ASCII letters, digits, '_', '-' or '.'.
// Item keys are "item:BATCH:ID" and waiters are "BATCH:ID", so a ':' in a batch name
// would make two items share a key.
func ValidBatchName(name string) error {
	switch {
	case name == "":
		return errors.New("batch name: required")
	case len(name) > MaxBatchNameLen:
		return fmt.Errorf("batch name %q: at most %d characters", name, MaxBatchNameLen)
	case !batchNameRE.MatchString(name):
		return fmt.Errorf("batch name %q: only ASCII letters, digits, '_', '-' and '.' are allowed", name)
	}
	return nil
}
