package manifest

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/singbatch/singbatch/batch"
)

// field is a manifest field, whatever the format calls it.
type field uint8

const (
	fID field = iota
	fKind
	fModel
	fURL
	fText
	fSource          // JSONL: the song's source object
	fSourceContentID // CSV: source_content_id
	fSourcePath      // CSV: source_path
	fURLs
	fInputs // JSONL only
	fSeparate
	fContentID
	fDestination
	fOutputPrefix
	fEpochs
	fTimeout
)

// numFields counts the fields; keep it last.
const numFields = fTimeout + 1

// onlyFor is the kind a field belongs to, or "" for fields of both kinds.
func (fl field) onlyFor() batch.Kind {
	switch fl {
	case fURL, fText, fSource, fSourceContentID, fSourcePath, fSeparate, fContentID, fDestination, fOutputPrefix:
		return batch.KindSong
	case fURLs, fInputs, fEpochs:
		return batch.KindTrain
	}
	return ""
}

// fieldSet records which fields a line gives.
type fieldSet uint32

func (s fieldSet) has(f field) bool { return s&(1<<f) != 0 }
func (s *fieldSet) add(f field)     { *s |= 1 << f }

// name is the field's name in a format, as the user wrote it.
func (f Format) name(fl field) string {
	if f == FormatCSV {
		switch fl {
		case fSource, fSourceContentID:
			return "source_content_id"
		case fSourcePath:
			return "source_path"
		case fContentID:
			return "content_id"
		case fOutputPrefix:
			return "output_prefix"
		}
	}
	switch fl {
	case fID:
		return "id"
	case fKind:
		return "kind"
	case fModel:
		return "model"
	case fURL:
		return "url"
	case fText:
		return "text"
	case fSource:
		return "source"
	case fSourceContentID:
		return "source.contentId"
	case fSourcePath:
		return "source.path"
	case fURLs:
		return "urls"
	case fInputs:
		return "inputs"
	case fSeparate:
		return "separate"
	case fContentID:
		return "contentId"
	case fDestination:
		return "destination"
	case fOutputPrefix:
		return "outputPrefix"
	case fEpochs:
		return "epochs"
	case fTimeout:
		return "timeout"
	}
	return fmt.Sprintf("field(%d)", fl)
}

// entry is one manifest line as written, before normalization; empty means not given.
type entry struct {
	set          fieldSet
	id           string
	kind         string
	model        string
	url          string
	text         string
	source       *batch.Source // a song's source
	urls         []string
	inputs       []manifestInput
	separate     bool
	contentID    string
	destination  string
	outputPrefix string
	epochs       int
	timeout      int
}

// manifestInput is one element of a training's "inputs".
type manifestInput struct {
	URL    string        `json:"url"`
	Text   string        `json:"text"`
	Source *batch.Source `json:"source"`
}

// problem is one broken rule of a line, before it gets a file and line.
type problem struct {
	field  string
	reason string
}

// problems collects a line's problems, at most one per field: a second one on the same
// field is nearly always a consequence of the first (a missing url is also "required").
type problems []problem

func (ps *problems) add(field, format string, args ...any) {
	for _, p := range *ps {
		if p.field == field {
			return
		}
	}
	*ps = append(*ps, problem{field: field, reason: fmt.Sprintf(format, args...)})
}

// quote quotes a user's value for an error, shortened so one bad cell cannot flood a report.
func quote(s string) string {
	const limit = 60
	if utf8.RuneCountInString(s) > limit {
		s = string([]rune(s)[:limit]) + "…"
	}
	return fmt.Sprintf("%q", s)
}

// unknownReason explains an unknown field or column, suggesting the known name the user
// probably meant (a typo, or the other format's spelling such as output_prefix).
func unknownReason(what, name string, known []string) string {
	if s := suggest(name, known); s != "" {
		return fmt.Sprintf("unknown %s (did you mean %q?)", what, s)
	}
	return "unknown " + what
}

func suggest(name string, known []string) string {
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "", ".", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	for _, k := range known {
		if squash(k) == squash(name) {
			return k
		}
		// Within two edits, and fewer edits than the name is long: "x" is not a typo of "id".
		if d := editDistance(strings.ToLower(name), strings.ToLower(k)); d < bestDist && d < len(name) {
			best, bestDist = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance, in bytes; names here are ASCII.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
