package dispatch

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/jobstep"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/server/eventbus"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// wantLog checks that a job's stored log is exactly "line 1".."line n", in order, once each.
func wantLog(t *testing.T, h *harness, jobID, n int) {
	t.Helper()
	lines, err := h.e.ReadLogs(context.Background(), jobID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != n {
		t.Fatalf("job %d has %d stored lines, want %d", jobID, len(lines), n)
	}
	for i, l := range lines {
		if l.Seq != int64(i+1) || l.Text != fmt.Sprintf("line %d", i+1) {
			t.Fatalf("line %d: seq %d %q", i+1, l.Seq, l.Text)
		}
	}
}

func TestRegisterConnectRunJob(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		first := h.queue(t, deliverytest.JobOptions{Tasks: echoTasks(40)})
		ra := h.startAgent(t, "runner", nil)
		j := h.waitJob(t, first.Job.ID, job.StatusSUCCEEDED, job.StatusFAILED)
		if j.Status != job.StatusSUCCEEDED || j.AgentID == nil || *j.AgentID != ra.id() || j.StartedAt == nil || j.FinishedAt == nil {
			t.Fatalf("job: %s agent %v reason %q", j.Status, j.AgentID, j.ResultReason)
		}
		wantLog(t, h, first.Job.ID, 40)
		steps := j.QuerySteps().AllX(ctx)
		if len(steps) != 2 || steps[1].Name != "hello" || steps[1].Status != jobstep.StatusSUCCEEDED || *steps[1].ExitCode != 0 ||
			steps[0].Status != jobstep.StatusSKIPPED {
			t.Fatalf("steps %+v", steps)
		}
		a := h.c.Agent.GetX(ctx, ra.id())
		if !a.Online || a.SystemCapabilities["os"] == "" || a.LastSeenAt == nil {
			t.Fatalf("agent row %+v", a)
		}
		// A job queued while the agent is idle goes out at once, pushed by the queue event
		// (the hub has no polling loop, and its sweeper is off in tests).
		second := h.queue(t, deliverytest.JobOptions{Tasks: echoTasks(3)})
		h.waitJob(t, second.Job.ID, job.StatusSUCCEEDED)
		wantLog(t, h, second.Job.ID, 3)
		// The agent forgot both jobs: results acknowledged.
		h.waitFor(t, "results acknowledged", func() bool {
			entries, _ := readDirNames(ra.dir + "/results")
			return len(entries) == 0
		})
	})
}

func TestDemandsRouteToMatchingAgent(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	a := h.startAgent(t, "zone-a", map[string]string{"zone": "a"})
	b := h.startAgent(t, "zone-b", map[string]string{"zone": "b", "gpu": "nvidia"})
	h.waitOnline(t, a)
	h.waitOnline(t, b)
	forB := h.queue(t, deliverytest.JobOptions{Demands: []string{"ZONE -equals B"}, Tasks: echoTasks(2)})
	forGPU := h.queue(t, deliverytest.JobOptions{Demands: []string{"gpu"}, Tasks: echoTasks(2)})
	forA := h.queue(t, deliverytest.JobOptions{Demands: []string{"zone -equals a"}, Tasks: echoTasks(2)})
	nobody := h.queue(t, deliverytest.JobOptions{Demands: []string{"os -equals windows"}, Tasks: echoTasks(2)})
	for _, x := range []struct {
		id    int
		agent *runningAgent
	}{{forB.Job.ID, b}, {forGPU.Job.ID, b}, {forA.Job.ID, a}} {
		j := h.waitJob(t, x.id, job.StatusSUCCEEDED)
		if *j.AgentID != x.agent.id() {
			t.Fatalf("job %d ran on agent %d, want %s", x.id, *j.AgentID, x.agent.name)
		}
	}
	h.waitFor(t, "waiting reason", func() bool {
		return h.job(t, nobody.Job.ID).WaitingReason == `no online agent meets demand "os -equals windows"`
	})
	if j := h.job(t, nobody.Job.ID); j.Status != job.StatusQUEUED {
		t.Fatalf("unmatched job is %s", j.Status)
	}
}

func TestTwoReplicasRaceForOneJob(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		// Two hubs (replicas) on one database and one bus, one agent on each: both wake on the
		// queue event and try to claim the job.
		bus := eventbus.New(0)
		t.Cleanup(bus.Close)
		h1 := newHarness(t, db, harnessOpts{bus: bus})
		h2 := newHarness(t, db, harnessOpts{bus: bus, keys: h1.keys})
		a := h1.startAgent(t, "one", nil)
		b := h2.startAgent(t, "two", nil)
		h1.waitOnline(t, a)
		h2.waitOnline(t, b)
		var ids []int
		for range 3 {
			s := h1.queue(t, deliverytest.JobOptions{Tasks: echoTasks(5)})
			ids = append(ids, s.Job.ID)
		}
		for _, id := range ids {
			j := h1.waitJob(t, id, job.StatusSUCCEEDED)
			wantLog(t, h1, id, 5)
			if steps := j.QuerySteps().CountX(context.Background()); steps != 2 {
				t.Fatalf("job %d has %d steps, want 2 (ran twice?)", id, steps)
			}
		}
	})
}

