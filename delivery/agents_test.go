package delivery_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/agent"
	"github.com/cairnhq/cairn/ent/agentregistration"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

var (
	admin  = delivery.Actor{UserID: 1, Username: "root", Role: delivery.RoleAdmin}
	editor = delivery.Actor{UserID: 2, Username: "ed", Role: delivery.RoleEditor}
	ag_t0  = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// ag_recorder is a Publisher that keeps what is published.
type ag_recorder struct {
	mu     sync.Mutex
	events []delivery.Event
}

func (r *ag_recorder) Publish(_ context.Context, evs []delivery.Event) {
	r.mu.Lock()
	r.events = append(r.events, evs...)
	r.mu.Unlock()
}

func (r *ag_recorder) ofType(typ string) []delivery.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []delivery.Event
	for _, e := range r.events {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

type env struct {
	e   *delivery.Engine
	c   *ent.Client
	clk *delivery.ManualClock
	box *delivery.SecretBox
	bus *ag_recorder
}

func newEnv(t *testing.T, db *storage.DB, opts ...func(*delivery.Options)) env {
	t.Helper()
	box, err := delivery.NewSecretBox([]byte(strings.Repeat("k", 32)))
	if err != nil {
		t.Fatal(err)
	}
	clk := delivery.NewManualClock(ag_t0)
	bus := &ag_recorder{}
	o := delivery.Options{Dialect: delivery.Dialect(db.Dialect), Clock: clk, Secrets: box, Bus: bus}
	for _, f := range opts {
		f(&o)
	}
	return env{e: delivery.New(db.Client, o), c: db.Client, clk: clk, box: box, bus: bus}
}

func ag_wantCode(t *testing.T, err error, code delivery.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("want %s error, got nil", code)
	}
	if got := delivery.CodeOf(err); got != code {
		t.Fatalf("want %s, got %s: %v", code, got, err)
	}
}

// register creates an agent with the given user capabilities through a registration token.
func register(t *testing.T, v env, name string, caps map[string]string) (*ent.Agent, string) {
	t.Helper()
	ctx := context.Background()
	tok, _, err := v.e.CreateAgentRegistration(ctx, admin, "", 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, jti, err := v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: name, Version: "1", OS: "linux", Arch: "amd64", Capabilities: caps})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.e.AgentConnected(ctx, a.ID, delivery.HelloInfo{Name: name, Version: "1", OS: "linux", Arch: "amd64",
		SystemCapabilities: map[string]string{"bash": "/bin/bash"}, UserCapabilities: caps, MaxJobs: 1}); err != nil {
		t.Fatal(err)
	}
	return a, jti
}

func TestAgentRegistration(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		_, _, err := v.e.CreateAgentRegistration(ctx, editor, "", 1, 0)
		ag_wantCode(t, err, delivery.CodeForbidden)
		_, _, err = v.e.CreateAgentRegistration(ctx, admin, "", 0, 0)
		ag_wantCode(t, err, delivery.CodeInvalidInput)

		tok, row, err := v.e.CreateAgentRegistration(ctx, admin, "linux", 2, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(row.TokenHash, tok) || len(tok) < 40 || !row.ExpiresAt.Equal(ag_t0.Add(time.Hour)) {
			t.Fatalf("token %q stored as %q, expires %v", tok, row.TokenHash, row.ExpiresAt)
		}
		in := delivery.RegisterAgentInput{Name: "a1", Version: "1.0", OS: "linux", Arch: "amd64", Capabilities: map[string]string{"docker": "yes"}}
		_, _, err = v.e.RegisterAgent(ctx, tok+"x", in)
		ag_wantCode(t, err, delivery.CodeUnauthenticated)
		_, _, err = v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: "a1", Pool: "windows"})
		ag_wantCode(t, err, delivery.CodeInvalidInput)

		a, jti, err := v.e.RegisterAgent(ctx, tok, in)
		if err != nil {
			t.Fatal(err)
		}
		if a.Name != "a1" || jti == "" || a.CredentialID != jti || a.UserCapabilities["docker"] != "yes" || a.SystemCapabilities["os"] != "linux" {
			t.Fatalf("agent %+v jti %q", a, jti)
		}
		if p, err := a.QueryPool().Only(ctx); err != nil || p.Name != "linux" {
			t.Fatalf("pool %v %v", p, err)
		}
		// A taken name is a conflict and does not use the token up.
		_, _, err = v.e.RegisterAgent(ctx, tok, in)
		ag_wantCode(t, err, delivery.CodeConflict)
		if r := v.c.AgentRegistration.GetX(ctx, row.ID); r.Uses != 1 {
			t.Fatalf("uses = %d after a conflict, want 1", r.Uses)
		}
		if _, _, err := v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: "a2"}); err != nil {
			t.Fatal(err)
		}
		// Used up.
		_, _, err = v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: "a3"})
		ag_wantCode(t, err, delivery.CodeUnauthenticated)

		// Expired.
		tok2, _, err := v.e.CreateAgentRegistration(ctx, admin, "", 5, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(time.Hour + time.Second)
		_, _, err = v.e.RegisterAgent(ctx, tok2, delivery.RegisterAgentInput{Name: "a4"})
		ag_wantCode(t, err, delivery.CodeUnauthenticated)

		// Revoked.
		tok3, row3, _ := v.e.CreateAgentRegistration(ctx, admin, "", 5, 0)
		v.c.AgentRegistration.UpdateOneID(row3.ID).SetRevokedAt(v.clk.Now()).ExecX(ctx)
		_, _, err = v.e.RegisterAgent(ctx, tok3, delivery.RegisterAgentInput{Name: "a5"})
		ag_wantCode(t, err, delivery.CodeUnauthenticated)

		if rep, err := v.e.VerifyAuditChain(ctx, admin); err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
	})
}

