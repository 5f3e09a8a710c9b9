package dispatch

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestFollowDeploymentLog checks the log stream: stored lines, then live ones, with no gap and no
// duplicate, across a lagging (dropped) bus subscription, ending when the job is final.
func TestFollowDeploymentLog(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := eventbus.New(2) // tiny buffers: the follower lags and must resume from the database
		t.Cleanup(bus.Close)
		h := newHarness(t, db, harnessOpts{bus: bus})
		agentID, _ := h.credentialFor(t, "writer")
		if _, err := h.e.AgentConnected(ctx, agentID, delivery.HelloInfo{MaxJobs: 1}); err != nil {
			t.Fatal(err)
		}
		s := deliverytest.Job(t, h.c, deliverytest.JobOptions{})
		// Keep the hub from dispatching it to nobody: claim it for the agent directly.
		if j, err := h.e.ClaimJobFor(ctx, agentID); err != nil || j == nil {
			t.Fatal(j, err)
		}
		seq := int64(0)
		appendN := func(n int) {
			t.Helper()
			var lines []delivery.LogLine
			for range n {
				seq++
				lines = append(lines, delivery.LogLine{Seq: seq, Step: 1, Time: time.Now(), Text: fmt.Sprintf("line %d", seq)})
			}
			if _, err := h.e.AppendLogs(ctx, s.Job.ID, agentID, lines); err != nil {
				t.Fatal(err)
			}
		}
		appendN(5)
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := h.e.FollowDeploymentLog(sctx, delivery.SystemActor("test"), bus, s.Deployment.ID, 3)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.e.FollowDeploymentLog(sctx, delivery.SystemActor("test"), bus, 987654, 0); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("unknown deployment: %v", err)
		}
		next := int64(3)
		recv := func(upto int64) {
			t.Helper()
			for next <= upto {
				select {
				case l, ok := <-stream:
					if !ok {
						t.Fatalf("stream ended at %d", next)
					}
					if l.Seq != next || l.Text != fmt.Sprintf("line %d", next) {
						t.Fatalf("got seq %d %q, want %d", l.Seq, l.Text, next)
					}
					next++
				case <-time.After(waitLimit):
					t.Fatalf("no line %d", next)
				}
			}
		}
		recv(5)
		// Many batches while the follower does not read: its subscription overflows.
		for range 20 {
			appendN(3)
		}
		recv(seq)
		appendN(2)
		recv(seq)
		if err := h.e.StartJob(ctx, s.Job.ID, agentID); err != nil {
			t.Fatal(err)
		}
		if err := h.e.FinishJob(ctx, s.Job.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		select {
		case l, ok := <-stream:
			if ok {
				t.Fatalf("line after the end: %+v", l)
			}
		case <-time.After(waitLimit):
			t.Fatal("stream did not end with the job")
		}
		// A follower of a finished job gets the stored lines and the end.
		done, err := h.e.FollowDeploymentLog(ctx, delivery.SystemActor("test"), bus, s.Deployment.ID, seq-1)
		if err != nil {
			t.Fatal(err)
		}
		var got []int64
		for l := range done {
			got = append(got, l.Seq)
		}
		if len(got) != 2 || got[1] != seq {
			t.Fatalf("finished job follow: %v", got)
		}
	})
}