func TestReconnectMidJobKeepsLogComplete(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		h := newHarness(t, db, harnessOpts{})
		ra := h.startAgent(t, "flaky", nil)
		id := h.waitOnline(t, ra)
		s := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{{Name: "slow",
			Script: "for i in $(seq 1 60); do echo \"line $i\"; sleep 0.02; done"}}})
		h.waitFor(t, "some lines stored", func() bool { return h.job(t, s.Job.ID).LogSeq >= 10 })
		old := h.hub.session(id)
		old.conn.CloseNow() // the connection drops, server side
		h.waitFor(t, "a new session", func() bool {
			cur := h.hub.session(id)
			return cur != nil && cur != old && cur.welcomed.Load()
		})
		j := h.waitJob(t, s.Job.ID, job.StatusSUCCEEDED, job.StatusFAILED, job.StatusLOST)
		if j.Status != job.StatusSUCCEEDED {
			t.Fatalf("job %s: %s", j.Status, j.ResultReason)
		}
		wantLog(t, h, s.Job.ID, 60)
	})
}

func TestSilentAgentJobLost(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	clk := delivery.NewManualClock(time.Now())
	h := newHarness(t, db, harnessOpts{clock: clk})
	ra := h.startAgent(t, "vanishing", nil)
	id := h.waitOnline(t, ra)
	s := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{{Name: "long", Script: "echo started; sleep 600"}}})
	h.waitFor(t, "job running with output", func() bool { return h.job(t, s.Job.ID).LogSeq >= 1 })
	// The agent can no longer reach the server.
	h.gateClosed.Store(true)
	h.hub.session(id).conn.CloseNow()
	h.waitFor(t, "agent offline", func() bool { return h.hub.session(id) == nil })
	h.hub.Sweep(context.Background())
	if j := h.job(t, s.Job.ID); j.Status != job.StatusRUNNING {
		t.Fatalf("job %s before the grace period", j.Status)
	}
	clk.Advance(h.hub.opts.Grace + time.Second) // grace, but not the lag of batched signs of life
	h.hub.Sweep(context.Background())
	if j := h.job(t, s.Job.ID); j.Status != job.StatusRUNNING {
		t.Fatalf("job %s within the lag allowance", j.Status)
	}
	clk.Advance(h.hub.seenEveryFor())
	h.hub.Sweep(context.Background())
	j := h.job(t, s.Job.ID)
	if j.Status != job.StatusLOST || !strings.HasPrefix(j.ResultReason, delivery.LostReason+`: agent "vanishing" was not heard from for`) || j.FinishedAt == nil {
		t.Fatalf("job %s %q", j.Status, j.ResultReason)
	}
	if h.c.Agent.GetX(context.Background(), id).Online {
		t.Fatal("silent agent still online")
	}
	_ = ra.stop() // cancels its copy of the job; the server's LOST stands
}

func TestCancelReachesAgent(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		ra := h.startAgent(t, "cancelable", nil)
		agentID := h.waitOnline(t, ra)
		s := h.queue(t, deliverytest.JobOptions{Tasks: []spec.Task{{Name: "long", Script: "echo started; sleep 600"}}})
		h.waitFor(t, "job running with output", func() bool {
			j := h.job(t, s.Job.ID)
			return j.Status == job.StatusRUNNING && j.LogSeq >= 1
		})
		// What the engine's cancel does: flag the job, announce it.
		h.c.Job.UpdateOneID(s.Job.ID).SetCancelRequested(true).ExecX(ctx)
		start := time.Now()
		h.bus.Publish(ctx, []delivery.Event{{Type: delivery.EventJobCancelRequested, JobID: s.Job.ID, AgentID: agentID,
			Data: map[string]any{"reason": "canceled by alice"}}})
		j := h.waitJob(t, s.Job.ID, job.StatusCANCELED, job.StatusFAILED, job.StatusSUCCEEDED)
		if j.Status != job.StatusCANCELED {
			t.Fatalf("job %s (%q) after %s", j.Status, j.ResultReason, time.Since(start))
		}
		steps := j.QuerySteps().AllX(ctx)
		if last := steps[len(steps)-1]; last.Status != jobstep.StatusCANCELED {
			t.Fatalf("task step %s", last.Status)
		}
	})
}