func TestRegistrationUsesAreAtomic(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		tok, row, err := v.e.CreateAgentRegistration(ctx, admin, "", 2, 0)
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, unauth := 0, 0
		for i := range 8 {
			wg.Go(func() {
				_, _, err := v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: fmt.Sprintf("r%d", i)})
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					ok++
				case delivery.CodeOf(err) == delivery.CodeUnauthenticated:
					unauth++
				default:
					t.Errorf("register: %v", err)
				}
			})
		}
		wg.Wait()
		if ok != 2 || unauth != 6 {
			t.Fatalf("%d registered, %d refused; want 2 and 6", ok, unauth)
		}
		if n := v.c.AgentRegistration.Query().Where(agentregistration.ID(row.ID), agentregistration.Uses(2)).CountX(ctx); n != 1 {
			t.Fatal("uses not 2")
		}
	})
}

func TestAgentCredentialEnableDelete(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, jti := register(t, v, "a1", nil)
		if _, err := v.e.AgentForCredential(ctx, a.ID, jti); err != nil {
			t.Fatal(err)
		}
		_, err := v.e.AgentForCredential(ctx, a.ID, "other")
		ag_wantCode(t, err, delivery.CodeUnauthenticated)
		_, err = v.e.SetAgentEnabled(ctx, editor, a.ID, false)
		ag_wantCode(t, err, delivery.CodeForbidden)
		if _, err := v.e.SetAgentEnabled(ctx, admin, a.ID, false); err != nil {
			t.Fatal(err)
		}
		_, err = v.e.AgentForCredential(ctx, a.ID, jti)
		ag_wantCode(t, err, delivery.CodeForbidden)
		if len(v.bus.ofType(delivery.EventAgentChanged)) == 0 {
			t.Fatal("no agent.changed event")
		}
		// A disabled agent gets no job.
		deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		if j, err := v.e.ClaimJobFor(ctx, a.ID); err != nil || j != nil {
			t.Fatalf("disabled agent claimed %v, %v", j, err)
		}
		if _, err := v.e.SetAgentEnabled(ctx, admin, a.ID, true); err != nil {
			t.Fatal(err)
		}
		running := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		j1, err := v.e.ClaimJobFor(ctx, a.ID)
		if err != nil || j1 == nil {
			t.Fatalf("claim: %v %v", j1, err)
		}
		if err := v.e.AcceptJob(ctx, j1.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		_ = running
		if err := v.e.DeleteAgent(ctx, admin, a.ID); err != nil {
			t.Fatal(err)
		}
		_, err = v.e.AgentForCredential(ctx, a.ID, jti)
		ag_wantCode(t, err, delivery.CodeUnauthenticated)
		got := v.c.Job.GetX(ctx, j1.ID)
		if got.Status != job.StatusLOST || got.ResultReason != "agent deleted" || got.FinishedAt == nil {
			t.Fatalf("running job of a deleted agent: %s %q", got.Status, got.ResultReason)
		}
		if rep, err := v.e.VerifyAuditChain(ctx, admin); err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
	})
}

