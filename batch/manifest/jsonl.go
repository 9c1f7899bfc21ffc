package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/singbatch/singbatch/batch"
)

// jsonLine is one JSONL line as written. Pointers tell "absent" from a zero value where
// that matters.
type jsonLine struct {
	ID           string          `json:"id"`
	Kind         string          `json:"kind"`
	Model        string          `json:"model"`
	URL          string          `json:"url"`
	Text         string          `json:"text"`
	Source       *batch.Source   `json:"source"`
	URLs         []string        `json:"urls"`
	Inputs       []manifestInput `json:"inputs"`
	Separate     *bool           `json:"separate"`
	ContentID    string          `json:"contentId"`
	Destination  string          `json:"destination"`
	OutputPrefix string          `json:"outputPrefix"`
	Epochs       *int            `json:"epochs"`
	Timeout      int             `json:"timeout"`
}

type jsonlSource struct {
	lines  lineReader
	rd     bytes.Reader
	l      jsonLine // reused; zeroed per line so that items never share its values
	binary bool     // a NUL byte was seen: the rest of the file is not read
}

func newJSONLSource(r io.Reader) *jsonlSource {
	return &jsonlSource{lines: lineReader{br: bufio.NewReaderSize(r, 64<<10)}}
}

func (s *jsonlSource) format() Format { return FormatJSONL }

func (s *jsonlSource) next(e *entry, ps *problems) (int, bool, error) {
	if s.binary {
		return 0, false, io.EOF
	}
	for {
		b, tooLong, err := s.lines.next()
		if err != nil {
			return 0, false, err
		}
		line := s.lines.line
		if tooLong {
			ps.add("line", "longer than %d bytes", MaxLineBytes)
			return line, false, nil
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if i := bytes.IndexByte(b, 0); i >= 0 {
			// Text never holds NUL: this is an audio file or an archive given by
			// mistake. One problem for the file, not one per "line" of it.
			ps.add("line", "binary data (a NUL byte at byte %d): not a JSON Lines manifest; the rest of the file is skipped", i+1)
			s.binary = true
			return line, false, nil
		}
		if i := invalidUTF8(b); i >= 0 {
			ps.add("line", "invalid UTF-8 at byte %d", i+1)
			return line, false, nil
		}
		return line, s.decode(b, e, ps), nil
	}
}

// decode fills e from one line; false means the line could not be decoded (ps says why).
func (s *jsonlSource) decode(b []byte, e *entry, ps *problems) bool {
	s.l = jsonLine{}
	l := &s.l
	s.rd.Reset(b)
	dec := json.NewDecoder(&s.rd)
	dec.DisallowUnknownFields()
	err := dec.Decode(l)
	var syntaxErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case err == nil && bytes.Equal(bytes.TrimSpace(b), []byte("null")):
		// Decoding null into a struct is a no-op, which would read as an empty object.
		ps.add("line", "must be a JSON object, not null")
		return false
	case err == nil:
		if rest := bytes.TrimSpace(b[dec.InputOffset():]); len(rest) > 0 {
			ps.add("line", "invalid JSON: unexpected data after the object at byte %d", int(dec.InputOffset())+1)
			return false
		}
	case errors.As(err, &syntaxErr):
		ps.add("line", "invalid JSON: %v at byte %d", syntaxErr, syntaxErr.Offset)
		return false
	case errors.Is(err, io.ErrUnexpectedEOF):
		ps.add("line", "invalid JSON: unexpected end of line")
		return false
	case errors.As(err, &typeErr) && typeErr.Field == "":
		ps.add("line", "must be a JSON object, not %s", typeErr.Value)
		return false
	case errors.As(err, &typeErr):
		ps.add(typeErr.Field, "must be %s, not %s", jsonTypeName(typeErr.Type), typeErr.Value)
		return false
	default:
		// encoding/json has no error type for an unknown field, so look for them
		// ourselves rather than parse its message.
		for _, p := range unknownFields(b) {
			ps.add(p.field, "%s", p.reason)
		}
		if len(*ps) == 0 {
			ps.add("line", "invalid JSON: %v", err)
		}
		return false
	}
	*e = entry{
		id: l.ID, kind: l.Kind, model: l.Model, url: l.URL, text: l.Text, source: l.Source,
		urls: l.URLs, inputs: l.Inputs, contentID: l.ContentID, destination: l.Destination,
		outputPrefix: l.OutputPrefix, timeout: l.Timeout,
	}
	for _, g := range [...]struct {
		f     field
		given bool
	}{
		{fID, l.ID != ""}, {fKind, l.Kind != ""}, {fModel, l.Model != ""}, {fURL, l.URL != ""},
		{fText, l.Text != ""}, {fSource, l.Source != nil}, {fURLs, l.URLs != nil}, {fInputs, l.Inputs != nil},
		{fSeparate, l.Separate != nil}, {fContentID, l.ContentID != ""}, {fDestination, l.Destination != ""},
		{fOutputPrefix, l.OutputPrefix != ""}, {fEpochs, l.Epochs != nil}, {fTimeout, l.Timeout != 0},
	} {
		if g.given {
			e.set.add(g.f)
		}
	}
	if l.Separate != nil {
		e.separate = *l.Separate
	}
	if l.Epochs != nil {
		e.epochs = *l.Epochs
	}
	return true
}

