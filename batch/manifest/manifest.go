// Package manifest reads manifests into batch items.
//
// A manifest lists the items of a batch, one per line: JSON Lines (.jsonl, .ndjson,
// .json) or CSV with a header row (.csv); "-" reads standard input, whose format must be
// given. Files are UTF-8, with or without a byte-order mark, with LF or CRLF line ends;
// blank lines are skipped but still counted, so every error names the line an editor
// shows: "FILE:LINE: field: reason".
//
// JSONL, one object per line; unknown fields are errors:
//
//	{"id":"s-001","kind":"song","url":"https://example.com/a.mp3","model":"default","separate":true,"contentId":"repo1","destination":"/out","outputPrefix":"a_","timeout":900}
//	{"id":"alice","kind":"train","model":"alice_v1","urls":["https://example.com/1.wav","https://example.com/2.wav"],"epochs":30,"timeout":7200}
//
//	field         kinds  meaning
//	id            both   optional; ASCII letters, digits, '.', '_', '-', at most 64, unique
//	                     in the batch. Without it the id is "k-" + 16 hex digits of a hash
//	                     of the normalized job (batch.DeriveID): the same line is the
//	                     same item.
//	kind          both   required: "song" (generate) or "train" (train a model)
//	model         both   song: the model to sing with, default "default"; train: required,
//	                     the new model's name (digits, ASCII letters, '_', under 64)
//	url           song   the song's audio, an http(s) URL; or instead:
//	text          song   text input (the API's sourceData), at most 512 characters; or:
//	source        song   {"contentId":"…","path":"…"}: a file in a content repository
//	contentId     song   required: the repository the result is written to
//	destination   song   folder in that repository; default "/singbatch/<id>", so that
//	                     jobs never overwrite each other's results
//	outputPrefix  song   result file name prefix, under 20 characters
//	separate      song   true: separate the dry vocal from the music first
//	urls          train  the recordings, http(s) URLs
//	inputs        train  more recordings, each {"url":…}, {"text":…} or {"source":{…}};
//	                     inputs follow urls in the request
//	epochs        train  1..50, default 30
//	timeout       both   seconds before the service gives up on the job; 0 = its default
//
// Every rule of the API contract is checked while reading, before anything is sent.
package manifest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/singbatch/singbatch/batch"
)

// Format is a manifest's syntax.
type Format int

// Manifest formats.
const (
	FormatAuto  Format = iota // chosen by the file name's extension
	FormatJSONL               // one JSON object per line
	FormatCSV                 // a header row, then one item per row
)

// StdinName is the name "-" (standard input) gets in errors and origins.
const StdinName = "stdin"

// MaxLineBytes bounds one line, and one CSV record of several lines; longer ones are
// reported, not read into memory.
const MaxLineBytes = 1 << 20

// DefaultDestinationRoot is the folder under which a song without an explicit
// destination gets its own sub-folder, named after the item id (contract README §8).
const DefaultDestinationRoot = batch.DefaultDestinationRoot

// ErrUnknownFormat is returned for a manifest whose format cannot be told.
var ErrUnknownFormat = errors.New("unknown manifest format")

func (f Format) String() string {
	switch f {
	case FormatAuto:
		return "auto"
	case FormatJSONL:
		return "jsonl"
	case FormatCSV:
		return "csv"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ParseFormat parses a format name as a user writes it: "jsonl" (or "ndjson", "json"),
// "csv", or "" / "auto".
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "jsonl", "ndjson", "json":
		return FormatJSONL, nil
	case "csv":
		return FormatCSV, nil
	}
	return FormatAuto, fmt.Errorf("%w %q: use jsonl or csv", ErrUnknownFormat, s)
}

// FormatOf tells a manifest's format from its file name.
func FormatOf(name string) (Format, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".jsonl", ".ndjson", ".json":
		return FormatJSONL, nil
	case ".csv":
		return FormatCSV, nil
	}
	return FormatAuto, fmt.Errorf("manifest %s: %w: name it .jsonl, .ndjson, .json or .csv, or give the format", name, ErrUnknownFormat)
}

// Reader reads one manifest item by item, in constant memory.
type Reader struct {
	name    string
	src     recordSource
	sets    *batchSets
	err     error // sticky: io.EOF or a fatal error
	pending []*batch.LineError
	next    int // index of the next pending error
	probs   problems
	e       entry // the line being read; reused to keep allocations per line down
}

// NewReader reads a manifest from r. The name is used in errors and origins and, for
// FormatAuto, to choose the format. Ids are checked for uniqueness within this reader;
// ReadManifests checks them across several manifests.
func NewReader(name string, r io.Reader, format Format) *Reader {
	return newReader(name, r, format, newBatchSets(true))
}

func newReader(name string, r io.Reader, format Format, sets *batchSets) *Reader {
	rd := &Reader{name: name, sets: sets}
	if format == FormatAuto {
		f, err := FormatOf(name)
		if err != nil {
			rd.err = err
			return rd
		}
		format = f
	}
	switch format {
	case FormatJSONL:
		rd.src = newJSONLSource(r)
	case FormatCSV:
		rd.src = newCSVSource(r)
	default:
		rd.err = fmt.Errorf("manifest %s: %w %v", name, ErrUnknownFormat, format)
	}
	return rd
}

// Next returns the next item. For a bad line it returns a *batch.LineError per problem, one
// per call, then goes on with the next line. At the end it returns io.EOF; a read
// failure is returned as is, and Next keeps returning it.
func (r *Reader) Next() (batch.Item, error) {
	for {
		if r.next < len(r.pending) {
			e := r.pending[r.next]
			r.next++
			return batch.Item{}, e
		}
		if r.err != nil {
			return batch.Item{}, r.err
		}
		if item, ok := r.readLine(); ok {
			return item, nil
		}
	}
}