func TestDemands(t *testing.T) {
	caps := map[string]string{"docker": "/usr/bin/docker", "os": "Linux", "zone": "b"}
	for _, tc := range []struct {
		demand string
		meets  bool
		bad    bool
	}{
		{"docker", true, false},
		{"DOCKER", true, false},
		{"kubectl", false, false},
		{"os -equals linux", true, false},
		{"OS -EQUALS LINUX", true, false},
		{"os -equals windows", false, false},
		{"zone -equals b", true, false},
		{"", false, true},
		{"two words", false, true},
		{"os -equals ", false, true},
	} {
		d, err := delivery.ParseDemand(tc.demand)
		if (err != nil) != tc.bad {
			t.Fatalf("%q: err %v", tc.demand, err)
		}
		if err == nil && d.Meets(caps) != tc.meets {
			t.Fatalf("%q meets = %v", tc.demand, !tc.meets)
		}
	}
	a := &ent.Agent{SystemCapabilities: map[string]string{"OS": "linux", "git": "/usr/bin/git"}, UserCapabilities: map[string]string{"os": "custom"}}
	if got := delivery.Capabilities(a); got["os"] != "custom" || got["git"] == "" {
		t.Fatalf("user capabilities must win: %v", got)
	}
}

func TestClaimRoutesAndRespectsMaxJobs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", map[string]string{"zone": "a"})
		b, _ := register(t, v, "b", map[string]string{"zone": "b", "docker": "yes"})
		forB := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"zone -equals b"}})
		forAny := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		forDocker := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"docker"}})
		impossible := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"os -equals windows"}})

		j, err := v.e.ClaimJobFor(ctx, a.ID)
		if err != nil || j == nil || j.ID != forAny.Job.ID || j.Status != job.StatusASSIGNED || *j.AgentID != a.ID {
			t.Fatalf("agent a claimed %+v, %v; want job %d", j, err, forAny.Job.ID)
		}
		// Max jobs 1: nothing more for a.
		if j, err := v.e.ClaimJobFor(ctx, a.ID); err != nil || j != nil {
			t.Fatalf("a claimed a second job: %v %v", j, err)
		}
		j, err = v.e.ClaimJobFor(ctx, b.ID)
		if err != nil || j == nil || j.ID != forB.Job.ID {
			t.Fatalf("agent b claimed %v, %v; want job %d", j, err, forB.Job.ID)
		}
		reason, err := v.e.ExplainWaiting(ctx, impossible.Job.ID)
		if err != nil || reason != `no online agent meets demand "os -equals windows"` {
			t.Fatalf("reason %q %v", reason, err)
		}
		reason, err = v.e.ExplainWaiting(ctx, forDocker.Job.ID)
		if err != nil || reason != "waiting for a free agent: all 1 matching agents are busy" {
			t.Fatalf("reason %q %v", reason, err)
		}
		if got := v.c.Job.GetX(ctx, impossible.Job.ID).WaitingReason; got != reason && got == "" {
			t.Fatalf("waiting reason not stored: %q", got)
		}
		if err := v.e.UpdateWaitingReasons(ctx); err != nil {
			t.Fatal(err)
		}
		if got := v.c.Job.GetX(ctx, impossible.Job.ID).WaitingReason; got != `no online agent meets demand "os -equals windows"` {
			t.Fatalf("stored reason %q", got)
		}
		kube := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"kubectl", "zone -equals a"}})
		if r, _ := v.e.ExplainWaiting(ctx, kube.Job.ID); r != `no online agent has capability "kubectl"` {
			t.Fatalf("reason %q", r)
		}
		both := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"docker", "zone -equals a"}})
		if r, _ := v.e.ExplainWaiting(ctx, both.Job.ID); !strings.HasPrefix(r, "no online agent in pool default matches demands") {
			t.Fatalf("reason %q", r)
		}
		// Rejected (busy) jobs go back to the queue.
		if err := v.e.RequeueJob(ctx, forB.Job.ID, b.ID, "agent b was busy"); err != nil {
			t.Fatal(err)
		}
		if got := v.c.Job.GetX(ctx, forB.Job.ID); got.Status != job.StatusQUEUED || got.AgentID != nil {
			t.Fatalf("requeued job: %s %v", got.Status, got.AgentID)
		}
		ag_wantCode(t, v.e.RequeueJob(ctx, forB.Job.ID, a.ID, "x"), delivery.CodeNotFound)
	})
}

func TestConcurrentClaimersGetOneJobOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		var agents []*ent.Agent
		for i := range 6 {
			a, _ := register(t, v, fmt.Sprintf("c%d", i), nil)
			agents = append(agents, a)
		}
		const jobs = 3
		for range jobs {
			deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		}
		var mu sync.Mutex
		claimedBy := map[int]int{}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for _, a := range agents {
			wg.Go(func() {
				<-start
				j, err := v.e.ClaimJobFor(ctx, a.ID)
				if err != nil {
					t.Errorf("claim: %v", err)
					return
				}
				if j == nil {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if prev, dup := claimedBy[j.ID]; dup {
					t.Errorf("job %d claimed by agents %d and %d", j.ID, prev, a.ID)
				}
				claimedBy[j.ID] = a.ID
			})
		}
		close(start)
		wg.Wait()
		if len(claimedBy) != jobs {
			t.Fatalf("%d jobs claimed, want %d", len(claimedBy), jobs)
		}
		for id, agentID := range claimedBy {
			if got := v.c.Job.GetX(ctx, id); *got.AgentID != agentID {
				t.Fatalf("job %d stored agent %d, claimer %d", id, *got.AgentID, agentID)
			}
		}
	})
}

func TestLogs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db, func(o *delivery.Options) { o.MaxJobLogBytes = 30 })
		a, _ := register(t, v, "a", nil)
		other, _ := register(t, v, "other", nil)
		s := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		if j, err := v.e.ClaimJobFor(ctx, a.ID); err != nil || j == nil {
			t.Fatal(j, err)
		}
		line := func(seq int64, text string) delivery.LogLine {
			return delivery.LogLine{Seq: seq, Step: 1, Time: ag_t0, Text: text}
		}
		_, err := v.e.AppendLogs(ctx, s.Job.ID, other.ID, []delivery.LogLine{line(1, "x")})
		ag_wantCode(t, err, delivery.CodeNotFound)

		acked, err := v.e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{line(1, "one"), line(2, "two")})
		if err != nil || acked != 2 {
			t.Fatalf("acked %d %v", acked, err)
		}
		// Duplicates skipped, a gap stops the batch.
		acked, err = v.e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{line(2, "two"), line(3, "three"), line(5, "five")})
		if err != nil || acked != 3 {
			t.Fatalf("acked %d %v", acked, err)
		}
		acked, err = v.e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{line(5, "five")})
		if err != nil || acked != 3 {
			t.Fatalf("gap acked %d %v", acked, err)
		}
		// 3+3+5 = 11 bytes so far; the cap is 30: "four-four-four" (14) fits, the next does not.
		acked, err = v.e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{line(4, "four-four-four"), line(5, "five-five-five"), line(6, "six")})
		if err != nil || acked != 6 {
			t.Fatalf("acked %d %v", acked, err)
		}
		acked, err = v.e.AppendLogs(ctx, s.Job.ID, a.ID, []delivery.LogLine{line(7, "seven")})
		if err != nil || acked != 7 {
			t.Fatalf("acked %d %v", acked, err)
		}
		lines, err := v.e.ReadLogs(ctx, s.Job.ID, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for i, l := range lines {
			if l.Seq != int64(i+1) {
				t.Fatalf("line %d has seq %d", i, l.Seq)
			}
			got = append(got, l.Text)
		}
		want := "one|two|three|four-four-four|log truncated: limit of 30 bytes reached"
		if strings.Join(got, "|") != want {
			t.Fatalf("stored %q, want %q", strings.Join(got, "|"), want)
		}
		j := v.c.Job.GetX(ctx, s.Job.ID)
		if j.LogSeq != 7 || !j.LogTruncated {
			t.Fatalf("job log_seq %d truncated %v", j.LogSeq, j.LogTruncated)
		}
		from3, _ := v.e.DeploymentLogs(ctx, s.Deployment.ID, 3, 2)
		if len(from3) != 2 || from3[0].Text != "three" || from3[1].Seq != 4 {
			t.Fatalf("from 3: %+v", from3)
		}
		evs := v.bus.ofType(delivery.EventLogAppended)
		if len(evs) != 3 || evs[0].DeploymentID != s.Deployment.ID || len(evs[0].Lines) != 2 {
			t.Fatalf("log events: %+v", evs)
		}
		// Steps: idempotent, the first final report stands.
		if err := v.e.StepStarted(ctx, s.Job.ID, a.ID, 1, "build", ag_t0); err != nil {
			t.Fatal(err)
		}
		if err := v.e.StepStarted(ctx, s.Job.ID, a.ID, 1, "build", ag_t0); err != nil {
			t.Fatal(err)
		}
		fin := delivery.StepReport{Step: 1, Name: "build", Status: "FAILED", ExitCode: 2, StartedAt: ag_t0, FinishedAt: ag_t0.Add(time.Second)}
		for range 2 {
			if err := v.e.StepFinished(ctx, s.Job.ID, a.ID, fin); err != nil {
				t.Fatal(err)
			}
		}
		fin.Status = "SUCCEEDED"
		if err := v.e.StepFinished(ctx, s.Job.ID, a.ID, fin); err != nil {
			t.Fatal(err)
		}
		steps := v.c.Job.GetX(ctx, s.Job.ID).QuerySteps().AllX(ctx)
		if len(steps) != 1 || steps[0].Status != "FAILED" || *steps[0].ExitCode != 2 {
			t.Fatalf("steps %+v", steps)
		}
		ag_wantCode(t, v.e.StepFinished(ctx, s.Job.ID, other.ID, fin), delivery.CodeNotFound)
		ag_wantCode(t, v.e.StepFinished(ctx, s.Job.ID, a.ID, delivery.StepReport{Step: 2, Status: "WEIRD"}), delivery.CodeInvalidInput)
	})
}

