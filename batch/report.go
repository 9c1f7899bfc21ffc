package batch

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Report formats.
const (
	ReportJSONL = "jsonl"
	ReportCSV   = "csv"
)

// ReportRow is one item in a report. Final states are "completed", "failed" and
// "canceled" (its batch was canceled before the item's job was sent).
// Times are RFC 3339 in UTC with milliseconds, empty when not reached.
type ReportRow struct {
	ID               string `json:"id"`
	Seq              int64  `json:"seq"`
	Kind             Kind   `json:"kind"`
	State            State  `json:"state"`
	Attempt          int    `json:"attempt"`
	CustomID         string `json:"customId"`
	JobID            string `json:"jobId"`
	Model            string `json:"model"`
	SongName         string `json:"songName"`
	OutputRepository string `json:"outputRepository"`
	OutputPath       string `json:"outputPath"`
	Output           string `json:"output"` // "repository:path" of a song's result, for one-column use
	TrainedModel     string `json:"trainedModel"`
	Error            string `json:"error"`
	Origin           string `json:"origin"`
	EnqueuedAt       string `json:"enqueuedAt"`
	SubmittedAt      string `json:"submittedAt"`
	StartedAt        string `json:"startedAt"`
	FinishedAt       string `json:"finishedAt"`
	// Durations in seconds, from the service's timings where it gave them: waiting at
	// the service (submitted → started), processing (started → finished) and in all
	// (submitted → finished); null (CSV: empty) when not known.
	QueuedSeconds     *float64 `json:"queuedSeconds"`
	ProcessingSeconds *float64 `json:"processingSeconds"`
	TotalSeconds      *float64 `json:"totalSeconds"`
	Calls             int64    `json:"calls"` // upstream calls spent on the item, every attempt
	// Held says why an item not sent yet waits: "paused", "batch cap" or "account cap".
	Held string `json:"held,omitempty"`
}

// ReportColumns is the CSV header, in the order of ReportRow's fields.
func ReportColumns() []string {
	return []string{"id", "seq", "kind", "state", "attempt", "customId", "jobId", "model", "songName",
		"outputRepository", "outputPath", "output", "trainedModel", "error", "origin",
		"enqueuedAt", "submittedAt", "startedAt", "finishedAt", "queuedSeconds", "processingSeconds", "totalSeconds", "calls", "held"}
}

// NewReportRow turns a record into a report row.
func NewReportRow(r ItemRecord) ReportRow {
	return ReportRow{
		ID: r.ID, Seq: r.Seq, Kind: r.Kind, State: r.State, Attempt: r.Attempt,
		CustomID: r.CustomID, JobID: r.JobID, Model: r.Model,
		SongName: r.SongName, OutputRepository: r.OutputRepository, OutputPath: r.OutputPath,
		Output: reportOutput(r.OutputRepository, r.OutputPath), TrainedModel: r.TrainedModel,
		Error: r.Error, Origin: r.Origin,
		EnqueuedAt: reportTime(r.EnqueuedAt), SubmittedAt: reportTime(r.SubmittedAt),
		StartedAt: reportTime(r.StartedAt), FinishedAt: reportTime(r.FinishedAt),
		QueuedSeconds: seconds(r.SubmittedAt, r.StartedAt), ProcessingSeconds: seconds(r.StartedAt, r.FinishedAt),
		TotalSeconds: seconds(r.SubmittedAt, r.FinishedAt), Calls: r.Calls,
		Held: heldOf(r),
	}
}

// heldOf is why an item waits unsent; a record's mark left behind once the item moved
// on (a canceled one) is not shown.
func heldOf(r ItemRecord) string {
	if r.State == StatePending || r.State == StateWaiting {
		return r.Held
	}
	return ""
}

func (r ReportRow) csv() []string {
	return []string{csvText(r.ID), strconv.FormatInt(r.Seq, 10), string(r.Kind), string(r.State), strconv.Itoa(r.Attempt),
		csvText(r.CustomID), csvText(r.JobID), csvText(r.Model), csvText(r.SongName), csvText(r.OutputRepository),
		csvText(r.OutputPath), csvText(r.Output), csvText(r.TrainedModel), csvText(r.Error), csvText(r.Origin),
		r.EnqueuedAt, r.SubmittedAt, r.StartedAt, r.FinishedAt, csvSeconds(r.QueuedSeconds),
		csvSeconds(r.ProcessingSeconds), csvSeconds(r.TotalSeconds), strconv.FormatInt(r.Calls, 10), r.Held}
}

// csvText defuses a text cell that a spreadsheet would run as a formula (OWASP "CSV
// injection"): ids, file names and the service's messages come from outside, and
// reports are opened in spreadsheets. A leading ' makes the cell plain text; JSONL
// reports keep the values as they are.
func csvText(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// reportOutput joins a result's repository and path; empty while there is none.
func reportOutput(repo, path string) string {
	if repo == "" && path == "" {
		return ""
	}
	return repo + ":" + path
}

func reportTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}

// WriteReport writes one row per item of a batch, in manifest order, as JSON lines
// (format "jsonl") or CSV with a header ("csv"), keeping only items in the states of
// filter (nil: all). It streams: memory does not grow with the batch.
func WriteReport(ctx context.Context, w io.Writer, store *Store, batch, format string, filter []State) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var row func(ReportRow) error
	var flush func() error
	switch format {
	case ReportJSONL:
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		row = func(r ReportRow) error { return enc.Encode(r) }
		flush = bw.Flush
	case ReportCSV:
		cw := csv.NewWriter(bw)
		if err := cw.Write(ReportColumns()); err != nil {
			return fmt.Errorf("report of batch %s: %w", batch, err)
		}
		row = func(r ReportRow) error { return cw.Write(r.csv()) }
		flush = func() error {
			cw.Flush()
			if err := cw.Error(); err != nil {
				return err
			}
			return bw.Flush()
		}
	default:
		return fmt.Errorf("report format %q: must be %s or %s", format, ReportJSONL, ReportCSV)
	}
	if err := store.Items(ctx, batch, filter, func(r ItemRecord) error { return row(NewReportRow(r)) }); err != nil {
		return fmt.Errorf("report of batch %s: %w", batch, err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("report of batch %s: %w", batch, err)
	}
	return nil
}

// seconds is to − from in seconds (to the millisecond), nil when either is unknown or
// they are out of order (clocks of two machines).
func seconds(from, to time.Time) *float64 {
	if from.IsZero() || to.IsZero() || to.Before(from) {
		return nil
	}
	s := float64(to.Sub(from).Milliseconds()) / 1000
	return &s
}

func csvSeconds(s *float64) string {
	if s == nil {
		return ""
	}
	return strconv.FormatFloat(*s, 'f', 3, 64)
}
