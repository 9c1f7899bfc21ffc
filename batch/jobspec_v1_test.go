package batch

import (
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// Every JobSpec field must be in encoding v1: one it ignored would give two different
// jobs one derived id, and the second would be dropped as a duplicate.
func TestEncodingV1CoversEveryField(t *testing.T) {
	t.Parallel()
	covered := []string{"Inputs", "ContentID", "Destination", "OutputPrefix", "Separate", "Epochs", "Timeout"}
	for f := range reflect.TypeFor[JobSpec]().Fields() {
		if !slices.Contains(covered, f.Name) {
			t.Errorf("JobSpec.%s is not in encoding v1: write an encoding v2 that adds it only when set", f.Name)
		}
	}
	base := JobSpec{Inputs: []Input{{URL: "https://h/a"}}, ContentID: "c"}
	changes := map[string]func(*JobSpec){
		"Inputs":       func(s *JobSpec) { s.Inputs = []Input{{Source: &Source{ContentID: "c", Path: "/p"}}} },
		"ContentID":    func(s *JobSpec) { s.ContentID = "d" },
		"Destination":  func(s *JobSpec) { s.Destination = "/x" },
		"OutputPrefix": func(s *JobSpec) { s.OutputPrefix = "p" },
		"Separate":     func(s *JobSpec) { s.Separate = true },
		"Epochs":       func(s *JobSpec) { s.Epochs = 7 },
		"Timeout":      func(s *JobSpec) { s.Timeout = time.Minute },
	}
	for _, name := range covered {
		kind := KindSong
		if name == "Epochs" { // a song has none, a training no separation
			kind = KindTrain
		}
		s := base
		changes[name](&s)
		if DeriveID(kind, upstream.DefaultModel, s) == DeriveID(kind, upstream.DefaultModel, base) {
			t.Errorf("changing %s keeps the derived id", name)
		}
	}
}