func TestSilentAgentsAndTimeouts(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", nil)
		b, _ := register(t, v, "b", nil)
		sa := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		sb := deliverytest.Job(t, v.c, deliverytest.JobOptions{TimeoutMinutes: 5})
		ja, _ := v.e.ClaimJobFor(ctx, a.ID)
		jb, _ := v.e.ClaimJobFor(ctx, b.ID)
		if ja == nil || jb == nil || ja.ID != sa.Job.ID || jb.ID != sb.Job.ID {
			t.Fatal("claims failed")
		}
		for _, x := range []struct{ j, a int }{{ja.ID, a.ID}, {jb.ID, b.ID}} {
			if err := v.e.AcceptJob(ctx, x.j, x.a); err != nil {
				t.Fatal(err)
			}
			if err := v.e.AcceptJob(ctx, x.j, x.a); err != nil {
				t.Fatal("accept not idempotent:", err)
			}
		}
		v.clk.Advance(90 * time.Second)
		if err := v.e.AgentSeen(ctx, b.ID); err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(40 * time.Second)
		n, err := v.e.MarkSilentAgentsLost(ctx, delivery.SilenceCheck{Grace: 2 * time.Minute})
		if err != nil || n != 1 {
			t.Fatalf("lost %d, %v", n, err)
		}
		got := v.c.Job.GetX(ctx, ja.ID)
		if want := delivery.LostReason + `: agent "a" was not heard from for 2m10s (grace period 2m0s)`; got.Status != job.StatusLOST || got.ResultReason != want || got.FinishedAt == nil {
			t.Fatalf("job of silent agent: %s %q, want LOST %q", got.Status, got.ResultReason, want)
		}
		if v.c.Agent.GetX(ctx, a.ID).Online || !v.c.Agent.GetX(ctx, b.ID).Online {
			t.Fatal("online flags wrong")
		}
		if n, _ := v.e.MarkSilentAgentsLost(ctx, delivery.SilenceCheck{Grace: 2 * time.Minute}); n != 0 {
			t.Fatal("lost twice")
		}
		// Timeouts: b's job has 5 minutes.
		if n, err := v.e.EnforceJobTimeouts(ctx); err != nil || n != 0 {
			t.Fatalf("timed out early: %d %v", n, err)
		}
		v.clk.Advance(4 * time.Minute)
		if n, err := v.e.EnforceJobTimeouts(ctx); err != nil || n != 1 {
			t.Fatalf("timeouts: %d %v", n, err)
		}
		got = v.c.Job.GetX(ctx, jb.ID)
		if got.Status != job.StatusFAILED || !got.CancelRequested || got.ResultReason != "timed out after 5 minutes" {
			t.Fatalf("timed out job: %s %v %q", got.Status, got.CancelRequested, got.ResultReason)
		}
		if evs := v.bus.ofType(delivery.EventJobCancelRequested); len(evs) != 1 || evs[0].JobID != jb.ID || evs[0].AgentID != b.ID {
			t.Fatalf("cancel events %+v", evs)
		}
		// The agent reconnects still running it: it gets a cancel.
		rec, err := v.e.AgentConnected(ctx, b.ID, delivery.HelloInfo{MaxJobs: 1, Running: []delivery.JobProgress{{JobID: jb.ID}}})
		if err != nil || len(rec.Cancels) != 1 || rec.Cancels[0].JobID != jb.ID || rec.Cancels[0].Reason != "timed out after 5 minutes" {
			t.Fatalf("reconciliation %+v %v", rec, err)
		}
	})
}

