package batch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// Encoding v2 of a JobSpec: how records store it since v1 took 200 to 300 bytes per
// item (docs/redis-memory.md). Short keys, only the fields that are set, the common
// single url or text input as one string, and no destination when it is the default
// one of the item's id (DefaultDestination), so that a song with a short url stays under
// 64 bytes and is kept in the item's hash (fieldSpec) instead of a key of its own.
// Derived ids still hash encoding v1 (jobspec_v1.go), and records stored in v1 still
// read (decodeStoredSpec tells them apart: v1 starts with {"inputs").
type specV2 struct {
	URL       string    `json:"u,omitempty"` // the one input, a url
	Text      string    `json:"x,omitempty"` // the one input, a text
	Inputs    []inputV2 `json:"i,omitempty"` // the inputs otherwise
	ContentID string    `json:"c,omitempty"`
	// Destination is nil for DefaultDestination(id), else the destination, maybe "".
	Destination  *string `json:"d,omitempty"`
	OutputPrefix string  `json:"o,omitempty"`
	Separate     bool    `json:"s,omitempty"`
	Epochs       int     `json:"e,omitempty"`
	Timeout      int     `json:"t,omitempty"` // seconds
}

type inputV2 struct {
	URL    string    `json:"u,omitempty"`
	Text   string    `json:"x,omitempty"`
	Source *sourceV2 `json:"f,omitempty"`
}

type sourceV2 struct {
	ContentID string `json:"c"`
	Path      string `json:"p"`
}

// DefaultDestinationRoot is the folder under which a song without an explicit
// destination writes, in a folder named by its id (DefaultDestination).
const DefaultDestinationRoot = "/singbatch"

// DefaultDestination is the destination of item id's song when its manifest names none.
func DefaultDestination(id string) string { return DefaultDestinationRoot + "/" + id }

// encodeSpecV2 is the stored form of item id's spec.
func encodeSpecV2(id string, s JobSpec) ([]byte, error) {
	v := specV2{ContentID: s.ContentID, OutputPrefix: s.OutputPrefix, Separate: s.Separate,
		Epochs: s.Epochs, Timeout: int(s.Timeout / time.Second)}
	if s.Destination != DefaultDestination(id) {
		v.Destination = &s.Destination
	}
	switch in := s.Inputs; {
	case len(in) == 1 && in[0].URL != "" && in[0].Text == "" && in[0].Source == nil:
		v.URL = in[0].URL
	case len(in) == 1 && in[0].Text != "" && in[0].URL == "" && in[0].Source == nil:
		v.Text = in[0].Text
	default:
		v.Inputs = make([]inputV2, len(in))
		for i, x := range in {
			v.Inputs[i] = inputV2{URL: x.URL, Text: x.Text}
			if x.Source != nil {
				v.Inputs[i].Source = &sourceV2{ContentID: x.Source.ContentID, Path: x.Source.Path}
			}
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	return b, nil
}

// decodeStoredSpec reads item id's stored spec, in encoding v1 or v2.
func decodeStoredSpec(b []byte, id string) (JobSpec, error) {
	if bytes.HasPrefix(b, []byte(`{"inputs"`)) {
		return DecodeSpec(b)
	}
	var v specV2
	if err := json.Unmarshal(b, &v); err != nil {
		return JobSpec{}, fmt.Errorf("job spec: %w", err)
	}
	s := JobSpec{ContentID: v.ContentID, OutputPrefix: v.OutputPrefix, Separate: v.Separate,
		Epochs: v.Epochs, Timeout: time.Duration(v.Timeout) * time.Second, Destination: DefaultDestination(id)}
	if v.Destination != nil {
		s.Destination = *v.Destination
	}
	switch {
	case v.URL != "":
		s.Inputs = []Input{{URL: v.URL}}
	case v.Text != "":
		s.Inputs = []Input{{Text: v.Text}}
	}
	for _, x := range v.Inputs {
		in := Input{URL: x.URL, Text: x.Text}
		if x.Source != nil {
			in.Source = &Source{ContentID: x.Source.ContentID, Path: x.Source.Path}
		}
		s.Inputs = append(s.Inputs, in)
	}
	return s, nil
}