// TestFollowDeploymentLogBatches checks the batched log stream: catching up fills batches of at
// most maxLines (and MaxLogBatchBytes of text), live lines come a batch per report, a lagging
// subscription resumes with no gap or duplicate, the stream ends with the job, and hostile
// arguments are INVALID_INPUT.
func TestFollowDeploymentLogBatches(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		bus := eventbus.New(2)
		t.Cleanup(bus.Close)
		h := newHarness(t, db, harnessOpts{bus: bus})
		agentID, _ := h.credentialFor(t, "writer")
		if _, err := h.e.AgentConnected(ctx, agentID, delivery.HelloInfo{MaxJobs: 1}); err != nil {
			t.Fatal(err)
		}
		s := deliverytest.Job(t, h.c, deliverytest.JobOptions{})
		if j, err := h.e.ClaimJobFor(ctx, agentID); err != nil || j == nil {
			t.Fatal(j, err)
		}
		seq := int64(0)
		appendN := func(n, size int) {
			t.Helper()
			var lines []delivery.LogLine
			for range n {
				seq++
				text := fmt.Sprintf("line %d", seq)
				if size > 0 {
					text = fmt.Sprintf("%0*d", size, seq)
				}
				lines = append(lines, delivery.LogLine{Seq: seq, Step: 1, Time: time.Now(), Text: text})
			}
			if _, err := h.e.AppendLogs(ctx, s.Job.ID, agentID, lines); err != nil {
				t.Fatal(err)
			}
		}
		// 25 stored lines in 5 reports; then 8 lines of 60 KiB (about 480 KiB: two batches by size).
		for range 5 {
			appendN(5, 0)
		}
		appendN(8, 60<<10)
		sys := delivery.SystemActor("test")
		for _, tc := range []struct {
			from  int64
			lines int
			field string
		}{{-1, 10, "fromSeq"}, {1, 0, "maxLines"}, {1, -5, "maxLines"}, {1, delivery.MaxLogBatchLines + 1, "maxLines"}} {
			_, err := h.e.FollowDeploymentLogBatches(ctx, sys, bus, s.Deployment.ID, tc.from, tc.lines)
			var de *delivery.Error
			if !errors.As(err, &de) || de.Code != delivery.CodeInvalidInput || de.Field != tc.field {
				t.Errorf("from %d maxLines %d: %v, want INVALID_INPUT on %s", tc.from, tc.lines, err, tc.field)
			}
		}
		if _, err := h.e.FollowDeploymentLogBatches(ctx, sys, bus, 987654, 1, 10); delivery.CodeOf(err) != delivery.CodeNotFound {
			t.Fatalf("unknown deployment: %v", err)
		}
		sctx, cancel := context.WithCancel(ctx)
		defer cancel()
		stream, err := h.e.FollowDeploymentLogBatches(sctx, sys, bus, s.Deployment.ID, 3, 10)
		if err != nil {
			t.Fatal(err)
		}
		next := int64(3)
		recv := func() *delivery.LogBatch {
			t.Helper()
			select {
			case b, ok := <-stream:
				if !ok {
					t.Fatalf("stream ended at %d", next)
				}
				if len(b.Lines) == 0 || len(b.Lines) > 10 || b.FromSeq() != next {
					t.Fatalf("batch of %d lines from %d, want from %d", len(b.Lines), b.FromSeq(), next)
				}
				bytes := 0
				for i, l := range b.Lines {
					if l.Seq != next+int64(i) {
						t.Fatalf("line %d of the batch has seq %d", i, l.Seq)
					}
					bytes += len(l.Text)
				}
				if len(b.Lines) > 1 && bytes > delivery.MaxLogBatchBytes {
					t.Fatalf("batch of %d bytes", bytes)
				}
				next = b.LastSeq() + 1
				return b
			case <-time.After(waitLimit):
				t.Fatalf("no batch from %d", next)
			}
			return nil
		}
		// Catching up: lines 3–25 in full batches of 10 across reports (10, 10, 3 + the big ones).
		if b := recv(); len(b.Lines) != 10 || b.Text() != "line 3\nline 4\nline 5\nline 6\nline 7\nline 8\nline 9\nline 10\nline 11\nline 12\n" {
			t.Fatalf("first batch %q", b.Text())
		}
		if b := recv(); len(b.Lines) != 10 {
			t.Fatalf("second batch of %d lines", len(b.Lines))
		}
		var sizes []int
		for next <= seq {
			sizes = append(sizes, len(recv().Lines))
		}
		if fmt.Sprint(sizes) != "[7 4]" { // lines 23–25 and 4 big ones (244 KiB), then 4 big ones
			t.Fatalf("batches by size: %v", sizes)
		}
		// Live: a batch per report; a burst overflows the subscription and is re-read.
		appendN(3, 0)
		if b := recv(); len(b.Lines) != 3 {
			t.Fatalf("live batch of %d lines", len(b.Lines))
		}
		for range 20 {
			appendN(3, 0)
		}
		for next <= seq {
			recv()
		}
		if err := h.e.StartJob(ctx, s.Job.ID, agentID); err != nil {
			t.Fatal(err)
		}
		if err := h.e.FinishJob(ctx, s.Job.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		select {
		case b, ok := <-stream:
			if ok {
				t.Fatalf("batch after the end: %+v", b)
			}
		case <-time.After(waitLimit):
			t.Fatal("stream did not end with the job")
		}
	})
}
