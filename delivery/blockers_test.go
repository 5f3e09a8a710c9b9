package delivery_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	entenv "github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/freezewindow"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// why reads the blockers of rel in env as actor, failing the test on error.
func (f *fixture) why(actor delivery.Actor, rel int, env string) *delivery.EnvironmentBlockers {
	f.t.Helper()
	out, err := f.e.WhyNotDeployed(f.ctx, actor, rel, env)
	if err != nil {
		f.t.Fatalf("why is release %d not in %s: %v", rel, env, err)
	}
	return out
}

// kinds lists the blockers' kinds, comma-separated.
func kinds(b *delivery.EnvironmentBlockers) string {
	var out []string
	for _, x := range b.Blockers {
		out = append(out, string(x.Kind))
	}
	return strings.Join(out, ",")
}

func wantKinds(t *testing.T, b *delivery.EnvironmentBlockers, want string) {
	t.Helper()
	if got := kinds(b); got != want {
		var msgs []string
		for _, x := range b.Blockers {
			msgs = append(msgs, x.Message)
		}
		t.Fatalf("blockers %q, want %q; messages: %q", got, want, msgs)
	}
}

func actions(b *delivery.Blocker) string {
	var out []string
	for _, a := range b.ViewerActions {
		out = append(out, string(a))
	}
	return strings.Join(out, ",")
}

func wantActions(t *testing.T, who string, b *delivery.Blocker, want string) {
	t.Helper()
	if got := actions(b); got != want {
		t.Fatalf("%s may %q on %s, want %q", who, got, b.Kind, want)
	}
}

// TestWhyTriggerAndUpstream: an environment nobody deployed (MANUAL
// trigger), one waiting for its upstream, one whose upstream failed, and a
// deployed one (no blockers); the deploy action follows manageDeployments.
func TestWhyTriggerAndUpstream(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		viewer := f.user("vera", "VIEWER")
		outsider := f.user("otto", "EDITOR")
		def := f.definition(snapshot("shop",
			environment("dev", afterRelease),
			environment("qa", after("dev")),
			environment("prod", manualOnly)))
		// prod's deployments are for eddie alone.
		if err := f.c.Environment.Update().Where(entenv.Name("prod")).SetPermissions(spec.EnvironmentPermissions{ManageDeployments: users("eddie")}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		rel := f.release(ed, def, "1")

		b := f.why(ed, rel.ID, "prod")
		wantKinds(t, b, "TRIGGER_NOT_MET")
		if !strings.Contains(b.Blockers[0].Message, "trigger MANUAL") || !strings.Contains(b.Blockers[0].Message, "nobody has deployed") {
			t.Fatalf("message %q", b.Blockers[0].Message)
		}
		wantActions(t, "eddie", b.Blockers[0], "DEPLOY")
		if got := b.Blockers[0].WhoCanAct; !slices.Equal(got, []string{"user eddie"}) {
			t.Fatalf("who can act: %q", got)
		}
		wantActions(t, "vera", f.why(viewer, rel.ID, "prod").Blockers[0], "")
		wantActions(t, "otto", f.why(outsider, rel.ID, "prod").Blockers[0], "")
		wantActions(t, "root (ADMIN override)", f.why(f.admin, rel.ID, "prod").Blockers[0], "DEPLOY")

		// qa waits for dev, which waits for an agent.
		b = f.why(ed, rel.ID, "qa")
		wantKinds(t, b, "TRIGGER_NOT_MET")
		if !slices.Equal(b.Blockers[0].Environments, []string{"dev"}) || !strings.Contains(b.Blockers[0].Message, "dev (QUEUED)") {
			t.Fatalf("qa: %+v", b.Blockers[0])
		}
		b = f.why(ed, rel.ID, "dev")
		wantKinds(t, b, "WAITING_FOR_AGENT")
		if b.Blockers[0].Job == nil || !strings.Contains(b.Blockers[0].Message, "demands: sh") {
			t.Fatalf("dev: %+v", b.Blockers[0])
		}
		wantActions(t, "eddie", b.Blockers[0], "CANCEL_DEPLOYMENT")
		wantActions(t, "vera", f.why(viewer, rel.ID, "dev").Blockers[0], "")

		// dev fails: qa's trigger will not fire.
		f.run(rel.ID, "dev", "FAILED")
		b = f.why(ed, rel.ID, "qa")
		wantKinds(t, b, "UPSTREAM_FAILED")
		if !slices.Equal(b.Blockers[0].Environments, []string{"dev"}) || !strings.Contains(b.Blockers[0].Message, "dev (FAILED)") {
			t.Fatalf("qa: %+v", b.Blockers[0])
		}
		wantActions(t, "eddie", b.Blockers[0], "DEPLOY")
		b = f.why(ed, rel.ID, "dev")
		wantKinds(t, b, "DEPLOYMENT_ENDED")
		wantActions(t, "eddie", b.Blockers[0], "DEPLOY")

		// Redeployed, dev succeeds: no blockers; qa is deploying.
		if _, err := f.e.DeployEnvironment(f.ctx, ed, delivery.DeployInput{ReleaseID: rel.ID, Environment: "dev"}); err != nil {
			t.Fatal(err)
		}
		f.run(rel.ID, "dev", "SUCCEEDED")
		b = f.why(ed, rel.ID, "dev")
		if !b.Deployed || len(b.Blockers) != 0 || b.Status != "SUCCEEDED" {
			t.Fatalf("a deployed environment: %+v", b)
		}
		wantKinds(t, f.why(ed, rel.ID, "qa"), "WAITING_FOR_AGENT")
		f.run(rel.ID, "qa", "SUCCEEDED")
		if b := f.why(viewer, rel.ID, "qa"); !b.Deployed || len(b.Blockers) != 0 {
			t.Fatalf("qa deployed: %+v", b)
		}

		// A draft deploys nothing until it is started.
		draft, err := f.e.CreateRelease(f.ctx, ed, delivery.CreateReleaseInput{DefinitionID: def, Draft: true,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "2", BuildID: "2"}}})
		if err != nil {
			t.Fatal(err)
		}
		b = f.why(ed, draft.ID, "dev")
		wantKinds(t, b, "RELEASE_INACTIVE")
		if !strings.Contains(b.Blockers[0].Message, "is a draft") {
			t.Fatalf("draft: %q", b.Blockers[0].Message)
		}
		// An abandoned release: nothing more deploys.
		if _, err := f.e.AbandonRelease(f.ctx, ed, rel.ID, ""); err != nil {
			t.Fatal(err)
		}
		wantKinds(t, f.why(ed, rel.ID, "prod"), "RELEASE_INACTIVE")
	})
}

