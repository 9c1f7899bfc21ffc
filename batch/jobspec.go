package batch

import (
	"time"

	"github.com/singbatch/singbatch/upstream"
)

// JobSpec is what an item asks the service to do, in singbatch's own terms. The item
// holds its kind and model; the worker converts the three to the wire request at each
// attempt (Request), adding the attempt's customId and callback. Ids and stored records
// use the frozen encoding of jobspec_v1.go, so the wire types may grow freely.
type JobSpec struct {
	// Inputs are what the job reads: one for a song, one or more for a training.
	Inputs []Input
	// ContentID and Destination name where a song's output goes: a content repository
	// and a folder in it (DefaultDestinationRoot/ID when the manifest names none).
	ContentID   string
	Destination string
	// OutputPrefix is prepended to the output's file name.
	OutputPrefix string
	// Separate asks a song to separate the vocal from the backing track first.
	Separate bool
	// Epochs is a training's number of epochs (upstream.DefaultTotalEpoch when unset).
	Epochs int
	// Timeout is the job's own timeout at the service, whole seconds; 0: the service's.
	Timeout time.Duration
}

// Input is exactly one of URL, Text or Source.
type Input struct {
	URL    string
	Text   string
	Source *Source
}

// Source is a file in one of the caller's content repositories.
type Source struct {
	ContentID string `json:"contentId"`
	Path      string `json:"path"`
}

// Request is the wire request of an item of that kind and model, without the attempt's
// customId and callback. Every input feeds the one output.
func (s JobSpec) Request(kind Kind, model string) upstream.CreateJobRequest {
	req := upstream.CreateJobRequest{Timeout: int(s.Timeout / time.Second)}
	var selectors []int
	for i, in := range s.Inputs {
		w := upstream.Input{URL: in.URL, SourceData: in.Text}
		if in.Source != nil {
			w.Source = &upstream.Source{ContentID: in.Source.ContentID, Path: in.Source.Path}
		}
		req.Inputs = append(req.Inputs, w)
		selectors = append(selectors, i)
	}
	sc := &upstream.SingingCloning{Type: upstream.TypeGenerate, ModelName: model, UseSeparate: upstream.SwitchOff}
	if s.Separate {
		sc.UseSeparate = upstream.SwitchOn
	}
	if kind == KindTrain {
		sc = &upstream.SingingCloning{Type: upstream.TypeTrain, ModelName: model, TotalEpoch: s.Epochs}
	}
	req.Outputs = []upstream.Output{{
		ContentID:      s.ContentID,
		Destination:    s.Destination,
		InputSelectors: selectors,
		SmartContentDescriptor: &upstream.SmartContentDescriptor{
			OutputPrefix:   s.OutputPrefix,
			SingingCloning: sc,
		},
	}}
	return req
}
