package dispatch

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/agent"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	entjob "github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// These tests deploy to several real agents (agent.Run in-process, each with its own work
// directory): pools that route, deployment-group phases (maxParallel, failure threshold,
// offline targets), redeploy to failed targets, cancel mid-rollout, phase conditions.

// startTarget runs a real agent registered as a target of group with tags.
func (h *harness) startTarget(t *testing.T, group, name string, tags ...string) *runningAgent {
	t.Helper()
	tok, _, err := h.e.CreateTargetRegistration(context.Background(), admin, group, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	ra := h.runAgent(t, agent.Config{Server: h.srv.URL, Token: tok, Name: name, WorkDir: t.TempDir(), Tags: tags})
	h.waitOnline(t, ra)
	return ra
}

// startPoolAgent runs a real agent registered into pool.
func (h *harness) startPoolAgent(t *testing.T, pool, name string) *runningAgent {
	t.Helper()
	tok, _, err := h.e.CreateAgentRegistration(context.Background(), admin, pool, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	ra := h.runAgent(t, agent.Config{Server: h.srv.URL, Token: tok, Name: name, WorkDir: t.TempDir()})
	h.waitOnline(t, ra)
	return ra
}

// deployPhases creates a definition whose environment "prod" has the phases, a release, and
// deploys it; it returns the deployment.
func (h *harness) deployPhases(t *testing.T, actor delivery.Actor, phases []spec.PhaseSpec) *ent.Deployment {
	t.Helper()
	ctx := context.Background()
	def, err := h.e.CreateDefinition(ctx, actor, spec.DefinitionSnapshot{
		Name: fmt.Sprintf("app-%d", time.Now().UnixNano()), ReleaseNameFormat: "Release-$(rev:r)",
		Environments: []spec.EnvironmentSpec{{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual}, Phases: phases}},
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	rel, err := h.e.CreateRelease(ctx, actor, delivery.CreateReleaseInput{DefinitionID: def.ID})
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.e.DeployEnvironment(ctx, actor, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (h *harness) waitDeployment(t *testing.T, id int, statuses ...deployment.Status) *ent.Deployment {
	t.Helper()
	var d *ent.Deployment
	h.waitFor(t, fmt.Sprintf("deployment %d %v", id, statuses), func() bool {
		d = h.c.Deployment.GetX(context.Background(), id)
		return slices.Contains(statuses, d.Status)
	})
	return d
}

// targets returns the deployment's target jobs by target name.
func (h *harness) targets(t *testing.T, deploymentID int) map[string]*ent.Job {
	t.Helper()
	jobs, err := h.e.TargetJobs(context.Background(), deploymentID)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*ent.Job{}
	for _, j := range jobs {
		out[j.Target] = j
	}
	return out
}

func script(name, s string) []spec.Task { return []spec.Task{{Name: name, Script: s}} }

// overlap reports whether two finished jobs ran at the same time.
func overlap(a, b *ent.Job) bool {
	return a.StartedAt != nil && b.StartedAt != nil && a.FinishedAt != nil && b.FinishedAt != nil &&
		a.StartedAt.Before(*b.FinishedAt) && b.StartedAt.Before(*a.FinishedAt)
}

func TestDeploymentGroupStopsAfterFailure(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		h := newHarness(t, db, harnessOpts{})
		if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "web farm", nil); err != nil {
			t.Fatal(err)
		}
		for _, n := range []string{"web-1", "web-2", "web-3"} {
			h.startTarget(t, "farm", n, "web", "eu")
		}
		h.startTarget(t, "farm", "db-1", "db")
		// web-2 fails (its name is in the environment the agent exports).
		d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, Name: "rollout",
			DeploymentGroup: "farm", Tags: []string{"web"}, MaxParallel: "1", SkipArtifactDownload: true,
			Tasks: script("deploy", `echo "deploying on $AGENT_NAME"; test "$AGENT_NAME" != web-2`)}})
		d = h.waitDeployment(t, d.ID, deployment.StatusFAILED)
		ts := h.targets(t, d.ID)
		if len(ts) != 3 {
			t.Fatalf("targets %v, want the three web ones", ts)
		}
		if ts["web-1"].Status != entjob.StatusSUCCEEDED || ts["web-2"].Status != entjob.StatusFAILED || ts["web-3"].Status != entjob.StatusSKIPPED {
			t.Fatalf("statuses %s %s %s", ts["web-1"].Status, ts["web-2"].Status, ts["web-3"].Status)
		}
		if ts["web-3"].StartedAt != nil || !strings.Contains(ts["web-3"].ResultReason, "not started") {
			t.Fatalf("web-3: started %v, reason %q", ts["web-3"].StartedAt, ts["web-3"].ResultReason)
		}
		for _, want := range []string{"farm", "web-2", "not started: web-3"} {
			if !strings.Contains(d.StatusReason, want) {
				t.Fatalf("status reason %q does not say %q", d.StatusReason, want)
			}
		}
		// One target at a time, in name order.
		if overlap(ts["web-1"], ts["web-2"]) || !ts["web-1"].FinishedAt.Before(*ts["web-2"].StartedAt) && !ts["web-1"].FinishedAt.Equal(*ts["web-2"].StartedAt) {
			t.Fatal("web-1 and web-2 overlapped")
		}
		// Each target's log is its own, downloadable by name.
		lines, err := h.e.ReadLogs(ctx, ts["web-1"].ID, 1, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(lines, func(l delivery.LogLine) bool { return l.Text == "deploying on web-1" }) {
			t.Fatalf("web-1 log %v", lines)
		}
		var sb strings.Builder
		if err := h.e.WriteDeploymentLog(ctx, admin, d.ID, delivery.LogRange{Target: "web-2"}, func() (io.Writer, error) {
			return &sb, nil
		}); err != nil || !strings.Contains(sb.String(), "deploying on web-2") || strings.Contains(sb.String(), "web-1") {
			t.Fatalf("web-2 download %q, %v", sb.String(), err)
		}
		// The whole download: each target's lines after its name.
		sb.Reset()
		if err := h.e.WriteDeploymentLog(ctx, admin, d.ID, delivery.LogRange{}, func() (io.Writer, error) { return &sb, nil }); err != nil ||
			!strings.Contains(sb.String(), "[web-1] deploying on web-1\n") || !strings.Contains(sb.String(), "[web-2] deploying on web-2\n") ||
			strings.Contains(sb.String(), "[web-3]") {
			t.Fatalf("whole download %q, %v", sb.String(), err)
		}

		// Redeploy to the failed targets only: web-2 and web-3, nothing else.
		re, err := h.e.DeployEnvironment(ctx, admin, delivery.DeployInput{ReleaseID: d.ReleaseID, Environment: "prod", FailedTargetsOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(re.OnlyTargets, []string{"web-2", "web-3"}) {
			t.Fatalf("only targets %v", re.OnlyTargets)
		}
		h.waitDeployment(t, re.ID, deployment.StatusFAILED) // web-2 still fails
		ts = h.targets(t, re.ID)
		if len(ts) != 2 || ts["web-1"] != nil || ts["web-2"].Status != entjob.StatusFAILED || ts["web-3"].Status != entjob.StatusSKIPPED {
			t.Fatalf("redeploy targets %v", ts)
		}
	})
}

func TestDeploymentGroupHalfAtATime(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		h.startTarget(t, "farm", fmt.Sprintf("t-%d", i), "web")
	}
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm",
		Tags: []string{"WEB"}, MaxParallel: "50%", SkipArtifactDownload: true, Tasks: script("work", "sleep 0.3")}})
	h.waitDeployment(t, d.ID, deployment.StatusSUCCEEDED)
	ts := h.targets(t, d.ID)
	var jobs []*ent.Job
	for _, j := range ts {
		if j.Status != entjob.StatusSUCCEEDED {
			t.Fatalf("%s %s", j.Target, j.Status)
		}
		jobs = append(jobs, j)
	}
	// At no moment did more than two run; at some moment two did.
	most := 0
	for _, a := range jobs {
		n := 0
		for _, b := range jobs {
			if !a.StartedAt.Before(*b.StartedAt) && a.StartedAt.Before(*b.FinishedAt) {
				n++
			}
		}
		most = max(most, n)
	}
	if most != 2 {
		t.Fatalf("at most %d targets ran at once, want 2", most)
	}
}