// TestWhyApprovals: pending pre-deployment approvals name who can act; an
// approver may approve and reject, the requester may not when the policy
// says so, others only see; a SEQUENTIAL second approver waits its turn.
func TestWhyApprovals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		alice := f.user("alice", "VIEWER")
		bob := f.user("bob", "VIEWER")
		f.group("ops", bob)
		def := f.definition(snapshot("shop", environment("prod", afterRelease, pre(spec.ApprovalPolicy{
			Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "alice"}, {Kind: spec.ApproverGroup, Name: "ops"}, {Kind: spec.ApproverUser, Name: "eddie"}},
			Mode:      spec.ApprovalSequential, RequesterCannotApprove: true, TimeoutMinutes: 60,
		}))))
		rel := f.release(ed, def, "1")
		b := f.why(alice, rel.ID, "prod")
		wantKinds(t, b, "PENDING_APPROVAL")
		x := b.Blockers[0]
		if x.Stage == nil || *x.Stage != approval.StagePRE || len(x.Approvals) != 3 || x.Until == nil || !x.Until.Equal(t0.Add(time.Hour)) {
			t.Fatalf("blocker: %+v", x)
		}
		if !slices.Equal(x.WhoCanAct, []string{"user alice", "group ops", "user eddie"}) {
			t.Fatalf("who can act: %q", x.WhoCanAct)
		}
		wantActions(t, "alice", x, "APPROVE,REJECT,REASSIGN")
		if !x.Approvals[0].ViewerCanDecide || x.Approvals[1].ViewerCanDecide {
			t.Fatalf("alice decides %+v", x.Approvals)
		}
		// bob (group ops) waits for alice: sequential.
		x = f.why(bob, rel.ID, "prod").Blockers[0]
		if x.Approvals[1].ViewerCanDecide || actions(x) != "" {
			t.Fatalf("bob before his turn: %+v, %s", x.Approvals[1], actions(x))
		}
		f.approve(alice, x.Approvals[0].Approval.ID)
		x = f.why(bob, rel.ID, "prod").Blockers[0]
		if len(x.Approvals) != 2 || !x.Approvals[0].ViewerCanDecide {
			t.Fatalf("bob in his turn: %+v", x.Approvals)
		}
		f.approve(bob, x.Approvals[0].Approval.ID)
		// eddie created the release: he may not approve it, only cancel.
		x = f.why(ed, rel.ID, "prod").Blockers[0]
		if len(x.Approvals) != 1 || x.Approvals[0].ViewerCanDecide {
			t.Fatalf("eddie (requester): %+v", x.Approvals)
		}
		wantActions(t, "eddie", x, "CANCEL_DEPLOYMENT")
		// The engine agrees.
		_, err := f.e.Approve(f.ctx, ed, delivery.ApprovalDecision{ApprovalID: x.Approvals[0].Approval.ID})
		wantCode(t, err, delivery.CodeForbidden)
		// root (ADMIN, not an approver) may reassign through manageApprovals, not decide.
		wantActions(t, "root", f.why(f.admin, rel.ID, "prod").Blockers[0], "REASSIGN,CANCEL_DEPLOYMENT")
		// Rejected by ... reassigned to alice, who rejects: the attempt ended.
		if _, err := f.e.Reassign(f.ctx, f.admin, x.Approvals[0].Approval.ID, "alice", "eddie is away"); err != nil {
			t.Fatal(err)
		}
		x = f.why(alice, rel.ID, "prod").Blockers[0]
		if _, err := f.e.Reject(f.ctx, alice, delivery.ApprovalDecision{ApprovalID: x.Approvals[0].Approval.ID, Comment: "not today"}); err != nil {
			t.Fatal(err)
		}
		b = f.why(ed, rel.ID, "prod")
		wantKinds(t, b, "DEPLOYMENT_ENDED")
		if !strings.Contains(b.Blockers[0].Message, "REJECTED: rejected by alice: not today") {
			t.Fatalf("message %q", b.Blockers[0].Message)
		}
	})
}

