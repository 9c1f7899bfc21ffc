package manifest

import "strings"

// tooLongMarker stands for a line over MaxLineBytes in what boundedLines gives: NUL bytes
// around it, which no text manifest holds, keep it from being mistaken for a cell.
const tooLongMarker = "\x00singbatch: line too long\x00"

func isTooLong(cell string) bool { return strings.Contains(cell, tooLongMarker) }

// boundedLines reads a file as lineReader does, and gives its lines back, each ended by
// LF, with a line over MaxLineBytes replaced by tooLongMarker: a reader on it (as
// encoding/csv, which holds a whole record) never sees more than MaxLineBytes of a
// line, and line numbers stay those of the file.
type boundedLines struct {
	lines   lineReader
	buf     []byte // the current line and its LF
	pending []byte // what of buf is not read yet
	err     error  // from lines, returned once pending is empty
}

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
		b.buf = append(append(b.buf[:0], line...), '\n')
		b.pending = b.buf
	}
	n := copy(p, b.pending)
	b.pending = b.pending[n:]
	return n, nil
}