func TestDeploymentGroupOfflineTargets(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	h.startTarget(t, "farm", "up", "web")
	down := h.startTarget(t, "farm", "down", "web")
	if err := down.stop(); err != nil {
		t.Fatal(err)
	}
	h.waitFor(t, "down offline", func() bool { return !h.c.Agent.GetX(ctx, down.id()).Online })

	// SKIP: the offline target is reported, the rest succeeds (partially).
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm",
		SkipArtifactDownload: true, Tasks: script("x", "true")}})
	d = h.waitDeployment(t, d.ID, deployment.StatusPARTIALLY_SUCCEEDED)
	ts := h.targets(t, d.ID)
	if ts["up"].Status != entjob.StatusSUCCEEDED || ts["down"].Status != entjob.StatusSKIPPED || !strings.Contains(ts["down"].ResultReason, "offline") {
		t.Fatalf("up %s, down %s %q", ts["up"].Status, ts["down"].Status, ts["down"].ResultReason)
	}

	// WAIT: the offline target's job waits, says why, and runs when it comes back.
	d = h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm",
		OfflineTargets: spec.OfflineWait, MaxParallel: "100%", SkipArtifactDownload: true, Tasks: script("x", "true")}})
	var waiting *ent.Job
	h.waitFor(t, "down's job waiting", func() bool {
		waiting = h.targets(t, d.ID)["down"]
		r, _ := h.e.ExplainWaiting(ctx, waiting.ID)
		return r == "waiting for target down to come online" && h.targets(t, d.ID)["up"].Status == entjob.StatusSUCCEEDED
	})
	if got := h.c.Deployment.GetX(ctx, d.ID).Status; got != deployment.StatusIN_PROGRESS {
		t.Fatalf("deployment %s while a target waits", got)
	}
	// The agent comes back with its saved credential.
	h.runAgent(t, agent.Config{Server: h.srv.URL, Name: "down", WorkDir: down.dir})
	h.waitDeployment(t, d.ID, deployment.StatusSUCCEEDED)
}