// TestWhyGates: gates being sampled (the injected clock drives them) show
// the count of samples, the last and the last failing one, and when they
// time out; an editor may ignore them.
func TestWhyGates(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		ed := f.user("eddie", "EDITOR")
		viewer := f.user("vera", "VIEWER")
		def := f.gateDefinition(environment("prod", afterRelease, preGates(spec.GatePolicy{
			Gates:        []spec.Gate{httpGate("health", h.srv.URL+"/health")},
			DelayMinutes: 1, IntervalMinutes: 5, TimeoutMinutes: 30, MinimumSuccessMinutes: 10,
		})))
		rel := f.release(ed, def, "1")
		b := f.why(ed, rel.ID, "prod")
		wantKinds(t, b, "GATES")
		x := b.Blockers[0]
		if x.GateSampleCount != 0 || x.Until == nil || !x.Until.Equal(t0.Add(30*time.Minute)) || !strings.Contains(x.Message, "no sample taken yet") {
			t.Fatalf("before the first sample: %+v", x)
		}
		wantActions(t, "eddie", x, "IGNORE_GATES,CANCEL_DEPLOYMENT")
		wantActions(t, "vera", f.why(viewer, rel.ID, "prod").Blockers[0], "")
		f.clk.Advance(time.Minute)
		f.runTimers() // sample 1: red
		x = f.why(ed, rel.ID, "prod").Blockers[0]
		if x.GateSampleCount != 1 || x.LastFailingSample == nil || x.LastFailingSample.Number != 1 ||
			!strings.Contains(x.Message, "sample 1 of 1 failed: health: status 200; successCriteria not met") {
			t.Fatalf("after a failing sample: %+v", x)
		}
		h.state.Store("green")
		f.clk.Advance(5 * time.Minute)
		f.runTimers() // sample 2: green, not yet for 10 minutes
		x = f.why(ed, rel.ID, "prod").Blockers[0]
		if x.GateSampleCount != 2 || x.LastSample.Number != 2 || !x.LastSample.Passed || x.LastFailingSample == nil || x.LastFailingSample.Number != 1 ||
			!strings.Contains(x.Message, "must keep passing for 10 minutes") {
			t.Fatalf("after a passing sample: %+v", x)
		}
		if _, err := f.e.IgnoreGates(f.ctx, ed, x.Deployment.ID, "known"); err != nil {
			t.Fatal(err)
		}
		wantKinds(t, f.why(ed, rel.ID, "prod"), "WAITING_FOR_AGENT")
	})
}