func TestReconnectReconciliation(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		a, _ := register(t, v, "a", nil)
		if _, err := v.e.AgentConnected(ctx, a.ID, delivery.HelloInfo{MaxJobs: 3}); err != nil {
			t.Fatal(err)
		}
		var ids []int
		for range 3 {
			deliverytest.Job(t, v.c, deliverytest.JobOptions{})
			j, err := v.e.ClaimJobFor(ctx, a.ID)
			if err != nil || j == nil {
				t.Fatal(j, err)
			}
			ids = append(ids, j.ID)
		}
		if err := v.e.AcceptJob(ctx, ids[0], a.ID); err != nil { // running, listed
			t.Fatal(err)
		}
		if err := v.e.AcceptJob(ctx, ids[1], a.ID); err != nil { // running, not listed: lost
			t.Fatal(err)
		}
		if _, err := v.e.AppendLogs(ctx, ids[0], a.ID, []delivery.LogLine{{Seq: 1, Text: "x"}}); err != nil {
			t.Fatal(err)
		}
		rec, err := v.e.AgentConnected(ctx, a.ID, delivery.HelloInfo{MaxJobs: 3,
			Running: []delivery.JobProgress{{JobID: ids[0], LastSeq: 4}, {JobID: 999999}}})
		if err != nil {
			t.Fatal(err)
		}
		if rec.Acks[ids[0]] != 1 || len(rec.Lost) != 1 || rec.Lost[0] != ids[1] ||
			len(rec.Resend) != 1 || rec.Resend[0] != ids[2] || len(rec.Unknown) != 1 || len(rec.Cancels) != 0 {
			t.Fatalf("reconciliation %+v", rec)
		}
		if got := v.c.Job.GetX(ctx, ids[1]); got.Status != job.StatusLOST || got.FinishedAt == nil {
			t.Fatalf("unlisted running job: %s", got.Status)
		}
	})
}