func TestDeploymentGroupCancelStopsEveryTarget(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		h.startTarget(t, "farm", fmt.Sprintf("c-%d", i))
	}
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm",
		MaxParallel: "2", SkipArtifactDownload: true, Tasks: script("long", "echo started; sleep 60")}})
	h.waitFor(t, "two targets running", func() bool {
		n := 0
		for _, j := range h.targets(t, d.ID) {
			if j.Status == entjob.StatusRUNNING {
				n++
			}
		}
		return n == 2
	})
	if _, err := h.e.CancelDeployment(ctx, admin, d.ID, "stop"); err != nil {
		t.Fatal(err)
	}
	d = h.waitDeployment(t, d.ID, deployment.StatusCANCELED)
	for name, j := range h.targets(t, d.ID) {
		if j.Status != entjob.StatusCANCELED {
			t.Fatalf("%s is %s after the cancel", name, j.Status)
		}
	}
}

func TestPoolRouting(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveAgentPool(ctx, admin, "linux", "", nil); err != nil {
		t.Fatal(err)
	}
	a := h.startPoolAgent(t, "windows", "in-a")
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseAgent, Pool: "linux", SkipArtifactDownload: true, Tasks: script("x", "true")}})
	var j *ent.Job
	h.waitFor(t, "the linux job waits", func() bool {
		jobs, _ := h.e.CurrentJobs(ctx, []int{d.ID})
		j = jobs[d.ID]
		if j == nil {
			return false
		}
		r, _ := h.e.ExplainWaiting(ctx, j.ID)
		return r == "no enabled agent is registered in pool linux"
	})
	if j = h.job(t, j.ID); j.Status != entjob.StatusQUEUED || j.Pool != "linux" {
		t.Fatalf("job %s in pool %q", j.Status, j.Pool)
	}
	// Moving the agent makes it take the job.
	if _, err := h.e.MoveAgent(ctx, admin, a.id(), "linux"); err != nil {
		t.Fatal(err)
	}
	j = h.waitJob(t, j.ID, entjob.StatusSUCCEEDED)
	if *j.AgentID != a.id() {
		t.Fatalf("ran on %d", *j.AgentID)
	}
	h.waitDeployment(t, d.ID, deployment.StatusSUCCEEDED)
}

