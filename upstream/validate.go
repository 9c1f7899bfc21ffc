package upstream

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"unicode/utf8"
)

// Limits from the contract.
const (
	MaxCustomIDLen     = 63  // "shorter than 64 characters"
	MaxOutputPrefixLen = 19  // "shorter than 20 characters"
	MaxModelNameLen    = 63  // "shorter than 64 characters"
	MaxSourceDataLen   = 512 // "at most 512 characters"
	MaxTotalEpoch      = 50
	DefaultTotalEpoch  = 30
	MaxListLimit       = 100
	ModelListType      = 2 // listModelsRequest.type is always 2
)

var modelNameRE = regexp.MustCompile(`^[0-9A-Za-z_]+$`)

// ValidModelName reports whether name obeys the contract's model-name rule.
func ValidModelName(name string) error {
	switch {
	case name == "":
		return errors.New("required")
	case utf8.RuneCountInString(name) > MaxModelNameLen:
		return fmt.Errorf("must be shorter than %d characters", MaxModelNameLen+1)
	case !modelNameRE.MatchString(name):
		return errors.New("only digits, ASCII letters and _ are allowed")
	}
	return nil
}

// Problems lists every contract rule the request breaks, each naming its field path.
func (r *CreateJobRequest) Problems() []*ValidationError {
	var ps []*ValidationError
	add := func(field, format string, args ...any) {
		ps = append(ps, &ValidationError{Field: field, Reason: fmt.Sprintf(format, args...)})
	}
	if n := utf8.RuneCountInString(r.CustomID); n > MaxCustomIDLen {
		add("customId", "must be shorter than %d characters (has %d)", MaxCustomIDLen+1, n)
	}
	if r.Callback != "" {
		if u, err := url.Parse(r.Callback); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("callback", "must be an absolute http(s) URL")
		}
	}
	if r.Timeout < 0 {
		add("timeout", "must not be negative")
	}
	if len(r.Inputs) == 0 {
		add("inputs", "at least one input is required")
	}
	for i, in := range r.Inputs {
		field := fmt.Sprintf("inputs[%d]", i)
		set := 0
		if in.SourceData != "" {
			set++
			if n := utf8.RuneCountInString(in.SourceData); n > MaxSourceDataLen {
				add(field+".sourceData", "at most %d characters (has %d)", MaxSourceDataLen, n)
			}
		}
		if in.URL != "" {
			set++
		}
		if in.Source != nil {
			set++
			if in.Source.ContentID == "" {
				add(field+".source.contentId", "required")
			}
			if in.Source.Path == "" {
				add(field+".source.path", "required")
			}
		}
		if set != 1 {
			add(field, "exactly one of url, sourceData or source is required (has %d)", set)
		}
	}
	if len(r.Outputs) == 0 {
		add("outputs", "at least one output is required")
	}
	for i, o := range r.Outputs {
		field := fmt.Sprintf("outputs[%d]", i)
		for j, sel := range o.InputSelectors {
			if sel < 0 || sel >= len(r.Inputs) {
				add(fmt.Sprintf("%s.inputSelectors[%d]", field, j), "%d is not an index into inputs (0..%d)", sel, len(r.Inputs)-1)
			}
		}
		d := o.SmartContentDescriptor
		if d == nil || d.SingingCloning == nil {
			add(field+".smartContentDescriptor.singingCloning", "required")
			continue
		}
		if n := utf8.RuneCountInString(d.OutputPrefix); n > MaxOutputPrefixLen {
			add(field+".smartContentDescriptor.outputPrefix", "must be shorter than %d characters (has %d)", MaxOutputPrefixLen+1, n)
		}
		sc := d.SingingCloning
		scField := field + ".smartContentDescriptor.singingCloning"
		if err := ValidModelName(sc.ModelName); err != nil {
			add(scField+".modelName", "%v", err)
		}
		if sc.UseSeparate != 0 && sc.UseSeparate != SwitchOff && sc.UseSeparate != SwitchOn {
			add(scField+".useSeparate", "must be 1 (off) or 2 (on), not %d", sc.UseSeparate)
		}
		switch sc.Type {
		case TypeGenerate:
			if o.ContentID == "" {
				add(field+".contentId", "required for generation jobs")
			}
			if sc.TotalEpoch != 0 {
				add(scField+".totalEpoch", "only for training jobs (type 2)")
			}
		case TypeTrain:
			if sc.TotalEpoch < 0 || sc.TotalEpoch > MaxTotalEpoch {
				add(scField+".totalEpoch", "must be between 1 and %d, not %d", MaxTotalEpoch, sc.TotalEpoch)
			}
		default:
			add(scField+".type", "must be 1 (generate) or 2 (train), not %d", sc.Type)
		}
	}
	return ps
}

// Validate returns every broken rule joined, or nil.
func (r *CreateJobRequest) Validate() error { return joinProblems(r.Problems()) }

// Validate checks getJobRequest.
func (r *GetJobRequest) Validate() error {
	if r.ID == "" {
		return &ValidationError{Field: "id", Reason: "required"}
	}
	return nil
}

// Validate checks listJobsRequest.
func (r *ListJobsRequest) Validate() error {
	switch n := utf8.RuneCountInString(r.CustomID); {
	case n == 0:
		return &ValidationError{Field: "customId", Reason: "required"}
	case n > MaxCustomIDLen:
		return &ValidationError{Field: "customId", Reason: fmt.Sprintf("must be shorter than %d characters", MaxCustomIDLen+1)}
	}
	return nil
}

// Validate checks listModelsRequest.
func (r *ListModelsRequest) Validate() error {
	var ps []*ValidationError
	if r.Offset < 0 {
		ps = append(ps, &ValidationError{Field: "offset", Reason: "must not be negative"})
	}
	if r.Limit < 1 || r.Limit > MaxListLimit {
		ps = append(ps, &ValidationError{Field: "limit", Reason: fmt.Sprintf("must be between 1 and %d, not %d", MaxListLimit, r.Limit)})
	}
	if r.Type != ModelListType {
		ps = append(ps, &ValidationError{Field: "type", Reason: fmt.Sprintf("must be %d, not %d", ModelListType, r.Type)})
	}
	return joinProblems(ps)
}

func joinProblems(ps []*ValidationError) error {
	if len(ps) == 0 {
		return nil
	}
	errs := make([]error, len(ps))
	for i, p := range ps {
		errs[i] = p
	}
	return errors.Join(errs...)
}