// TestWhyFreezeAndDeferral: a WAIT window holds a queued deployment until
// its end; an approver's deferral holds one until its time; a REFUSE
// window says so before anyone deploys, and only an ADMIN may go through.
func TestWhyFreezeAndDeferral(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		alice := f.user("alice", "VIEWER")
		def := f.definition(snapshot("shop",
			environment("dev", afterRelease),
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("alice")})),
			environment("prod", manualOnly)))
		end := t0.Add(2 * time.Hour)
		start := t0.Add(-time.Hour)
		if _, err := f.e.CreateFreezeWindow(f.ctx, f.admin, delivery.FreezeWindowInput{Name: "release week", Reason: "audit",
			DefinitionID: &def, Environment: "dev", Mode: freezewindow.ModeWAIT, StartsAt: &start, EndsAt: &end}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.CreateFreezeWindow(f.ctx, f.admin, delivery.FreezeWindowInput{Name: "no prod", DefinitionID: &def,
			Environment: "prod", Mode: freezewindow.ModeREFUSE, StartsAt: &start, EndsAt: &end}); err != nil {
			t.Fatal(err)
		}
		rel := f.release(ed, def, "1")
		b := f.why(ed, rel.ID, "dev")
		wantKinds(t, b, "FROZEN")
		x := b.Blockers[0]
		if x.Until == nil || !x.Until.Equal(end) || len(x.FreezeWindows) != 1 || !strings.Contains(x.Message, `"release week" (audit)`) {
			t.Fatalf("frozen: %+v", x)
		}
		wantActions(t, "eddie", x, "")

		// qa: approved with a deferral.
		aps := f.approvals(f.deployment(rel.ID, "qa").ID, approval.StagePRE)
		wantKinds(t, f.why(ed, rel.ID, "qa"), "PENDING_APPROVAL")
		later := t0.Add(3 * time.Hour)
		if _, err := f.e.Approve(f.ctx, alice, delivery.ApprovalDecision{ApprovalID: aps[0].ID, DeferUntil: &later}); err != nil {
			t.Fatal(err)
		}
		b = f.why(ed, rel.ID, "qa")
		wantKinds(t, b, "DEFERRED")
		if b.Blockers[0].Until == nil || !b.Blockers[0].Until.Equal(later) || !strings.Contains(b.Blockers[0].Message, "deferred by alice") {
			t.Fatalf("deferred: %+v", b.Blockers[0])
		}
		wantActions(t, "eddie", b.Blockers[0], "CANCEL_DEPLOYMENT")

		// prod: nobody deployed it, and a REFUSE window would refuse it.
		b = f.why(ed, rel.ID, "prod")
		wantKinds(t, b, "TRIGGER_NOT_MET,FROZEN")
		wantActions(t, "eddie", b.Blockers[0], "")
		wantActions(t, "root", f.why(f.admin, rel.ID, "prod").Blockers[0], "DEPLOY_THROUGH_FREEZE")
		_, err := f.e.DeployEnvironment(f.ctx, ed, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		wantCode(t, err, delivery.CodeConflict)

		// After the window, dev gets its job.
		f.clk.Advance(2*time.Hour + time.Minute)
		f.runTimers()
		wantKinds(t, f.why(ed, rel.ID, "dev"), "WAITING_FOR_AGENT")
	})
}

