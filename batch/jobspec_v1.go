package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"
)

// Encoding v1 of a JobSpec: the JSON of the CreateJob request singbatch sent when ids
// were first derived, with these frozen types (not the wire types, which may grow). It
// is what an item's derived id hashes and what Redis stores under ItemRequest, so both
// keep their values across releases; jobspec_v1_test.go holds golden values. A field
// added to JobSpec needs an encoding v2 that writes it only when set, so that every
// v1 id and record stays valid.

type specV1 struct {
	Inputs  []inputV1  `json:"inputs"`
	Outputs []outputV1 `json:"outputs"`
	Timeout int        `json:"timeout,omitempty"`
}

type inputV1 struct {
	SourceData string    `json:"sourceData,omitempty"`
	URL        string    `json:"url,omitempty"`
	Source     *sourceV1 `json:"source,omitempty"`
}

type sourceV1 struct {
	ContentID string `json:"contentId"`
	Path      string `json:"path"`
}

type outputV1 struct {
	ContentID      string        `json:"contentId,omitempty"`
	Destination    string        `json:"destination,omitempty"`
	InputSelectors []int         `json:"inputSelectors,omitempty"`
	Descriptor     *descriptorV1 `json:"smartContentDescriptor,omitempty"`
}

type descriptorV1 struct {
	OutputPrefix   string            `json:"outputPrefix,omitempty"`
	SingingCloning *singingCloningV1 `json:"singingCloning,omitempty"`
}

type singingCloningV1 struct {
	Type        int    `json:"type"`
	TotalEpoch  int    `json:"totalEpoch,omitempty"`
	ModelName   string `json:"modelName,omitempty"`
	UseSeparate int    `json:"useSeparate,omitempty"`
}

// Values of singingCloningV1 as v1 wrote them (the contract's, frozen here).
const (
	v1TypeGenerate = 1
	v1TypeTrain    = 2
	v1SwitchOff    = 1
	v1SwitchOn     = 2
)

// specEncodingV1 prefixes what a v1 derived id hashes.
const specEncodingV1 = "singbatch item v1"

func (s JobSpec) toV1(kind Kind, model string) specV1 {
	v := specV1{Timeout: int(s.Timeout / time.Second)}
	var selectors []int
	for i, in := range s.Inputs {
		w := inputV1{URL: in.URL, SourceData: in.Text}
		if in.Source != nil {
			w.Source = &sourceV1{ContentID: in.Source.ContentID, Path: in.Source.Path}
		}
		v.Inputs = append(v.Inputs, w)
		selectors = append(selectors, i)
	}
	sc := &singingCloningV1{Type: v1TypeGenerate, ModelName: model, UseSeparate: v1SwitchOff}
	if s.Separate {
		sc.UseSeparate = v1SwitchOn
	}
	if kind == KindTrain {
		sc = &singingCloningV1{Type: v1TypeTrain, ModelName: model, TotalEpoch: s.Epochs}
	}
	v.Outputs = []outputV1{{ContentID: s.ContentID, Destination: s.Destination, InputSelectors: selectors,
		Descriptor: &descriptorV1{OutputPrefix: s.OutputPrefix, SingingCloning: sc}}}
	return v
}

func (v specV1) spec() JobSpec {
	s := JobSpec{Timeout: time.Duration(v.Timeout) * time.Second}
	for _, in := range v.Inputs {
		d := Input{URL: in.URL, Text: in.SourceData}
		if in.Source != nil {
			d.Source = &Source{ContentID: in.Source.ContentID, Path: in.Source.Path}
		}
		s.Inputs = append(s.Inputs, d)
	}
	if len(v.Outputs) > 0 {
		o := v.Outputs[0]
		s.ContentID, s.Destination = o.ContentID, o.Destination
		if d := o.Descriptor; d != nil {
			s.OutputPrefix = d.OutputPrefix
			if sc := d.SingingCloning; sc != nil {
				s.Separate = sc.UseSeparate == v1SwitchOn
				s.Epochs = sc.TotalEpoch
			}
		}
	}
	return s
}

// EncodeSpec is the stored form of an item's spec (encoding v1).
func EncodeSpec(kind Kind, model string, s JobSpec) ([]byte, error) {
	b, err := json.Marshal(s.toV1(kind, model))
	if err != nil {
		return nil, fmt.Errorf("job spec: %w", err)
	}
	return b, nil
}

// DecodeSpec reads a stored spec (encoding v1).
func DecodeSpec(b []byte) (JobSpec, error) {
	var v specV1
	if err := json.Unmarshal(b, &v); err != nil {
		return JobSpec{}, fmt.Errorf("job spec: %w", err)
	}
	return v.spec(), nil
}

// DeriveID names an item by its content: the same kind, model and spec always give the
// same id, and any change gives another. The spec must not yet hold the default
// destination, which is built from the id.
func DeriveID(kind Kind, model string, s JobSpec) string {
	h := sha256.New()
	h.Write([]byte(specEncodingV1 + "\x00" + string(kind) + "\x00" + model + "\x00"))
	// Encoding structs of strings, ints and slices cannot fail, and their field order is fixed.
	_ = json.NewEncoder(h).Encode(s.toV1(kind, model))
	var sum [sha256.Size]byte
	return "k-" + hex.EncodeToString(h.Sum(sum[:0])[:8])
}