func TestPhaseConditionAlwaysRunsAfterFailure(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	h := newHarness(t, db, harnessOpts{})
	h.startAgent(t, "runner", nil)
	d := h.deployPhases(t, admin, []spec.PhaseSpec{
		{Kind: spec.PhaseAgent, Name: "deploy", SkipArtifactDownload: true, Tasks: script("boom", "echo deploying; exit 3")},
		{Kind: spec.PhaseAgent, Name: "skipped", SkipArtifactDownload: true, Tasks: script("never", "echo never")},
		{Kind: spec.PhaseAgent, Name: "cleanup", Condition: spec.PhaseRunAlways, SkipArtifactDownload: true, Tasks: script("clean", "echo cleaning")},
		{Kind: spec.PhaseAgent, Name: "on failure", Condition: spec.PhaseRunFailed, SkipArtifactDownload: true, Tasks: script("alert", "echo alerting")},
	})
	d = h.waitDeployment(t, d.ID, deployment.StatusFAILED)
	jobs := h.c.Job.Query().Where(entjob.DeploymentID(d.ID)).Order(ent.Asc(entjob.FieldPhase)).AllX(context.Background())
	var phases []int
	for _, j := range jobs {
		phases = append(phases, j.Phase)
	}
	if !slices.Equal(phases, []int{0, 2, 3}) || jobs[1].Status != entjob.StatusSUCCEEDED || jobs[2].Status != entjob.StatusSUCCEEDED {
		t.Fatalf("phases run %v", phases)
	}
	if !strings.HasPrefix(d.StatusReason, "failed") {
		t.Fatalf("status reason %q: want the first phase's failure", d.StatusReason)
	}
	// One deployment log across the phases.
	lines, err := h.e.DeploymentLogs(context.Background(), d.ID, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, l := range lines {
		if l.Step > 0 {
			texts = append(texts, l.Text)
		}
	}
	if !slices.Contains(texts, "deploying") || !slices.Contains(texts, "cleaning") || !slices.Contains(texts, "alerting") || slices.Contains(texts, "never") {
		t.Fatalf("log %q", texts)
	}
}

func TestDeploymentGroupLostTarget(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	clk := delivery.NewManualClock(time.Now())
	h := newHarness(t, db, harnessOpts{clock: clk})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	h.startTarget(t, "farm", "steady")
	gone := h.startTarget(t, "farm", "vanishing")
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm",
		MaxParallel: "2", FailureThreshold: "50%", SkipArtifactDownload: true,
		Tasks: script("work", `echo started; if [ "$AGENT_NAME" = vanishing ]; then sleep 600; fi`)}})
	h.waitFor(t, "steady done, vanishing running", func() bool {
		ts := h.targets(t, d.ID)
		return ts["steady"].Status == entjob.StatusSUCCEEDED && ts["vanishing"].LogSeq >= 1
	})
	id := gone.id()
	h.gateClosed.Store(true)
	h.hub.session(id).conn.CloseNow()
	h.waitFor(t, "vanishing offline", func() bool { return h.hub.session(id) == nil })
	// A sign of life batched before the close may still be written after a first advance:
	// advance and sweep until the silence counts.
	h.waitFor(t, "vanishing lost", func() bool {
		clk.Advance(h.hub.opts.Grace + h.hub.seenEveryFor() + time.Second)
		h.hub.Sweep(ctx)
		return h.targets(t, d.ID)["vanishing"].Status == entjob.StatusLOST
	})
	d = h.waitDeployment(t, d.ID, deployment.StatusPARTIALLY_SUCCEEDED, deployment.StatusFAILED)
	ts := h.targets(t, d.ID)
	if ts["vanishing"].Status != entjob.StatusLOST || !strings.HasPrefix(ts["vanishing"].ResultReason, delivery.LostReason) {
		t.Fatalf("vanishing %s %q", ts["vanishing"].Status, ts["vanishing"].ResultReason)
	}
	// One failure of two targets is within 50%: the deployment partially succeeded.
	if d.Status != deployment.StatusPARTIALLY_SUCCEEDED {
		t.Fatalf("deployment %s %q", d.Status, d.StatusReason)
	}
	_ = gone.stop()
}