// TestWhyQueue: with one slot, the second and third releases wait in line
// behind the first, whose job waits for an agent with the dispatcher's
// waiting reason.
func TestWhyQueue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		def := f.definition(snapshot("shop", environment("dev", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1}))))
		r1 := f.release(ed, def, "1")
		r2 := f.release(ed, def, "2")
		r3 := f.release(ed, def, "3")
		j := f.job(f.deployment(r1.ID, "dev").ID)
		reason, err := f.e.ExplainWaiting(f.ctx, j.ID)
		if err != nil || reason == "" {
			t.Fatalf("waiting reason %q, %v", reason, err)
		}
		b := f.why(ed, r1.ID, "dev")
		wantKinds(t, b, "WAITING_FOR_AGENT")
		if !strings.Contains(b.Blockers[0].Message, reason) || b.Blockers[0].Since == nil {
			t.Fatalf("r1: %q does not say %q", b.Blockers[0].Message, reason)
		}
		b = f.why(ed, r2.ID, "dev")
		wantKinds(t, b, "QUEUE")
		x := b.Blockers[0]
		if *x.QueuePosition != 1 || *x.MaxParallel != 1 || len(x.QueueAhead) != 0 || len(x.QueueRunning) != 1 || x.QueueRunning[0].ReleaseName != r1.Name {
			t.Fatalf("r2: %+v", x)
		}
		x = f.why(ed, r3.ID, "dev").Blockers[0]
		if *x.QueuePosition != 2 || len(x.QueueAhead) != 1 || x.QueueAhead[0].ReleaseName != r2.Name || !strings.Contains(x.Message, r1.Name+" (QUEUED) hold(s) the slots") {
			t.Fatalf("r3: %+v", x)
		}
		wantActions(t, "eddie", x, "CANCEL_DEPLOYMENT")
		// r1 runs: it says so; r2 is still next.
		if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
			t.Fatal(err)
		}
		b = f.why(ed, r1.ID, "dev")
		wantKinds(t, b, "RUNNING")
		wantActions(t, "eddie", b.Blockers[0], "CANCEL_DEPLOYMENT")
		// Once a cancel is asked of the agent, a second is refused: not offered.
		if _, err := f.e.CancelDeployment(f.ctx, ed, b.Blockers[0].Deployment.ID, "wrong build"); err != nil {
			t.Fatal(err)
		}
		b = f.why(ed, r1.ID, "dev")
		wantKinds(t, b, "RUNNING")
		wantActions(t, "eddie", b.Blockers[0], "")
		if !strings.Contains(b.Blockers[0].Message, "a cancel was requested") {
			t.Fatalf("message %q", b.Blockers[0].Message)
		}
		_, err = f.e.CancelDeployment(f.ctx, ed, b.Blockers[0].Deployment.ID, "again")
		wantCode(t, err, delivery.CodeConflict)
		if x := f.why(ed, r2.ID, "dev").Blockers[0]; *x.QueuePosition != 1 {
			t.Fatalf("r2 after r1 started: %+v", x)
		}
	})
}

// TestWhyManualIntervention: a deployment waiting at a manual intervention
// names its approver, who may resume or reject it; others may not.
func TestWhyManualIntervention(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newMIFixture(t, db)
		rel := f.newRelease("1")
		d := f.deployment(rel.ID, "prod")
		f.runJob(d.ID, f.agent(), 0, "SUCCEEDED")
		b := f.why(f.alice, rel.ID, "prod")
		wantKinds(t, b, "MANUAL_INTERVENTION")
		x := b.Blockers[0]
		if x.Intervention == nil || x.Until == nil || !x.Until.Equal(t0.Add(time.Hour)) || !slices.Equal(x.WhoCanAct, []string{"user alice"}) {
			t.Fatalf("intervention: %+v", x)
		}
		wantActions(t, "alice", x, "RESUME_INTERVENTION,REJECT_INTERVENTION")
		wantActions(t, "bob", f.why(f.bob, rel.ID, "prod").Blockers[0], "CANCEL_DEPLOYMENT")
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.bob, x.Intervention.ID, ""); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("bob resumed: %v", err)
		}
		if _, err := f.e.ResumeManualIntervention(f.ctx, f.alice, x.Intervention.ID, "ok"); err != nil {
			t.Fatal(err)
		}
		wantKinds(t, f.why(f.alice, rel.ID, "prod"), "WAITING_FOR_AGENT")
	})
}

// TestWhyForwardOnly: qa waits for approval of two releases; once the newer
// one is deployed, the older one's automatic deployment shows the forward-
// only rule, and after its approval it was superseded.
func TestWhyForwardOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		alice := f.user("alice", "VIEWER")
		def := f.definition(snapshot("shop", environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("alice")}))))
		r1 := f.release(ed, def, "1")
		r2 := f.release(ed, def, "2")
		wantKinds(t, f.why(ed, r1.ID, "qa"), "PENDING_APPROVAL")
		f.approve(alice, f.pendingFor(f.deployment(r2.ID, "qa").ID, approval.StagePRE, "alice"))
		f.run(r2.ID, "qa", "SUCCEEDED")
		b := f.why(ed, r1.ID, "qa")
		wantKinds(t, b, "PENDING_APPROVAL,FORWARD_ONLY")
		if b.Blockers[1].NewerRelease == nil || b.Blockers[1].NewerRelease.Name != r2.Name {
			t.Fatalf("forward only: %+v", b.Blockers[1])
		}
		f.approve(alice, f.pendingFor(f.deployment(r1.ID, "qa").ID, approval.StagePRE, "alice"))
		f.wantState(r1.ID, "qa", "CANCELED/CANCELED")
		b = f.why(ed, r1.ID, "qa")
		wantKinds(t, b, "FORWARD_ONLY")
		if !strings.Contains(b.Blockers[0].Message, "was canceled because "+r2.Name) {
			t.Fatalf("message %q", b.Blockers[0].Message)
		}
		wantActions(t, "eddie", b.Blockers[0], "DEPLOY")
		// A person's deploy goes through as a rollback.
		d, err := f.e.DeployEnvironment(f.ctx, ed, delivery.DeployInput{ReleaseID: r1.ID, Environment: "qa"})
		if err != nil || d.Operation != "ROLLBACK" {
			t.Fatalf("rollback: %+v, %v", d, err)
		}
	})
}

