package batch

import "strconv"

// LineError is one problem with one manifest line. A line with several problems yields
// several LineErrors, at most one per field.
type LineError struct {
	File   string
	Line   int
	Field  string // manifest field as written in the file, "line" for the whole line, "header" for a CSV header
	Reason string
}

func (e *LineError) Error() string {
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Field + ": " + e.Reason
}