func TestBuildAssignment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		seal := func(s string) string { return "sealed:" + base64.StdEncoding.EncodeToString(v.box.Seal([]byte(s))) }
		s := deliverytest.Job(t, v.c, deliverytest.JobOptions{
			Tasks: []spec.Task{
				{Name: "deploy", Script: "echo hi", TimeoutMinutes: 2, ContinueOnError: true},
				{Name: "off", Script: "x", Disabled: true},
				{Name: "after", Shell: "sh", Script: "echo after", Env: map[string]string{"A": "b"}},
			},
			TimeoutMinutes: 10,
			Variables:      []spec.Variable{{Name: "region", Value: "eu"}, {Name: "password", Value: seal("hunter2"), Secret: true}},
			EnvVariables:   []spec.Variable{{Name: "REGION", Value: "us"}},
			Overrides:      []spec.Variable{{Name: "extra", Value: "1"}, {Name: "deploy.target", Value: "web01"}},
		})
		conn := v.c.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").
			SetUsername("bot").SetSecretEncrypted(v.box.Seal([]byte("api-token"))).SaveX(ctx)
		v.c.ReleaseArtifact.Create().SetAlias("web-app").SetType("JENKINS").SetConnection(conn.Name).
			SetBuildNumber("42").SetBuildID("42").SetBuildURL("https://ci/job/web/42").SetFiles([]string{"dist/app.zip"}).
			SetPrimary(true).SetReleaseID(s.Release.ID).ExecX(ctx)
		v.c.ReleaseArtifact.Create().SetAlias("lib").SetType("TEAMBUILD").SetBuildNumber("20240101.1").
			SetFiles([]string{"https://dev.azure.com/x/_apis/build/builds/1/artifacts?artifactName=drop&$format=zip"}).
			SetReleaseID(s.Release.ID).ExecX(ctx)

		got, err := v.e.BuildAssignment(ctx, s.Job.ID)
		if err != nil {
			t.Fatal(err)
		}
		rv := got.ReleaseVariables
		if rv["RELEASE_RELEASENAME"] != s.Release.Name || rv["RELEASE_ENVIRONMENTNAME"] != "prod" ||
			rv["RELEASE_DEFINITIONNAME"] != s.Definition.Name || rv["RELEASE_ARTIFACTS_WEB_APP_BUILDNUMBER"] != "42" ||
			rv["RELEASE_PRIMARYARTIFACTSOURCEALIAS"] != "web-app" || rv["RELEASE_RELEASEID"] != fmt.Sprint(s.Release.ID) {
			t.Fatalf("release variables %v", rv)
		}
		vars := map[string]delivery.AssignmentVariable{}
		for _, x := range got.Variables {
			vars[x.Name] = x
		}
		if len(got.Variables) != 4 || vars["REGION"].Value != "us" || vars["password"].Value != "hunter2" ||
			!vars["password"].Secret || vars["extra"].Value != "1" {
			t.Fatalf("variables %+v", got.Variables)
		}
		// The server names every variable a task sees; the agent only exports.
		if vars["REGION"].EnvName != "REGION" || vars["password"].EnvName != "PASSWORD" || vars["extra"].EnvName != "EXTRA" ||
			vars["deploy.target"].EnvName != "DEPLOY_TARGET" {
			t.Fatalf("variable env names %+v", got.Variables)
		}
		if len(got.Tasks) != 2 || got.Tasks[0].TimeoutSeconds != 120 || !got.Tasks[0].ContinueOnError ||
			got.Tasks[1].Env["A"] != "b" || got.TimeoutSeconds != 600 {
			t.Fatalf("tasks %+v timeout %d", got.Tasks, got.TimeoutSeconds)
		}
		if len(got.Artifacts) != 2 {
			t.Fatalf("artifacts %+v", got.Artifacts)
		}
		lib, web := got.Artifacts[0], got.Artifacts[1]
		if web.PathVariable != "RELEASE_ARTIFACTS_WEB_APP_PATH" || lib.PathVariable != "RELEASE_ARTIFACTS_LIB_PATH" {
			t.Fatalf("path variables %q, %q", web.PathVariable, lib.PathVariable)
		}
		if web.Alias != "web-app" || web.BuildURL != "https://ci/job/web/42" || web.RelativePaths[0] != "dist/app.zip" ||
			web.WholeArchive || !web.HasCredentials || web.Username != "bot" || web.Password != "api-token" {
			t.Fatalf("jenkins artifact %+v", web)
		}
		if lib.Type != "TEAMBUILD" || lib.DownloadURL == "" || lib.HasCredentials || lib.BuildNumber != "20240101.1" {
			t.Fatalf("team build artifact %+v", lib)
		}
		// A secret sealed with another key cannot be opened: an error naming the variable.
		other, _ := delivery.NewSecretBox([]byte(strings.Repeat("z", 32)))
		bad := deliverytest.Job(t, v.c, deliverytest.JobOptions{Variables: []spec.Variable{
			{Name: "token", Secret: true, Value: "sealed:" + base64.StdEncoding.EncodeToString(other.Seal([]byte("x")))}}})
		if _, err := v.e.BuildAssignment(ctx, bad.Job.ID); err == nil || !strings.Contains(err.Error(), "token") {
			t.Fatalf("undecryptable secret: %v", err)
		}
		if _, err := v.e.BuildAssignment(ctx, 12345); !errors.Is(err, delivery.ErrNotFound) {
			t.Fatalf("unknown job: %v", err)
		}
	})
}

