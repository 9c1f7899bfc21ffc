package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/singbatch/singbatch/batch"
)

func reportCommand() command {
	return command{name: "report", summary: "write one row per item of a batch (JSON lines or CSV)", run: runReportCommand}
}

type reportFlags struct {
	batch  string
	format string
	states []batch.State // nil: all
}

func parseReportFlags(e env, args []string) (reportFlags, error) {
	var f reportFlags
	var states string
	fs := newFlagSet(e, "report", "--batch NAME [--format jsonl|csv] [--state STATE[,STATE...]]")
	fs.StringVar(&f.batch, "batch", "", "the batch `NAME` (required)")
	fs.StringVar(&f.format, "format", batch.ReportJSONL, "`jsonl` (one JSON object per line) or csv (with a header)")
	fs.StringVar(&states, "state", "", "only items in these states, comma-separated `STATE`s: "+stateNames())
	if err := parseFlags(fs, args); err != nil {
		return f, err
	}
	if fs.NArg() > 0 {
		return f, usageError{fmt.Sprintf("report: unexpected argument %q", fs.Arg(0))}
	}
	if f.batch == "" {
		return f, usageError{"report: --batch is required"}
	}
	if err := batch.ValidBatchName(f.batch); err != nil {
		return f, usageError{"report: --batch: " + err.Error()}
	}
	if f.format != batch.ReportJSONL && f.format != batch.ReportCSV {
		return f, usageError{fmt.Sprintf("report: --format %q: use jsonl or csv", f.format)}
	}
	if states != "" {
		for s := range strings.SplitSeq(states, ",") {
			st := batch.State(strings.TrimSpace(s))
			if !st.Valid() {
				return f, usageError{fmt.Sprintf("report: --state %q: unknown state (states: %s)", s, stateNames())}
			}
			f.states = append(f.states, st)
		}
	}
	return f, nil
}

func stateNames() string {
	names := make([]string, 0, len(batch.States()))
	for _, s := range batch.States() {
		names = append(names, string(s))
	}
	return strings.Join(names, ", ")
}

func runReportCommand(ctx context.Context, e env, args []string) error {
	f, err := parseReportFlags(e, args)
	if err != nil {
		return err
	}
	a := newApp(e)
	defer func() { _ = a.Close() }()
	store, err := a.store()
	if err != nil {
		return err
	}
	return batch.WriteReport(ctx, e.stdout, store, f.batch, f.format, f.states)
}
