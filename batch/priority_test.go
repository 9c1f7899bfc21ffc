package batch

import "testing"

func TestParsePriority(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Priority{"high": PriorityHigh, "": PriorityNormal, "Normal": PriorityNormal, " LOW ": PriorityLow} {
		got, err := ParsePriority(in)
		if err != nil || got != want {
			t.Errorf("ParsePriority(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParsePriority("urgent"); err == nil {
		t.Error(`ParsePriority("urgent"): no error`)
	}
	if PriorityNormal.String() != "normal" || PriorityHigh.String() != "high" {
		t.Errorf("names: %q %q", PriorityNormal, PriorityHigh)
	}
}