// TestDeploymentGroupAfterInterventionAndQueue: a server phase (manual intervention) before a
// deployment-group phase holds the rollout until resumed, and the environment's queue
// (maxParallel 1) keeps a second release's deployment waiting until the first one's targets are
// done.
func TestDeploymentGroupAfterInterventionAndQueue(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "farm", "", nil); err != nil {
		t.Fatal(err)
	}
	h.startTarget(t, "farm", "q-1")
	h.startTarget(t, "farm", "q-2")
	def, err := h.e.CreateDefinition(ctx, admin, spec.DefinitionSnapshot{Name: "queued", ReleaseNameFormat: "Release-$(rev:r)",
		Environments: []spec.EnvironmentSpec{{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerManual},
			Queue: spec.QueuePolicy{MaxParallel: 1},
			Phases: []spec.PhaseSpec{
				{Kind: spec.PhaseServer, Tasks: []spec.Task{{Name: "go?", Kind: spec.TaskManualIntervention, Instructions: "check"}}},
				{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "farm", MaxParallel: "100%", SkipArtifactDownload: true,
					Tasks: script("x", "true")},
			}}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	var deps []*ent.Deployment
	for range 2 {
		rel, err := h.e.CreateRelease(ctx, admin, delivery.CreateReleaseInput{DefinitionID: def.ID})
		if err != nil {
			t.Fatal(err)
		}
		d, err := h.e.DeployEnvironment(ctx, admin, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		deps = append(deps, d)
	}
	first := h.waitDeployment(t, deps[0].ID, deployment.StatusIN_PROGRESS)
	if n := len(h.targets(t, first.ID)); n != 0 {
		t.Fatalf("%d target jobs before the intervention was resumed", n)
	}
	if d := h.c.Deployment.GetX(ctx, deps[1].ID); d.Status != deployment.StatusQUEUED {
		t.Fatalf("second deployment %s while the first holds the slot", d.Status)
	}
	mis, err := h.e.PendingInterventionsFor(ctx, admin)
	if err != nil || len(mis) != 1 || mis[0].DeploymentID != first.ID {
		t.Fatalf("pending interventions %v %v", mis, err)
	}
	if _, err := h.e.ResumeManualIntervention(ctx, admin, mis[0].ID, "go"); err != nil {
		t.Fatal(err)
	}
	h.waitDeployment(t, first.ID, deployment.StatusSUCCEEDED)
	for name, j := range h.targets(t, first.ID) {
		if j.Status != entjob.StatusSUCCEEDED || j.Phase != 1 {
			t.Fatalf("%s: %s in phase %d", name, j.Status, j.Phase)
		}
	}
	// The slot passed on: the second deployment waits at its own intervention now.
	h.waitFor(t, "the second deployment's intervention", func() bool {
		mis, _ := h.e.PendingInterventionsFor(ctx, admin)
		return len(mis) == 1 && mis[0].DeploymentID == deps[1].ID
	})
}

// TestDeploymentGroupWithoutTargetsFreesTheQueue: a deployment-group phase that matches no
// target fails at once, saying so, and the next waiting deployment gets the slot.
func TestDeploymentGroupWithoutTargetsFreesTheQueue(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	h := newHarness(t, db, harnessOpts{})
	if _, err := h.e.SaveDeploymentGroup(ctx, admin, "empty", "", nil); err != nil {
		t.Fatal(err)
	}
	d := h.deployPhases(t, admin, []spec.PhaseSpec{{Kind: spec.PhaseDeploymentGroup, DeploymentGroup: "empty",
		Tags: []string{"web"}, Tasks: script("x", "true")}})
	d = h.waitDeployment(t, d.ID, deployment.StatusFAILED)
	if d.StatusReason != "deployment group empty has no enabled target tagged web" {
		t.Fatalf("reason %q", d.StatusReason)
	}
}
