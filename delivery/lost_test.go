package delivery_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// runningJob queues a job and has agent agentID claim and start it.
func runningJob(t *testing.T, v env, agentID int) int {
	t.Helper()
	ctx := context.Background()
	s := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
	j, err := v.e.ClaimJobFor(ctx, agentID)
	if err != nil || j == nil || j.ID != s.Job.ID {
		t.Fatalf("claim: %v %v", j, err)
	}
	if err := v.e.AcceptJob(ctx, j.ID, agentID); err != nil {
		t.Fatal(err)
	}
	return j.ID
}

// TestSilenceCountsFromTheServerStart: an agent last heard from before the server started (the
// server was down far longer than the grace) keeps its job for a whole grace period after the
// start, and loses it with a reason that says so if it does not come back; one that reconnects
// in time keeps it. The lag allowance delays the verdict by the time signs of life may take to
// be written.
func TestSilenceCountsFromTheServerStart(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		gone, _ := register(t, v, "gone", nil)
		back, _ := register(t, v, "back", nil)
		jGone, jBack := runningJob(t, v, gone.ID), runningJob(t, v, back.ID)

		v.clk.Advance(10 * time.Minute) // the server was down
		start := v.clk.Now()
		grace := 2 * time.Minute
		check := delivery.SilenceCheck{Grace: grace, Lag: 5 * time.Second, Since: start}
		sweep := func() int {
			t.Helper()
			n, err := v.e.MarkSilentAgentsLost(ctx, check)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := sweep(); n != 0 {
			t.Fatalf("right after the start: %d jobs lost", n)
		}
		v.clk.Advance(30 * time.Second)
		if _, err := v.e.AgentConnected(ctx, back.ID, delivery.HelloInfo{MaxJobs: 1,
			Running: []delivery.JobProgress{{JobID: jBack}}}); err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(grace - 30*time.Second + 4*time.Second) // past the grace, within the lag
		if n := sweep(); n != 0 {
			t.Fatalf("within grace+lag of the start: %d jobs lost", n)
		}
		v.clk.Advance(2 * time.Second)
		if n := sweep(); n != 1 {
			t.Fatalf("after grace+lag: %d jobs lost, want 1", n)
		}
		g := v.c.Job.GetX(ctx, jGone)
		want := delivery.LostReason + `: agent "gone" did not reconnect within the grace period (2m0s) after the server started; last heard from 12m6s ago`
		if g.Status != job.StatusLOST || g.ResultReason != want || g.FinishedAt == nil {
			t.Fatalf("job of the agent that did not come back: %s %q, want LOST %q", g.Status, g.ResultReason, want)
		}
		d := v.c.Deployment.GetX(ctx, g.DeploymentID)
		if d.Status != deployment.StatusFAILED || !strings.Contains(d.StatusReason, want) {
			t.Fatalf("its deployment: %s %q", d.Status, d.StatusReason)
		}
		if b := v.c.Job.GetX(ctx, jBack); b.Status != job.StatusRUNNING {
			t.Fatalf("job of the agent that came back: %s %q", b.Status, b.ResultReason)
		}
		// The agent that came back and then went silent: grace counts from its last sign of life.
		v.clk.Advance(20 * time.Second) // 116 s after its reconnection
		if n := sweep(); n != 0 {
			t.Fatalf("lost %d", n)
		}
		v.clk.Advance(15 * time.Second)
		if n := sweep(); n != 1 {
			t.Fatalf("lost %d, want 1", n)
		}
		b := v.c.Job.GetX(ctx, jBack)
		if want := delivery.LostReason + `: agent "back" was not heard from for 2m11s (grace period 2m0s)`; b.ResultReason != want {
			t.Fatalf("reason %q, want %q", b.ResultReason, want)
		}
		// The loss went through the job machine and is audited.
		if n := v.c.AuditEvent.Query().CountX(ctx); n == 0 {
			t.Fatal("no audit")
		}
	})
}

// TestLinesAfterLoss: lines an agent sends for a job already LOST are stored (nothing it held is
// thrown away) and marked AfterLoss, in the store and in the published event; lines stored
// before the loss are not, and an agent cannot mark lines itself.
func TestLinesAfterLoss(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", nil)
		id := runningJob(t, v, a.ID)
		line := func(seq int64, afterLoss bool) delivery.LogLine {
			return delivery.LogLine{Seq: seq, Step: 1, Time: ag_t0, Text: "line", AfterLoss: afterLoss}
		}
		if acked, err := v.e.AppendLogs(ctx, id, a.ID, []delivery.LogLine{line(1, false), line(2, true)}); err != nil || acked != 2 {
			t.Fatalf("append: %d %v", acked, err)
		}
		v.clk.Advance(3 * time.Minute)
		if n, err := v.e.MarkSilentAgentsLost(ctx, delivery.SilenceCheck{Grace: 2 * time.Minute}); err != nil || n != 1 {
			t.Fatalf("lost %d %v", n, err)
		}
		before := len(v.bus.ofType(delivery.EventLogAppended))
		// The agent comes back with what it held: a duplicate, then new lines.
		if acked, err := v.e.AppendLogs(ctx, id, a.ID, []delivery.LogLine{line(2, false), line(3, false), line(4, false)}); err != nil || acked != 4 {
			t.Fatalf("append after the loss: %d %v", acked, err)
		}
		lines, err := v.e.ReadLogs(ctx, id, 1, 0)
		if err != nil || len(lines) != 4 {
			t.Fatalf("read %d lines, %v", len(lines), err)
		}
		for i, l := range lines {
			if want := i >= 2; l.Seq != int64(i+1) || l.AfterLoss != want {
				t.Fatalf("line %d: seq %d afterLoss %v, want %v", i+1, l.Seq, l.AfterLoss, want)
			}
		}
		evs := v.bus.ofType(delivery.EventLogAppended)
		if len(evs) != before+1 {
			t.Fatalf("%d log events after the loss", len(evs)-before)
		}
		for _, l := range evs[len(evs)-1].Data["lines"].([]delivery.LogLine) {
			if !l.AfterLoss {
				t.Fatalf("published line %d not marked after the loss", l.Seq)
			}
		}
		// Another agent still cannot write to the job.
		other, _ := register(t, v, "other", nil)
		_, err = v.e.AppendLogs(ctx, id, other.ID, []delivery.LogLine{line(5, false)})
		ag_wantCode(t, err, delivery.CodeNotFound)
		// The job's LOST result stands when the agent reports its own.
		err = v.e.FinishJob(ctx, id, delivery.JobResult{Status: "CANCELED", Reason: "the server declared it lost"})
		ag_wantCode(t, err, delivery.CodeConflict)
		if j := v.c.Job.GetX(ctx, id); j.Status != job.StatusLOST || !strings.HasPrefix(j.ResultReason, delivery.LostReason) {
			t.Fatalf("job %s %q", j.Status, j.ResultReason)
		}
	})
}
