package manifest

import (
	"errors"
	"strings"
)

// tooLongMarker stands for a line over MaxLineBytes in what boundedLines gives: NUL bytes
// around it, which no text manifest holds, keep it from being mistaken for a cell.
const tooLongMarker = "\x00singbatch: line too long\x00"

func isTooLong(cell string) bool { return strings.Contains(cell, tooLongMarker) }

// errRecordTooLong ends a record of several lines (a quoted cell with line breaks) that
// runs over MaxLineBytes: a quote never closed would otherwise take the rest of the file
// into memory as one cell.
var errRecordTooLong = errors.New("record longer than MaxLineBytes")

// boundedLines reads a file as lineReader does, and gives its lines back, each ended by
// LF, with a line over MaxLineBytes replaced by tooLongMarker: a reader on it (as
// encoding/csv, which holds a whole record) never sees more than MaxLineBytes of a
// line, and line numbers stay those of the file. Its reader calls endRecord after each
// record; a record that would take more than MaxLineBytes ends in errRecordTooLong, and
// so does every Read after it.
type boundedLines struct {
	lines      lineReader
	buf        []byte // the current line and its LF
	pending    []byte // what of buf is not read yet
	err        error  // from lines (or errRecordTooLong), returned once pending is empty
	record     int    // bytes given of the current record; 0 before its first non-empty line
	recordLine int    // the line the current record starts on
}

// endRecord says that the reader has taken a whole record: the next non-empty line
// starts another.
func (b *boundedLines) endRecord() { b.record = 0 }

func (b *boundedLines) Read(p []byte) (int, error) {
	for len(b.pending) == 0 {
		if b.err != nil {
			return 0, b.err
		}
		line, tooLong, err := b.lines.next()
		if err != nil {
			b.err = err
			continue
		}
		if tooLong {
			line = []byte(tooLongMarker)
		}
		switch n := len(line) + 1; {
		case b.record == 0 && len(line) == 0: // a blank line between records, skipped
		case b.record == 0:
			b.record, b.recordLine = n, b.lines.line
		case b.record+n > MaxLineBytes:
			b.err = errRecordTooLong
			continue
		default:
			b.record += n
		}
		b.buf = append(append(b.buf[:0], line...), '\n')
		b.pending = b.buf
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}
