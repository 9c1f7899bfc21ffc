package manifest

// CSV manifests
//
// The first non-blank row names the columns, in any order; every column but kind is
// optional, an unknown or repeated column is an error (the whole file is then rejected),
// and names are matched without regard to case. Each later row is one item. Cells are
// trimmed of surrounding spaces; an empty cell means "not given". Quote a cell ("…")
// that holds a comma, a quote ("") or a line break (a multi-line text).
//
//	column             kinds  meaning (see the JSONL fields for the rules)
//	id                 both   optional item id; derived from the content when empty
//	kind               both   required: song or train
//	model              both   song: model to sing with (default "default"); train: new model's name
//	url                song   the song's audio, an http(s) URL; or instead:
//	text               song   text input, at most 512 characters; or instead:
//	source_content_id  song   a file in a content repository: its repository id …
//	source_path        song   … and its path there
//	content_id         song   required: the repository the result is written to
//	destination        song   folder in that repository; default /singbatch/<id>
//	output_prefix      song   result file name prefix, under 20 characters
//	separate           song   true/false (also 1/0, t/f, TRUE/FALSE): separate the vocal first
//	urls               train  the recordings: http(s) URLs separated by spaces, tabs or
//	                          line breaks (URLs cannot contain white space, while "|"
//	                          may occur in a query string)
//	epochs             train  1..50, default 30
//	timeout            both   seconds; 0 or empty = the service's default
//
// Example:
//
//	id,kind,model,url,urls,content_id,separate,epochs
//	s-001,song,default,https://example.com/a.mp3,,repo1,true,
//	alice,train,alice_v1,,https://example.com/1.wav https://example.com/2.wav,,,30
//
// Training inputs other than URLs (text, repository files) need a JSONL manifest.

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/singbatch/singbatch/batch"
)

type csvSource struct {
	cr   *csv.Reader
	in   *boundedLines // what cr reads
	cols []field       // column index → field; nil until the header is read
	dead bool          // the header was bad: no row can be understood
}

func newCSVSource(r io.Reader) *csvSource {
	// encoding/csv holds a whole record in memory: it reads through boundedLines, which
	// bounds lines and records and also drops the byte-order mark.
	in := &boundedLines{lines: lineReader{br: bufio.NewReaderSize(r, 64<<10)}}
	cr := csv.NewReader(in)
	cr.FieldsPerRecord = -1 // checked here, with a clearer message
	cr.ReuseRecord = true
	return &csvSource{cr: cr, in: in}
}

func (s *csvSource) format() Format { return FormatCSV }

// csvColumns lists the known columns in documentation order.
func csvColumns() []field {
	return []field{fID, fKind, fModel, fURL, fURLs, fText, fSourceContentID, fSourcePath,
		fSeparate, fContentID, fDestination, fOutputPrefix, fEpochs, fTimeout}
}

func (s *csvSource) next(e *entry, ps *problems) (int, bool, error) {
	if s.dead {
		return 0, false, io.EOF
	}
	for {
		rec, err := s.cr.Read()
		s.in.endRecord()
		if errors.Is(err, errRecordTooLong) {
			// Rows after a quote left open cannot be told apart from the cell's lines.
			ps.add("line", "longer than %d bytes: a quoted cell runs on to line %d (a quote not closed?); the rest of the file is skipped", MaxLineBytes, s.in.lines.line)
			s.dead = true
			return s.in.recordLine, false, nil
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) { // a malformed row; the reader goes on with the next

			where := fmt.Sprintf("column %d", pe.Column)
			if pe.Line != pe.StartLine { // inside a quoted cell spanning lines
				where = fmt.Sprintf("line %d, column %d", pe.Line, pe.Column)
			}
			ps.add("line", "invalid CSV: %v at %s", pe.Err, where)
			if s.cols == nil {
				s.dead = true
			}
			return pe.StartLine, false, nil
		}
		if err != nil {
			return 0, false, err // io.EOF or a read failure
		}
		line, _ := s.cr.FieldPos(0)
		if i := slices.IndexFunc(rec, isTooLong); i >= 0 {
			line, _ = s.cr.FieldPos(i)
			ps.add("line", "longer than %d bytes", MaxLineBytes)
			if s.cols == nil {
				s.dead = true
			}
			return line, false, nil
		}
		if blankRecord(rec) {
			continue
		}
		if s.cols == nil {
			s.readHeader(rec, ps)
			if len(*ps) > 0 {
				s.dead = true
			}
			return line, false, nil
		}
		if len(rec) != len(s.cols) {
			ps.add("line", "has %d fields, the header has %d", len(rec), len(s.cols))
			return line, false, nil
		}
		*e = entry{}
		for i, cell := range rec {
			s.setCell(e, s.cols[i], cell, ps)
		}
		return line, true, nil
	}
}

