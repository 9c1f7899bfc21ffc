package main

import (
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/singbatch/singbatch/batch"
)

func TestReport(t *testing.T) {
	t.Parallel()
	b := statusFixture(t)
	songs := b.dir + "/songs.jsonl"

	// JSON lines: every item, in manifest order.
	out := b.mustRun("", "report", "--batch", "b1")
	var got []string
	for line := range strings.Lines(out) {
		var r batch.ReportRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		got = append(got, strings.Join([]string{r.ID, string(r.Kind), string(r.State), r.CustomID, r.JobID, r.Model,
			r.SongName, r.Output, r.TrainedModel, r.Error, r.Origin}, "|"))
	}
	assertList(t, "jsonl report", got, []string{
		"s-0001|song|completed|c-s-0001|job-s-0001|default|out.mp3|repo1:/singbatch/s-0001/out.mp3|||" + songs + ":1",
		"s-0002|song|failed|c-s-0002|job-s-0002|default||||job ended in ERROR: bad audio|" + songs + ":2",
		"s-0003|song|submitted|c-s-0003|job-s-0003|default|||||" + songs + ":3",
		"s-0004|song|pending|||default|||||" + songs + ":4",
		"t1|train|completed|c-t1|job-t1|alice_v1|||alice_v1||" + songs + ":5",
	})

	// CSV of the final items only.
	out = b.mustRun("", "report", "--batch", "b1", "--format", "csv", "--state", "completed,failed")
	rows, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	assertList(t, "csv header", rows[0], batch.ReportColumns())
	for _, col := range []string{"id", "kind", "state", "customId", "jobId", "model", "songName", "output", "error"} {
		if !strings.Contains(","+strings.Join(rows[0], ",")+",", ","+col+",") {
			t.Errorf("report lacks column %s", col)
		}
	}
	col := map[string]int{}
	for i, c := range rows[0] {
		col[c] = i
	}
	got = nil
	for _, r := range rows[1:] {
		got = append(got, r[col["id"]]+"|"+r[col["state"]]+"|"+r[col["output"]]+"|"+r[col["error"]])
	}
	assertList(t, "csv report", got, []string{
		"s-0001|completed|repo1:/singbatch/s-0001/out.mp3|",
		"s-0002|failed||job ended in ERROR: bad audio",
		"t1|completed||",
	})

	_, _, err = b.run(t.Context(), "", "report", "--batch", "nope")
	if err == nil || err.Error() != "report of batch nope: items of batch nope: batch not found" {
		t.Errorf("unknown batch: %v", err)
	}
	for args, want := range map[string]string{
		"report":                             "report: --batch is required",
		"report --batch b1 --format xml":     `report: --format "xml": use jsonl or csv`,
		"report --batch b1 --state done":     `report: --state "done": unknown state (states: pending, waiting, submitting, submitted, completed, failed, canceled)`,
		"report --batch b1 extra":            `report: unexpected argument "extra"`,
		"report --batch b1 --state pending,": `report: --state "": unknown state (states: pending, waiting, submitting, submitted, completed, failed, canceled)`,
	} {
		_, _, err := b.run(t.Context(), "", strings.Fields(args)...)
		if _, ok := err.(usageError); !ok || err.Error() != want {
			t.Errorf("%s: %v, want usage error %q", args, err, want)
		}
	}
}
