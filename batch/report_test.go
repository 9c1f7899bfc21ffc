package batch

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// reportFixture makes a batch of a completed song, a failed training and a pending
// song, retried once.
func reportFixture(t *testing.T) *Store {
	t.Helper()
	s, b := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "m.jsonl", []Item{songItem("s1", 1), trainItem("t1", "alice", 2), songItem("s2", 3)}); err != nil {
		t.Fatal(err)
	}
	move := func(id string, attempt int, to State, u Update) {
		t.Helper()
		b.clock.Advance(time.Second)
		if ok, _, err := s.Transition(ctx, "b1", id, attempt, nil, to, u); !ok || err != nil {
			t.Fatalf("%s to %s: %v %v", id, to, ok, err)
		}
	}
	move("s1", 1, StateSubmitting, Update{CustomID: "sb-b1-s1-1"})
	move("s1", 1, StateSubmitted, Update{JobID: "job-1"})
	for range 2 {
		if err := s.AddCall(ctx, "b1", "s1"); err != nil {
			t.Fatal(err)
		}
	}
	move("s1", 1, StateCompleted, Update{StartedAt: t0.Add(2500 * time.Millisecond), SongName: "out.mp3",
		OutputRepository: "repo1", OutputPath: "/out/s1/out.mp3"})
	move("t1", 1, StateSubmitting, Update{CustomID: "sb-b1-t1-1"})
	move("t1", 1, StateFailed, Update{Error: `InvalidParameter: "url", unreachable`})
	move("s2", 1, StateFailed, Update{Error: "x"})
	if ok, _, err := s.NewAttempt(ctx, "b1", "s2", StateFailed); !ok || err != nil {
		t.Fatal(ok, err)
	}
	return s
}

func TestWriteReportJSONL(t *testing.T) {
	t.Parallel()
	s := reportFixture(t)
	var buf bytes.Buffer
	if err := WriteReport(t.Context(), &buf, s, "b1", ReportJSONL, nil); err != nil {
		t.Fatal(err)
	}
	want := `{"id":"s1","seq":1,"kind":"song","state":"completed","attempt":1,"customId":"sb-b1-s1-1","jobId":"job-1","model":"default","songName":"out.mp3","outputRepository":"repo1","outputPath":"/out/s1/out.mp3","output":"repo1:/out/s1/out.mp3","trainedModel":"","error":"","origin":"songs.jsonl:1","enqueuedAt":"2025-01-02T03:04:05.006Z","submittedAt":"2025-01-02T03:04:07.006Z","startedAt":"2025-01-02T03:04:07.506Z","finishedAt":"2025-01-02T03:04:08.006Z","queuedSeconds":0.5,"processingSeconds":0.5,"totalSeconds":1,"calls":2}
{"id":"t1","seq":2,"kind":"train","state":"failed","attempt":1,"customId":"sb-b1-t1-1","jobId":"","model":"alice","songName":"","outputRepository":"","outputPath":"","output":"","trainedModel":"","error":"InvalidParameter: \"url\", unreachable","origin":"train.jsonl:2","enqueuedAt":"2025-01-02T03:04:05.006Z","submittedAt":"","startedAt":"","finishedAt":"2025-01-02T03:04:10.006Z","queuedSeconds":null,"processingSeconds":null,"totalSeconds":null,"calls":0}
{"id":"s2","seq":3,"kind":"song","state":"pending","attempt":2,"customId":"","jobId":"","model":"default","songName":"","outputRepository":"","outputPath":"","output":"","trainedModel":"","error":"","origin":"songs.jsonl:3","enqueuedAt":"2025-01-02T03:04:11.006Z","submittedAt":"","startedAt":"","finishedAt":"","queuedSeconds":null,"processingSeconds":null,"totalSeconds":null,"calls":0}
`
	if buf.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteReportCSV(t *testing.T) {
	t.Parallel()
	s := reportFixture(t)
	var buf bytes.Buffer
	if err := WriteReport(t.Context(), &buf, s, "b1", ReportCSV, []State{StateCompleted, StateFailed}); err != nil {
		t.Fatal(err)
	}
	want := `id,seq,kind,state,attempt,customId,jobId,model,songName,outputRepository,outputPath,output,trainedModel,error,origin,enqueuedAt,submittedAt,startedAt,finishedAt,queuedSeconds,processingSeconds,totalSeconds,calls,held
s1,1,song,completed,1,sb-b1-s1-1,job-1,default,out.mp3,repo1,/out/s1/out.mp3,repo1:/out/s1/out.mp3,,,songs.jsonl:1,2025-01-02T03:04:05.006Z,2025-01-02T03:04:07.006Z,2025-01-02T03:04:07.506Z,2025-01-02T03:04:08.006Z,0.500,0.500,1.000,2,
t1,2,train,failed,1,sb-b1-t1-1,,alice,,,,,,"InvalidParameter: ""url"", unreachable",train.jsonl:2,2025-01-02T03:04:05.006Z,,,2025-01-02T03:04:10.006Z,,,,0,
`
	if buf.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", buf.String(), want)
	}
}

func TestWriteReportErrors(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	var buf bytes.Buffer
	if err := WriteReport(t.Context(), &buf, s, "b1", "xml", nil); err == nil || !strings.Contains(err.Error(), `report format "xml"`) {
		t.Errorf("unknown format: %v", err)
	}
	if err := WriteReport(t.Context(), &buf, s, "nope", ReportCSV, nil); !errors.Is(err, ErrBatchNotFound) {
		t.Errorf("unknown batch: %v", err)
	}
	if buf.Len() != 0 {
		t.Errorf("failed reports wrote %q", buf.String())
	}
}

// Texts from outside (the service's messages, file names) must not run as spreadsheet
// formulas when a CSV report is opened; JSONL keeps them as they are.
func TestWriteReportCSVDefusesFormulas(t *testing.T) {
	t.Parallel()
	s, _ := setupStore(t)
	ctx := t.Context()
	if _, err := s.AddItems(ctx, "b1", "m.jsonl", []Item{songItem("s1", 1), songItem("s2", 2)}); err != nil {
		t.Fatal(err)
	}
	const formula = `=HYPERLINK("http://evil.example","click")`
	for id, u := range map[string]Update{
		"s1": {Error: formula},
		"s2": {Error: "-2 inputs rejected", SongName: "@SUM(A1)"},
	} {
		if ok, _, err := s.Transition(ctx, "b1", id, 1, nil, StateFailed, u); !ok || err != nil {
			t.Fatalf("%s: %v %v", id, ok, err)
		}
	}
	var csvOut, jsonOut bytes.Buffer
	if err := WriteReport(ctx, &csvOut, s, "b1", ReportCSV, nil); err != nil {
		t.Fatal(err)
	}
	if err := WriteReport(ctx, &jsonOut, s, "b1", ReportJSONL, nil); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"'=HYPERLINK(""http://evil.example"",""click"")"`, ",'@SUM(A1),", ",'-2 inputs rejected,"} {
		if !strings.Contains(csvOut.String(), want) {
			t.Errorf("CSV report lacks %s:\n%s", want, csvOut.String())
		}
	}
	for _, want := range []string{`"error":"=HYPERLINK(\"http://evil.example\",\"click\")"`, `"songName":"@SUM(A1)"`} {
		if !strings.Contains(jsonOut.String(), want) {
			t.Errorf("JSONL report lacks %s:\n%s", want, jsonOut.String())
		}
	}
}