func blankRecord(rec []string) bool {
	for _, c := range rec {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// readHeader maps the header's columns to fields, reporting every unknown, repeated or
// missing column.
func (s *csvSource) readHeader(rec []string, ps *problems) {
	known := csvColumns()
	names := make([]string, len(known))
	for i, f := range known {
		names[i] = FormatCSV.name(f)
	}
	var seen fieldSet
	cols := make([]field, len(rec))
	var bad []problem
	for i, cell := range rec {
		name := strings.TrimSpace(cell)
		col := -1
		for j, n := range names {
			if strings.EqualFold(n, name) {
				col = j
				break
			}
		}
		switch {
		case !utf8.ValidString(name):
			bad = append(bad, problem{"header", fmt.Sprintf("column %d: invalid UTF-8", i+1)})
		case name == "":
			bad = append(bad, problem{"header", fmt.Sprintf("column %d has no name", i+1)})
		case col < 0:
			bad = append(bad, problem{"header", unknownReason("column "+quote(name), name, names)})
		case seen.has(known[col]):
			bad = append(bad, problem{"header", fmt.Sprintf("column %s appears twice", quote(names[col]))})
		default:
			seen.add(known[col])
			cols[i] = known[col]
		}
	}
	if len(bad) == 0 && !seen.has(fKind) {
		bad = append(bad, problem{"header", `missing column "kind"`})
	}
	// Several header problems share the field "header": append them all.
	*ps = append(*ps, bad...)
	if len(bad) == 0 {
		s.cols = cols
	}
}

// setCell stores one cell in e; a cell that cannot be converted is reported and left out.
func (s *csvSource) setCell(e *entry, f field, cell string, ps *problems) {
	name := FormatCSV.name(f)
	if !utf8.ValidString(cell) {
		// Reported, yet kept: treating the cell as empty would add a bogus "required".
		ps.add(name, "invalid UTF-8")
	}
	v := strings.TrimSpace(cell)
	if v == "" {
		return
	}
	switch f {
	case fID:
		e.id = v
	case fKind:
		e.kind = v
	case fModel:
		e.model = v
	case fURL:
		e.url = v
	case fText:
		e.text = v
	case fSourceContentID, fSourcePath:
		if e.source == nil {
			e.source = &batch.Source{}
		}
		if f == fSourceContentID {
			e.source.ContentID = v
		} else {
			e.source.Path = v
		}
	case fURLs:
		e.urls = strings.Fields(v)
	case fSeparate:
		b, err := strconv.ParseBool(v)
		if err != nil {
			ps.add(name, "must be true or false, not %s", quote(v))
			return
		}
		e.separate = b
	case fContentID:
		e.contentID = v
	case fDestination:
		e.destination = v
	case fOutputPrefix:
		e.outputPrefix = v
	case fEpochs, fTimeout:
		n, err := strconv.Atoi(v)
		if err != nil {
			ps.add(name, "must be an integer, not %s", quote(v))
			return
		}
		if f == fEpochs {
			e.epochs = n
		} else {
			e.timeout = n
		}
	}
	e.set.add(f)
}
