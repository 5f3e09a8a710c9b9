package dispatch

import (
	"context"
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