func TestTimeoutCancelsOnAgent(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	clk := delivery.NewManualClock(time.Now())
	h := newHarness(t, db, harnessOpts{clock: clk})
	ra := h.startAgent(t, "slowpoke", nil)
	h.waitOnline(t, ra)
	s := h.queue(t, deliverytest.JobOptions{TimeoutMinutes: 1, Tasks: []spec.Task{{Name: "long", Script: "echo started; sleep 600"}}})
	h.waitFor(t, "job running with output", func() bool {
		j := h.job(t, s.Job.ID)
		return j.Status == job.StatusRUNNING && j.LogSeq >= 1
	})
	clk.Advance(61 * time.Second)
	h.hub.Sweep(context.Background())
	j := h.job(t, s.Job.ID)
	if j.Status != job.StatusFAILED || j.ResultReason != "timed out after 1 minutes" {
		t.Fatalf("job %s %q", j.Status, j.ResultReason)
	}
	// The agent got the cancel, stopped the task and its CANCELED result was acknowledged.
	h.waitFor(t, "agent idle", func() bool {
		entries, _ := readDirNames(ra.dir + "/results")
		steps := h.job(t, s.Job.ID).QuerySteps().AllX(context.Background())
		return len(entries) == 0 && len(steps) == 2 && steps[1].Status == jobstep.StatusCANCELED
	})
}

func TestLogDownload(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	ra := h.startAgent(t, "writer", nil)
	h.waitOnline(t, ra)
	s := h.queue(t, deliverytest.JobOptions{Tasks: echoTasks(1500)})
	h.waitJob(t, s.Job.ID, job.StatusSUCCEEDED)
	get := func(path, role string) (*http.Response, []byte) {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+path, nil)
		if role != "" {
			req.Header.Set("X-Test-Role", role)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	var want strings.Builder
	for i := 1; i <= 1500; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	path := fmt.Sprintf("/logs/deployments/%d", s.Deployment.ID)
	if resp, body := get(path, "VIEWER"); resp.StatusCode != 200 || string(body) != want.String() {
		t.Fatalf("text: %d, %d bytes", resp.StatusCode, len(body))
	}
	resp, body := get(path+"?format=zip", "VIEWER")
	if resp.StatusCode != 200 {
		t.Fatalf("zip: %d", resp.StatusCode)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil || len(zr.File) != 1 {
		t.Fatalf("zip: %v", err)
	}
	f, _ := zr.File[0].Open()
	got, _ := io.ReadAll(f)
	if string(got) != want.String() {
		t.Fatal("zip content differs")
	}
	if resp, _ := get(path, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", resp.StatusCode)
	}
	if resp, _ := get("/logs/deployments/999999", "VIEWER"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown deployment: %d", resp.StatusCode)
	}
	if resp, _ := get(path+"?format=pdf", "VIEWER"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad format: %d", resp.StatusCode)
	}
}

func TestAgentStopsOnDisabledAndBadToken(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	ctx := context.Background()
	// A bad token stops the agent with ErrUnauthorized.
	bad := h.runAgent(t, agent.Config{Server: h.srv.URL, Token: "nope", Name: "bad", WorkDir: t.TempDir()})
	if err := bad.waitExit(t); !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("bad token: %v", err)
	}
	ra := h.startAgent(t, "disabled-soon", nil)
	id := h.waitOnline(t, ra)
	if _, err := h.e.SetAgentEnabled(ctx, admin, id, false); err != nil {
		t.Fatal(err)
	}
	h.hub.session(id).conn.CloseNow()
	if err := ra.waitExit(t); !errors.Is(err, agent.ErrUnauthorized) {
		t.Fatalf("disabled agent: %v", err)
	}
}

// TestSignsOfLifeBatched: pings and frames mark the agent seen in memory; the hub writes all
// pending ones in one statement at its clock's time, and never marks an agent online again
// after its session ended.
func TestSignsOfLifeBatched(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		clk := delivery.NewManualClock(time.Now())
		h := newHarness(t, db, harnessOpts{clock: clk})
		ra := h.startAgent(t, "alive", nil)
		id := h.waitOnline(t, ra)
		s := h.hub.session(id)
		clk.Advance(time.Minute)
		s.heard.Mark()
		if a := h.c.Agent.GetX(ctx, id); a.LastSeenAt == nil || clk.Now().Sub(*a.LastSeenAt) < 30*time.Second {
			t.Fatalf("written before the flush: %v", a.LastSeenAt)
		}
		h.hub.flushSeen(ctx)
		// PostgreSQL keeps microseconds.
		if a := h.c.Agent.GetX(ctx, id); a.LastSeenAt == nil || clk.Now().Sub(*a.LastSeenAt).Abs() > time.Millisecond || !a.Online {
			t.Fatalf("after the flush: seen %v online %v, want %v", a.LastSeenAt, a.Online, clk.Now())
		}
		// The agent goes away; a late sign of life of its old session is not written.
		h.gateClosed.Store(true)
		s.heard.Mark()
		s.conn.CloseNow()
		h.waitFor(t, "agent offline", func() bool { return h.hub.session(id) == nil && !h.c.Agent.GetX(ctx, id).Online })
		s.heard.Mark()
		h.hub.flushSeen(ctx)
		if a := h.c.Agent.GetX(ctx, id); a.Online {
			t.Fatal("a flush after the disconnect marked the agent online")
		}
	})
}