// TestBuildAssignmentCredentialsGoHome: the engine hands an agent a connection's credentials
// only with download URLs of the connection's origin; a stored build URL on another host fails
// the assignment with a reason naming it, and no credentials leave the server.
func TestBuildAssignmentCredentialsGoHome(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		conn := v.c.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci.example.com/jenkins").
			SetUsername("bot").SetSecretEncrypted(v.box.Seal([]byte("api-token"))).SaveX(ctx)
		for _, tt := range []struct {
			typ, buildURL, file string
			ok                  bool
		}{
			{"JENKINS", "https://ci.example.com/jenkins/job/web/42/", "dist/app.zip", true},
			{"JENKINS", "https://evil.example.net/jenkins/job/web/42/", "dist/app.zip", false},
			{"JENKINS", "http://ci.example.com/jenkins/job/web/42/", "dist/app.zip", false},
			{"JENKINS", "https://ci.example.com:8443/jenkins/job/web/42/", "", false},
			{"TEAMBUILD", "", "https://ci.example.com/jenkins/_apis/build/builds/1/artifacts?$format=zip", true},
			{"TEAMBUILD", "", "https://evil.example.net/_apis/build/builds/1/artifacts?$format=zip", false},
		} {
			s := deliverytest.Job(t, v.c, deliverytest.JobOptions{Tasks: []spec.Task{{Name: "deploy", Script: "true"}}})
			c := v.c.ReleaseArtifact.Create().SetAlias("web").SetType(releaseartifact.Type(tt.typ)).SetConnection(conn.Name).
				SetBuildNumber("42").SetBuildID("42").SetBuildURL(tt.buildURL).SetPrimary(true).SetReleaseID(s.Release.ID)
			if tt.file != "" {
				c.SetFiles([]string{tt.file})
			}
			c.ExecX(ctx)
			got, err := v.e.BuildAssignment(ctx, s.Job.ID)
			if tt.ok {
				if err != nil || len(got.Artifacts) != 1 || !got.Artifacts[0].HasCredentials || got.Artifacts[0].Origin != conn.URL {
					t.Errorf("%s %s%s: %+v %v", tt.typ, tt.buildURL, tt.file, got.Artifacts, err)
				}
				continue
			}
			if delivery.CodeOf(err) != delivery.CodeInvalidInput || !strings.Contains(err.Error(), "not on service connection") ||
				len(got.Artifacts) != 0 {
				t.Errorf("%s %s%s: %+v %v, want refused", tt.typ, tt.buildURL, tt.file, got.Artifacts, err)
			}
		}
	})
}

// TestRevokeAgentRegistration: an admin lists the registration tokens and revokes one; it
// registers no agent after that, revoking again changes nothing, and others may neither list
// nor revoke.
func TestRevokeAgentRegistration(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		tok, row, err := v.e.CreateAgentRegistration(ctx, admin, "linux", 3, 0)
		if err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(time.Second)
		_, newer, err := v.e.CreateAgentRegistration(ctx, admin, "", 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.e.AgentRegistrations(ctx, editor)
		ag_wantCode(t, err, delivery.CodeForbidden)
		_, err = v.e.RevokeAgentRegistration(ctx, editor, row.ID)
		ag_wantCode(t, err, delivery.CodeForbidden)
		_, err = v.e.RevokeAgentRegistration(ctx, admin, newer.ID+1000)
		ag_wantCode(t, err, delivery.CodeNotFound)

		list, err := v.e.AgentRegistrations(ctx, admin)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != 2 || list[0].ID != newer.ID || list[1].ID != row.ID || list[1].Pool != "linux" {
			t.Fatalf("registrations %+v, want the newer first", list)
		}
		if _, _, err := v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: "before"}); err != nil {
			t.Fatal(err)
		}
		v.clk.Advance(time.Minute)
		revoked, err := v.e.RevokeAgentRegistration(ctx, admin, row.ID)
		if err != nil {
			t.Fatal(err)
		}
		if revoked.RevokedAt == nil || !revoked.RevokedAt.Equal(v.clk.Now()) {
			t.Fatalf("revoked %+v", revoked)
		}
		_, _, err = v.e.RegisterAgent(ctx, tok, delivery.RegisterAgentInput{Name: "after"})
		ag_wantCode(t, err, delivery.CodeUnauthenticated)

		// Again: unchanged, and audited once.
		v.clk.Advance(time.Minute)
		again, err := v.e.RevokeAgentRegistration(ctx, admin, row.ID)
		if err != nil || !again.RevokedAt.Equal(*revoked.RevokedAt) {
			t.Fatalf("revoking again: %+v %v", again, err)
		}
		n, err := v.c.AuditEvent.Query().Where(auditevent.Action("agentRegistration.revoke")).Count(ctx)
		if err != nil || n != 1 {
			t.Fatalf("%d revocations audited (%v), want 1", n, err)
		}
		// The agent that registered before keeps working.
		if _, err := v.c.Agent.Query().Where(agent.Name("before")).Only(ctx); err != nil {
			t.Fatal(err)
		}
		if rep, err := v.e.VerifyAuditChain(ctx, admin); err != nil || !rep.OK {
			t.Fatalf("audit chain: %+v %v", rep, err)
		}
	})
}
