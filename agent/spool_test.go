package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agentproto"
)

// types returns the message types of encoded messages.
func types(msgs [][]byte) []agentproto.MessageType {
	var out []agentproto.MessageType
	for _, m := range msgs {
		var h agentproto.Header
		json.Unmarshal(m, &h)
		out = append(out, h.Type)
	}
	return out
}

func TestSpoolOrderAcksAndResend(t *testing.T) {
	t.Parallel()
	s := newSpool("", 1<<20)
	s.addJob("j")
	s.event("j", agentproto.JobAccepted{Type: agentproto.TypeJobAccepted, JobID: "j"}, false)
	s.event("j", agentproto.StepStarted{Type: agentproto.TypeStepStarted, JobID: "j", Step: 1}, false)
	s.appendLines(t.Context(), "j", []agentproto.LogLine{{Step: 1, Text: "a"}, {Step: 1, Text: "b"}})
	s.event("j", agentproto.StepFinished{Type: agentproto.TypeStepFinished, JobID: "j", Step: 1}, false)
	s.appendLines(t.Context(), "j", []agentproto.LogLine{{Step: 2, Text: "c"}})

	got := types(s.next())
	want := []agentproto.MessageType{"jobAccepted", "stepStarted", "logBatch", "stepFinished", "logBatch"}
	if len(got) != len(want) {
		t.Fatalf("first send: %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("first send: %v, want %v", got, want)
		}
	}
	if len(s.next()) != 0 {
		t.Fatal("sent twice on one connection")
	}

	// Ack 2 of 3, reconnect: reports again, and only line 3.
	s.ackLogs("j", 2)
	s.resend("")
	msgs := s.next()
	var lines []agentproto.LogLine
	for _, m := range msgs {
		var b agentproto.LogBatch
		if json.Unmarshal(m, &b); b.Type == agentproto.TypeLogBatch {
			lines = append(lines, b.Lines...)
		}
	}
	if len(lines) != 1 || lines[0].Seq != 3 || lines[0].Text != "c" {
		t.Errorf("resent lines %+v, want only seq 3", lines)
	}
	if len(types(msgs)) != 4 { // accepted, started, finished, one batch
		t.Errorf("resent %v", types(msgs))
	}
}

func TestSpoolPersistsFinishedJobs(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "results")
	s := newSpool(dir, 1<<20)
	s.addJob("j/1") // not a safe file name: hashed
	s.appendLines(t.Context(), "j/1", []agentproto.LogLine{{Text: "a"}, {Text: "b"}})
	s.ackLogs("j/1", 1)
	if err := s.event("j/1", agentproto.JobFinished{Type: agentproto.TypeJobFinished, JobID: "j/1", Status: agentproto.JobFailed, LastSeq: 2}, true); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("files %v", entries)
	}
	if fi, _ := entries[0].Info(); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}

	// A restarted agent loads it, reports it finished and resends line 2 and the result.
	s2 := newSpool(dir, 1<<20)
	if err := s2.load(); err != nil {
		t.Fatal(err)
	}
	running, finished := s2.progress()
	if len(running) != 0 || len(finished) != 1 || finished[0].JobID != "j/1" || finished[0].AckedSeq != 1 || finished[0].LastSeq != 2 {
		t.Fatalf("progress %+v %+v", running, finished)
	}
	got := types(s2.next())
	if len(got) != 2 || got[0] != agentproto.TypeLogBatch || got[1] != agentproto.TypeJobFinished {
		t.Fatalf("sent %v", got)
	}
	s2.ackResult("j/1")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("result file kept after ack: %v", entries)
	}
	if !s2.empty() {
		t.Error("spool not empty after ack")
	}
}