func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.Slice:
		return "an array"
	case reflect.Struct:
		return "an object"
	}
	return t.String()
}

// invalidUTF8 returns the offset of the first byte that is not UTF-8, or -1. (A JSON
// decoder would quietly turn it into U+FFFD.)
func invalidUTF8(b []byte) int {
	if utf8.Valid(b) {
		return -1
	}
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			return i
		}
		i += size
	}
	return -1
}

// jsonLevel is a level of the JSONL schema, for finding unknown fields.
type jsonLevel int

const (
	levelLine jsonLevel = iota
	levelInput
	levelSource
)

func (l jsonLevel) keys() []string {
	switch l {
	case levelInput:
		return []string{"url", "text", "source"}
	case levelSource:
		return []string{"contentId", "path"}
	}
	return []string{"id", "kind", "model", "url", "text", "source", "urls", "inputs", "separate",
		"contentId", "destination", "outputPrefix", "epochs", "timeout"}
}

// child is the level of key's value: an object, or an array of objects.
func (l jsonLevel) child(key string) (child jsonLevel, array, ok bool) {
	switch {
	case key == "source" && (l == levelLine || l == levelInput):
		return levelSource, false, true
	case key == "inputs" && l == levelLine:
		return levelInput, true, true
	}
	return 0, false, false
}

// unknownFields lists every field of a line that the schema lacks, in the order written,
// each named by its path (e.g. "inputs[1].source.pth").
func unknownFields(b []byte) []problem {
	dec := json.NewDecoder(bytes.NewReader(b))
	var ps []problem
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	if err := walkObject(dec, "", levelLine, &ps); err != nil {
		return nil
	}
	return ps
}

// walkObject walks the rest of an object whose '{' was read.
func walkObject(dec *json.Decoder, path string, level jsonLevel, ps *[]problem) error {
	known := level.keys()
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		key, _ := tok.(string)
		name := ""
		for _, k := range known {
			if strings.EqualFold(k, key) { // as encoding/json matches
				name = k
				break
			}
		}
		if name == "" {
			*ps = append(*ps, problem{field: path + fieldKey(key), reason: unknownReason("field", key, known)})
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		child, array, ok := level.child(name)
		if !ok {
			if err := skipValue(dec); err != nil {
				return err
			}
			continue
		}
		if err := walkChild(dec, path+name, child, array, ps); err != nil {
			return err
		}
	}
	_, err := dec.Token() // '}'
	return err
}

// walkChild walks a value expected to be an object (or an array of objects); a value of
// another type is skipped, as its type error is not what is being looked for.
func walkChild(dec *json.Decoder, path string, level jsonLevel, array bool, ps *[]problem) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	d, isDelim := tok.(json.Delim)
	switch {
	case !isDelim:
		return nil // a scalar: already consumed
	case d == '{' && !array:
		return walkObject(dec, path+".", level, ps)
	case d == '[' && array:
		for i := 0; dec.More(); i++ {
			if err := walkChild(dec, path+"["+strconv.Itoa(i)+"]", level, false, ps); err != nil {
				return err
			}
		}
		_, err := dec.Token() // ']'
		return err
	}
	return skipRest(dec, d)
}

// skipValue skips the next value whole.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	return dec.Decode(&raw)
}

// skipRest skips the rest of an object or array whose opening delimiter was read.
func skipRest(dec *json.Decoder, open json.Delim) error {
	if open == '{' {
		for dec.More() {
			if _, err := dec.Token(); err != nil { // key
				return err
			}
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	} else {
		for dec.More() {
			if err := skipValue(dec); err != nil {
				return err
			}
		}
	}
	_, err := dec.Token()
	return err
}

// lineReader reads lines of any length without holding more than MaxLineBytes of one.
type lineReader struct {
	br   *bufio.Reader
	line int    // number of the line last returned
	buf  []byte // a line longer than br's buffer
}

// next returns the next line without its LF or CRLF (and, on line 1, without a byte-order
// mark), valid until the following call. tooLong reports a line over MaxLineBytes, whose
// bytes are dropped. err is io.EOF after the last line.
func (l *lineReader) next() (b []byte, tooLong bool, err error) {
	l.buf = l.buf[:0]
	size, long := 0, false
	for {
		chunk, err := l.br.ReadSlice('\n')
		size += len(chunk)
		if size > MaxLineBytes {
			long = true
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			if !long {
				l.buf = append(l.buf, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, false, err
		}
		if size == 0 {
			return nil, false, io.EOF
		}
		l.line++
		if long {
			return nil, true, nil
		}
		b = chunk
		if len(l.buf) > 0 {
			l.buf = append(l.buf, chunk...)
			b = l.buf
		}
		b = bytes.TrimSuffix(b, []byte("\n"))
		b = bytes.TrimSuffix(b, []byte("\r"))
		if l.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\uFEFF"))
		}
		return b, false, nil
	}
}

// fieldKey shows a JSON key in a field path, quoted unless it is a plain name.
func fieldKey(key string) string {
	if key == "" || strings.ContainsFunc(key, func(r rune) bool {
		return !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) {
		return strconv.Quote(key)
	}
	return key
}