// TestWhyHostile: unknown releases, environments the release does not have,
// names that are no names, and a release of a definition the viewer may not
// read get clear errors.
func TestWhyHostile(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		ed := f.user("eddie", "EDITOR")
		def := f.definition(snapshot("shop", environment("dev", afterRelease), environment("prod", manualOnly)))
		rel := f.release(ed, def, "1")
		for _, c := range []struct {
			rel  int
			env  string
			code delivery.Code
			msg  string
		}{
			{999999, "dev", delivery.CodeNotFound, "release 999999 not found"},
			{-1, "dev", delivery.CodeNotFound, "not found"},
			{rel.ID, "staging", delivery.CodeInvalidInput, `has no environment "staging" (it has dev, prod)`},
			{rel.ID, "", delivery.CodeInvalidInput, "name an environment"},
			{rel.ID, "   ", delivery.CodeInvalidInput, "name an environment"},
			{rel.ID, "dev\x00; DROP TABLE releases", delivery.CodeInvalidInput, "not an environment name"},
			{rel.ID, strings.Repeat("x", 300), delivery.CodeInvalidInput, "not an environment name"},
			{rel.ID, "DEV", delivery.CodeInvalidInput, "has no environment"},
		} {
			_, err := f.e.WhyNotDeployed(f.ctx, ed, c.rel, c.env)
			wantCode(t, err, c.code)
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%d %q: %v, want it to say %q", c.rel, c.env, err, c.msg)
			}
		}
		// Readers: only group ops reads the definition.
		if err := f.c.ReleaseDefinition.UpdateOneID(def).SetReaders([]string{"ops"}).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		_, err := f.e.WhyNotDeployed(f.ctx, ed, rel.ID, "dev")
		wantCode(t, err, delivery.CodeNotFound)
		// The same answer for an environment that exists and one that does not.
		_, err = f.e.WhyNotDeployed(f.ctx, ed, rel.ID, "staging")
		wantCode(t, err, delivery.CodeNotFound)
		f.group("ops", ed)
		wantKinds(t, f.why(ed, rel.ID, "prod"), "TRIGGER_NOT_MET")
		// No role, no answer.
		_, err = f.e.WhyNotDeployed(f.ctx, delivery.Actor{Username: "nobody"}, rel.ID, "dev")
		wantCode(t, err, delivery.CodeForbidden)
	})
}

// TestWhyCostIgnoresQueue: the blockers of the last of 2 or of 30 waiting
// deployments cost the same statements.
func TestWhyCostIgnoresQueue(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		cost := &sqlCost{}
		counted := delivery.New(ent.NewClient(ent.Driver(costDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), c: cost})),
			delivery.Options{Dialect: db.Dialect, Clock: f.clk, Bus: f.bus})
		ed := f.user("eddie", "EDITOR")
		def := f.definition(snapshot("shop", environment("dev", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1}))))
		var last *ent.Release
		var stmts []int64
		n := 0
		for _, upTo := range []int{3, 30} {
			for ; n < upTo; n++ {
				last = f.release(ed, def, fmt.Sprint(n+1))
			}
			cost.stmts.Store(0)
			b, err := counted.WhyNotDeployed(f.ctx, ed, last.ID, "dev")
			if err != nil {
				t.Fatal(err)
			}
			wantKinds(t, b, "QUEUE")
			if *b.Blockers[0].QueuePosition != upTo-1 || len(b.Blockers[0].QueueAhead) != min(upTo-2, 5) {
				t.Fatalf("%d releases: %+v", upTo, b.Blockers[0])
			}
			stmts = append(stmts, cost.stmts.Load())
		}
		t.Logf("whyNotDeployed with 1 and 28 waiting ahead: %v statements", stmts)
		if stmts[0] != stmts[1] || stmts[0] > 20 {
			t.Fatalf("statements %v: they grow with the queue or are too many", stmts)
		}
	})
}