func TestSpoolBackpressure(t *testing.T) {
	t.Parallel()
	s := newSpool("", 10)
	s.addJob("j")
	s.appendLines(t.Context(), "j", []agentproto.LogLine{{Text: "0123456789"}})

	// Full: appendLines waits until its context ends (then keeps the lines anyway).
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	s.appendLines(ctx, "j", []agentproto.LogLine{{Text: "x"}})
	if ctx.Err() == nil {
		t.Fatal("appendLines returned at once although the spool was full")
	}

	// An acknowledgement releases a waiting writer.
	done := make(chan struct{})
	go func() {
		s.appendLines(t.Context(), "j", []agentproto.LogLine{{Text: "more"}})
		close(done)
	}()
	s.ackLogs("j", 2)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("ack did not release the writer")
	}
	if got := s.lastSeq("j"); got != 3 {
		t.Errorf("lastSeq %d", got)
	}
}

// A finished job's file holds what json.Marshal writes for its persistedJob (load reads it).
func TestSpoolPersistedEncoding(t *testing.T) {
	j := &jobSpool{id: "job <7>", lastSeq: 3, ackedSeq: 1,
		lines: []agentproto.LogLine{{Seq: 2, Step: 1, Time: time.Date(2026, 12, 7, 1, 2, 3, 4, time.UTC), Text: "a \"b\" <c>", Kind: agentproto.LineWarning},
			{Seq: 3, Time: time.Date(2026, 12, 7, 1, 2, 3, 0, time.UTC), Text: "ü"}},
		events: []spoolEvent{{AfterSeq: 3, Msg: json.RawMessage(`{"type":"jobFinished"}`)}}}
	got, err := encodePersisted(j)
	if err != nil {
		t.Fatal(err)
	}
	want, err := json.Marshal(persistedJob{JobID: j.id, LastSeq: j.lastSeq, AckedSeq: j.ackedSeq, Lines: j.lines, Events: j.events})
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatalf("encodePersisted:\n got %s\nwant %s", got, want)
	}
}

// TestSpoolHoldsAStartingJobsReports: while a job starts (hold), its reports are queued but the
// writer is not woken; the release wakes it once, and the reports go out in order. Without a
// hold a report wakes the writer at once.
func TestSpoolHoldsAStartingJobsReports(t *testing.T) {
	t.Parallel()
	woken := func(s *spool) bool {
		select {
		case <-s.notify:
			return true
		default:
			return false
		}
	}
	s := newSpool("", 1<<20)
	s.addJob("j")
	s.hold()
	s.event("j", agentproto.JobAccepted{Type: agentproto.TypeJobAccepted, JobID: "j"}, false)
	s.event("j", agentproto.StepFinished{Type: agentproto.TypeStepFinished, JobID: "j", Step: 0}, false)
	if woken(s) {
		t.Fatal("the writer was woken while the job's start was held")
	}
	s.event("j", agentproto.StepStarted{Type: agentproto.TypeStepStarted, JobID: "j", Step: 1}, false)
	s.release()
	if !woken(s) {
		t.Fatal("the release did not wake the writer")
	}
	got := types(s.next())
	want := []agentproto.MessageType{"jobAccepted", "stepFinished", "stepStarted"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("sent %v, want %v", got, want)
	}
	s.event("j", agentproto.StepFinished{Type: agentproto.TypeStepFinished, JobID: "j", Step: 1}, false)
	if !woken(s) {
		t.Fatal("a report after the release did not wake the writer")
	}

	// Two jobs starting: the writer waits for both; a release with nothing queued wakes nothing.
	s2 := newSpool("", 1<<20)
	s2.addJob("a")
	s2.hold()
	s2.hold()
	s2.event("a", agentproto.JobAccepted{Type: agentproto.TypeJobAccepted, JobID: "a"}, false)
	s2.release()
	if woken(s2) {
		t.Fatal("woken while another job's start was held")
	}
	s2.release()
	if !woken(s2) {
		t.Fatal("the last release did not wake the writer")
	}
	s2.hold()
	s2.release()
	if woken(s2) {
		t.Fatal("a release with nothing queued woke the writer")
	}
}