// readLine reads one record. It returns the item, or queues the line's problems (or
// records the end) and returns false.
func (r *Reader) readLine() (batch.Item, bool) {
	r.pending, r.next = r.pending[:0], 0
	r.probs = r.probs[:0]
	r.e = entry{}
	line, decoded, err := r.src.next(&r.e, &r.probs)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			err = fmt.Errorf("read manifest %s: %w", r.name, err)
		}
		r.err = err
		return batch.Item{}, false
	}
	if decoded {
		n := normalizer{format: r.src.format(), e: &r.e, ps: &r.probs, sets: r.sets}
		if item, ok := n.item(); ok && len(r.probs) == 0 {
			item.Origin = r.name + ":" + strconv.Itoa(line)
			return item, true
		}
	}
	for _, p := range r.probs {
		r.pending = append(r.pending, &batch.LineError{File: r.name, Line: line, Field: p.field, Reason: p.reason})
	}
	return batch.Item{}, false
}

// ReadManifests reads manifests as one batch, in order: each name is a file, or "-" for
// stdin. The format applies to every name; FormatAuto chooses a file's by its
// extension, and standard input's by its content (sniffFormat). Ids must be unique
// across all the manifests.
//
// The sequence yields each good item with a nil error, and a *batch.LineError for each
// problem of a bad line, then goes on. Any other error (a name or format it cannot
// use, a file it cannot open or read) is yielded last; nothing is yielded after it.
// Names and formats are checked before the first line is read.
//
// Duplicate ids are found with a set of 64-bit hashes, about 38 bytes per id (see hashSet), unless
// WithoutDuplicateCheck is given.
func Read(names []string, stdin io.Reader, format Format, opts ...ReadOption) iter.Seq2[batch.Item, error] {
	var cfg readConfig
	for _, o := range opts {
		o(&cfg)
	}
	return func(yield func(batch.Item, error) bool) {
		formats, err := manifestFormats(names, stdin, format)
		if err != nil {
			yield(batch.Item{}, err)
			return
		}
		sets := newBatchSets(!cfg.noDuplicateCheck)
		for i, name := range names {
			if !readManifest(name, stdin, formats[i], sets, yield) {
				return
			}
		}
	}
}

// ReadOption changes how ReadManifests reads.
type ReadOption func(*readConfig)

type readConfig struct {
	noDuplicateCheck bool
}

// WithoutDuplicateCheck makes ReadManifests yield lines whose id (explicit or derived)
// an earlier line already used, instead of reporting them, so that its memory stays flat
// whatever the manifests' size. The caller finds duplicates itself (Store.AddItems with
// AddRun does, in Redis). Model names of trainings are still checked.
func WithoutDuplicateCheck() ReadOption {
	return func(c *readConfig) { c.noDuplicateCheck = true }
}

func manifestFormats(names []string, stdin io.Reader, format Format) ([]Format, error) {
	formats := make([]Format, len(names))
	stdinSeen := false
	for i, name := range names {
		switch {
		case name == "-" && stdinSeen:
			return nil, errors.New(`manifest "-" (stdin) given more than once`)
		case name == "-" && stdin == nil:
			return nil, errors.New(`manifest "-": no standard input`)
		case name == "-":
			stdinSeen = true
			formats[i] = format
		case format != FormatAuto:
			formats[i] = format
		default:
			f, err := FormatOf(name)
			if err != nil {
				return nil, err
			}
			formats[i] = f
		}
	}
	return formats, nil
}

// readManifest yields one manifest's items and problems; false means stop.
func readManifest(name string, stdin io.Reader, format Format, sets *batchSets, yield func(batch.Item, error) bool) bool {
	r, display := stdin, StdinName
	if name == "-" && format == FormatAuto {
		br := bufio.NewReader(stdin)
		format, r = sniffFormat(br), br
	}
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			yield(batch.Item{}, fmt.Errorf("manifest: %w", err)) // os.Open names the file
			return false
		}
		defer f.Close() // read-only: a close error loses nothing
		r, display = f, name
	}
	rd := newReader(display, r, format, sets)
	for {
		item, err := rd.Next()
		var le *batch.LineError
		switch {
		case errors.Is(err, io.EOF):
			return true
		case errors.As(err, &le):
			if !yield(batch.Item{}, le) {
				return false
			}
		case err != nil:
			yield(batch.Item{}, err)
			return false
		default:
			if !yield(item, nil) {
				return false
			}
		}
	}
}

// recordSource reads a manifest's records in one format.
type recordSource interface {
	// next decodes the next non-blank record into e and returns its line number.
	// Problems found decoding it go to ps; decoded=false means e is not worth
	// normalizing (only ps is reported). err is io.EOF at the end, or a read failure.
	next(e *entry, ps *problems) (line int, decoded bool, err error)
	format() Format
}

// sniffFormat tells a manifest's format from its content, without consuming it: JSON
// Lines when the first byte that is not blank (nor a byte-order mark) is '{', else CSV,
// whose first row is its header. An empty input reads as JSON Lines, without items.
func sniffFormat(r *bufio.Reader) Format {
	for n := 1; ; n++ {
		b, err := r.Peek(n)
		if len(b) < n {
			return FormatJSONL
		}
		c := b[n-1]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
		case n <= 3 && c == "\xef\xbb\xbf"[n-1]: // UTF-8 byte-order mark
		case c == '{':
			return FormatJSONL
		default:
			return FormatCSV
		}
		if err != nil {
			return FormatJSONL
		}
	}
}
