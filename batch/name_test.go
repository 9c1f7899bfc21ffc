package batch

import (
	"strings"
	"testing"
)

func TestValidBatchName(t *testing.T) {
	t.Parallel()
	for name, ok := range map[string]bool{
		"b1": true, "2025-01-02_run.3": true, "": false, "a:b": false, "a b": false, "ä": false,
		strings.Repeat("x", MaxBatchNameLen): true, strings.Repeat("x", MaxBatchNameLen+1): false,
	} {
		if err := ValidBatchName(name); (err == nil) != ok {
			t.Errorf("ValidBatchName(%q) = %v", name, err)
		}
	}
}
