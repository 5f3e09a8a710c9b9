package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseartifact"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestScenario walks dev (after release) → qa (after dev) → prod (after qa,
// two approvers, ALL) to the end, and reads the audit trail.
func TestScenario(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		carol := f.user("carol", "VIEWER")
		def := f.definition(snapshot("web",
			environment("dev", afterRelease),
			environment("qa", after("dev")),
			environment("prod", after("qa"), pre(spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalAll})),
		))
		rel := f.release(alice, def, "100")
		if rel.Name != "Release-1" || rel.Status != release.StatusACTIVE || rel.CreatedBy != "alice" {
			t.Fatalf("release %+v", rel)
		}
		f.wantState(rel.ID, "dev", "QUEUED/QUEUED")
		f.wantState(rel.ID, "qa", "-/NOT_STARTED")
		f.run(rel.ID, "dev", "SUCCEEDED")
		f.wantState(rel.ID, "dev", "SUCCEEDED/SUCCEEDED")
		f.wantState(rel.ID, "qa", "QUEUED/QUEUED")
		f.run(rel.ID, "qa", "SUCCEEDED")
		f.wantState(rel.ID, "prod", "PENDING_APPROVAL/PENDING_APPROVAL")
		prod := f.deployment(rel.ID, "prod")
		if prod.RequestedBy != "alice" || prod.Operation != "DEPLOY" || prod.Attempt != 1 {
			t.Fatalf("prod deployment %+v", prod)
		}
		f.approve(carol, f.pendingFor(prod.ID, approval.StagePRE, "carol"))
		f.wantState(rel.ID, "prod", "PENDING_APPROVAL/PENDING_APPROVAL")
		f.approve(bob, f.pendingFor(prod.ID, approval.StagePRE, "bob"))
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		f.run(rel.ID, "prod", "SUCCEEDED")
		for _, env := range []string{"dev", "qa", "prod"} {
			f.wantState(rel.ID, env, "SUCCEEDED/SUCCEEDED")
		}

		trail, err := f.c.AuditEvent.Query().Order(ent.Asc(auditevent.FieldSequence)).All(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, a := range trail {
			actions = append(actions, a.Action)
		}
		got := strings.Join(actions, " ")
		// The audit trail is what people did: alice's release and the two approvals. The
		// deployments' own steps (created by triggers, queued, started, succeeded) are the
		// history of their rows and events, not audit rows (docs/decisions.md).
		if want := "release.create approval.approve approval.approve"; got != want {
			t.Errorf("audit trail %q, want %q", got, want)
		}
		if n := f.audits("deployment.succeed"); n != 0 {
			t.Errorf("%d system transitions audited, want 0", n)
		}
		if f.bus.count(delivery.EventReleaseCreated) != 1 || f.bus.count(delivery.EventDeploymentStarted) != 3 ||
			f.bus.count(delivery.EventJobQueued) != 3 || f.bus.count(delivery.EventApprovalPending) != 2 {
			t.Errorf("events: %d releases, %d deployments, %d jobs, %d pending approvals",
				f.bus.count(delivery.EventReleaseCreated), f.bus.count(delivery.EventDeploymentStarted),
				f.bus.count(delivery.EventJobQueued), f.bus.count(delivery.EventApprovalPending))
		}
		f.verifyChain()

		cur, err := f.e.CurrentDeployments(f.ctx, f.admin, def)
		if err != nil {
			t.Fatal(err)
		}
		if len(cur) != 3 || cur[2].Environment != "prod" || cur[2].Current == nil || cur[2].Current.ID != rel.ID ||
			cur[2].Previous != nil || cur[2].Latest == nil || cur[2].Latest.ID != prod.ID {
			t.Fatalf("current deployments %+v", cur)
		}
	})
}

func TestCreateRelease(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		viewer := f.user("vic", "VIEWER")
		snap := snapshot("api", environment("dev", afterRelease), environment("prod", manualOnly))
		snap.ReleaseNameFormat = "$(Build.BuildNumber)-$(Date:yyyyMMdd)"
		snap.ArtifactSources = append(snap.ArtifactSources, spec.ArtifactSourceSpec{Alias: "tools", Type: "JENKINS", Job: "tools"})
		snap.Variables = []spec.Variable{{Name: "token", Value: "t", SettableAtReleaseTime: true}, {Name: "level", Value: "info", SettableAtReleaseTime: true}}
		def := f.definition(snap)

		noRelease := func(t *testing.T) {
			t.Helper()
			n, _ := f.c.Release.Query().Count(f.ctx)
			d, _ := f.c.ReleaseDefinition.Get(f.ctx, def)
			if n != 0 || d.ReleaseCounter != 0 {
				t.Fatalf("%d releases, counter %d after a refused request", n, d.ReleaseCounter)
			}
		}
		for _, tc := range []struct {
			name  string
			actor delivery.Actor
			in    delivery.CreateReleaseInput
			code  delivery.Code
			msg   string
		}{
			{"viewer", viewer, delivery.CreateReleaseInput{DefinitionID: def}, delivery.CodeForbidden, "requires role EDITOR"},
			{"unknown definition", alice, delivery.CreateReleaseInput{DefinitionID: 999999}, delivery.CodeNotFound, "not found"},
			{"unknown alias", alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "nope", BuildNumber: "1"}}}, delivery.CodeInvalidInput, `no artifact source "nope"`},
			{"no build known", alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}}, delivery.CodeInvalidInput, "no build known for artifact tools: give a build number"},
			{"bad reason", alice, delivery.CreateReleaseInput{DefinitionID: def, Reason: "WHIM"}, delivery.CodeInvalidInput, "unknown reason"},
			{"unknown manual env", alice, delivery.CreateReleaseInput{DefinitionID: def, ManualEnvironments: []string{"stage"}}, delivery.CodeInvalidInput, `no environment "stage"`},
			{"duplicate alias", alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}, {Alias: "app", BuildNumber: "2"}}}, delivery.CodeInvalidInput, "given twice"},
			{"hostile description", alice, delivery.CreateReleaseInput{DefinitionID: def, Description: strings.Repeat("x", 5000)}, delivery.CodeInvalidInput, "longer than"},
			{"empty override", alice, delivery.CreateReleaseInput{DefinitionID: def, VariableOverrides: []spec.Variable{{Name: " "}}}, delivery.CodeInvalidInput, "is empty"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				_, err := f.e.CreateRelease(f.ctx, tc.actor, tc.in)
				wantCode(t, err, tc.code)
				if !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("message %q lacks %q", err, tc.msg)
				}
				noRelease(t)
			})
		}

		both := []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "7.1", Branch: "main", Commit: "abc"}, {Alias: "tools", BuildNumber: "3"}}
		r1, err := f.e.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{DefinitionID: def, Artifacts: both,
			VariableOverrides: []spec.Variable{{Name: "token", Value: "s3cret", Secret: true}, {Name: "level", Value: "debug"}}})
		if err != nil {
			t.Fatal(err)
		}
		if r1.Name != "7.1-20250314" || r1.Number != 1 || r1.Reason != release.ReasonMANUAL || r1.DefinitionRevision != 1 {
			t.Fatalf("release %+v", r1)
		}
		if r1.VariableOverrides[0].Value == "s3cret" || r1.VariableOverrides[1].Value != "debug" {
			t.Fatalf("secret override stored in clear: %+v", r1.VariableOverrides)
		}
		f.wantState(r1.ID, "dev", "QUEUED/QUEUED")
		f.wantState(r1.ID, "prod", "-/NOT_STARTED")
		// Same build again: same name, so -2; tools defaults to its last version.
		r2, err := f.e.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{DefinitionID: def, Reason: "CONTINUOUS_INTEGRATION",
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "7.1"}}, ManualEnvironments: []string{"dev"}})
		if err != nil {
			t.Fatal(err)
		}
		if r2.Name != "7.1-20250314-2" || r2.Number != 2 || r2.Reason != release.ReasonCONTINUOUS_INTEGRATION {
			t.Fatalf("second release %+v", r2)
		}
		tools, err := f.c.ReleaseArtifact.Query().Where(releaseartifact.ReleaseID(r2.ID), releaseartifact.Alias("tools")).Only(f.ctx)
		if err != nil || tools.BuildNumber != "3" || tools.Primary {
			t.Fatalf("defaulted artifact %+v %v", tools, err)
		}
		// dev is manual for r2: nothing deploys.
		f.wantState(r2.ID, "dev", "-/NOT_STARTED")
		d, _ := f.c.ReleaseDefinition.Query().Where(releasedefinition.ID(def)).Only(f.ctx)
		if d.ReleaseCounter != 2 {
			t.Fatalf("counter %d", d.ReleaseCounter)
		}
		if f.audits("release.create") != 2 {
			t.Fatal("release creations not audited")
		}
		f.verifyChain()
	})
}

func TestRedeployAndRollback(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", manualOnly)))
		r1 := f.release(alice, def, "1")
		r2 := f.release(alice, def, "2")
		deploy := func(rel int) (*ent.Deployment, error) {
			return f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel, Environment: "prod", Comment: "go"})
		}
		d, err := deploy(r1.ID)
		if err != nil || d.Operation != "DEPLOY" || d.Attempt != 1 || d.RequestedBy != "alice" {
			t.Fatalf("first deploy %+v %v", d, err)
		}
		_, err = deploy(r1.ID)
		wantCode(t, err, delivery.CodeConflict)
		f.run(r1.ID, "prod", "SUCCEEDED")
		d, err = deploy(r1.ID)
		if err != nil || d.Operation != "REDEPLOY" || d.Attempt != 2 {
			t.Fatalf("redeploy %+v %v", d, err)
		}
		f.run(r1.ID, "prod", "SUCCEEDED")
		d, _ = deploy(r2.ID)
		f.run(r2.ID, "prod", "SUCCEEDED")
		if d.Operation != "DEPLOY" {
			t.Fatalf("r2 operation %s", d.Operation)
		}
		cur, _ := f.e.CurrentDeployments(f.ctx, f.admin, def)
		if cur[0].Current.ID != r2.ID || cur[0].Previous.ID != r1.ID {
			t.Fatalf("current %+v", cur[0])
		}
		d, err = deploy(r1.ID)
		if err != nil || d.Operation != "ROLLBACK" || d.Attempt != 3 {
			t.Fatalf("rollback %+v %v", d, err)
		}
		f.run(r1.ID, "prod", "SUCCEEDED")
		cur, _ = f.e.CurrentDeployments(f.ctx, f.admin, def)
		if cur[0].Current.ID != r1.ID || cur[0].Previous.ID != r2.ID {
			t.Fatalf("current after rollback: current %d previous %d", cur[0].Current.ID, cur[0].Previous.ID)
		}
		_, err = f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r1.ID, Environment: "nowhere"})
		wantCode(t, err, delivery.CodeInvalidInput)
		_, err = f.e.DeployEnvironment(f.ctx, f.user("v", "VIEWER"), delivery.DeployInput{ReleaseID: r1.ID, Environment: "prod"})
		wantCode(t, err, delivery.CodeForbidden)
		_, err = deploy(424242)
		wantCode(t, err, delivery.CodeNotFound)
	})
}

func TestFailureStopsTriggersAndPartialSuccess(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		partialOK := after("dev")
		partialOK.AllowPartiallySucceeded = true
		def := f.definition(snapshot("svc",
			environment("dev", afterRelease),
			environment("qa", after("dev")),
			environment("perf", partialOK),
		))
		r1 := f.release(alice, def, "1")
		f.run(r1.ID, "dev", "FAILED")
		f.wantState(r1.ID, "dev", "FAILED/FAILED")
		f.wantState(r1.ID, "qa", "-/NOT_STARTED")
		f.wantState(r1.ID, "perf", "-/NOT_STARTED")

		r2 := f.release(alice, def, "2")
		f.run(r2.ID, "dev", "PARTIALLY_SUCCEEDED")
		f.wantState(r2.ID, "dev", "PARTIALLY_SUCCEEDED/PARTIALLY_SUCCEEDED")
		f.wantState(r2.ID, "qa", "-/NOT_STARTED")
		f.wantState(r2.ID, "perf", "QUEUED/QUEUED")
		// A redeploy of dev succeeding now completes qa's condition.
		if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r2.ID, Environment: "dev"}); err != nil {
			t.Fatal(err)
		}
		f.run(r2.ID, "dev", "SUCCEEDED")
		f.wantState(r2.ID, "qa", "QUEUED/QUEUED")
		// perf is not triggered twice.
		n, _ := f.c.Deployment.Query().Count(f.ctx)
		if n != 5 {
			t.Fatalf("%d deployments, want 5", n)
		}
	})
}

func TestPartialWithPostApproval(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc", environment("dev", afterRelease, post(spec.ApprovalPolicy{Approvers: users("bob")}))))
		r := f.release(alice, def, "1")
		f.run(r.ID, "dev", "PARTIALLY_SUCCEEDED")
		f.wantState(r.ID, "dev", "PENDING_POST_APPROVAL/PENDING_POST_APPROVAL")
		d := f.deployment(r.ID, "dev")
		f.approve(bob, f.pendingFor(d.ID, approval.StagePOST, "bob"))
		f.wantState(r.ID, "dev", "PARTIALLY_SUCCEEDED/PARTIALLY_SUCCEEDED")
		pre := f.approvals(d.ID, approval.StagePRE)
		if len(pre) != 1 || !pre[0].Automated || pre[0].Status != approval.StatusAPPROVED {
			t.Fatalf("automated pre-approval %+v", pre)
		}
	})
}

func TestJobReports(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", afterRelease)))
		r := f.release(alice, def, "1")
		j := f.job(f.deployment(r.ID, "dev").ID)
		if j.Status != "QUEUED" || len(j.Demands) != 1 || j.Spec.Tasks[0].Script != "./deploy.sh" {
			t.Fatalf("job %+v", j)
		}
		wantCode(t, f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "SUCCEEDED"}), delivery.CodeConflict)
		wantCode(t, f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "GREAT"}), delivery.CodeInvalidInput)
		wantCode(t, f.e.StartJob(f.ctx, j.ID, 987654), delivery.CodeNotFound)
		wantCode(t, f.e.StartJob(f.ctx, 987654, f.agent()), delivery.CodeNotFound)
		ag := f.agent()
		if err := f.e.StartJob(f.ctx, j.ID, ag); err != nil {
			t.Fatal(err)
		}
		if err := f.e.StartJob(f.ctx, j.ID, ag); err != nil {
			t.Fatalf("a repeated start is accepted: %v", err)
		}
		wantCode(t, f.e.StartJob(f.ctx, j.ID, f.agent()), delivery.CodeConflict)
		f.wantState(r.ID, "dev", "IN_PROGRESS/IN_PROGRESS")
		res := delivery.JobResult{Status: "FAILED", Reason: "exit code 2"}
		if err := f.e.FinishJob(f.ctx, j.ID, res); err != nil {
			t.Fatal(err)
		}
		if err := f.e.FinishJob(f.ctx, j.ID, res); err != nil {
			t.Fatalf("a repeated identical report: %v", err)
		}
		err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "SUCCEEDED"})
		wantCode(t, err, delivery.CodeConflict)
		if !isTransition(err) {
			t.Fatalf("want a transition error: %v", err)
		}
		d := f.deployment(r.ID, "dev")
		if d.Status != "FAILED" || d.StatusReason != "failed: exit code 2" || d.CompletedAt == nil {
			t.Fatalf("deployment %+v", d)
		}
		if n := f.bus.count(delivery.EventJobFinished); n != 1 {
			t.Fatalf("job failure published %d times, want once", n)
		}
	})
}

func TestAbandon(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc",
			environment("dev", afterRelease),
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")})),
			environment("prod", after("dev")),
		))
		r := f.release(alice, def, "1")
		j := f.job(f.deployment(r.ID, "dev").ID)
		if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
			t.Fatal(err)
		}
		rel, err := f.e.AbandonRelease(f.ctx, alice, r.ID, "bad build")
		if err != nil || rel.Status != release.StatusABANDONED {
			t.Fatalf("abandon %+v %v", rel, err)
		}
		f.wantState(r.ID, "qa", "CANCELED/CANCELED")
		if st := statuses(f.approvals(f.deployment(r.ID, "qa").ID, approval.StagePRE)); st != "CANCELED" {
			t.Fatalf("qa approvals %s", st)
		}
		f.wantState(r.ID, "dev", "IN_PROGRESS/IN_PROGRESS")
		if !f.job(j.DeploymentID).CancelRequested || f.bus.count(delivery.EventJobCancelRequested) != 1 {
			t.Fatal("running job got no cancel request")
		}
		// The agent reports success anyway: the deployment is canceled, prod is not triggered.
		if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		f.wantState(r.ID, "dev", "CANCELED/CANCELED")
		f.wantState(r.ID, "prod", "-/NOT_STARTED")
		_, err = f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r.ID, Environment: "prod"})
		wantCode(t, err, delivery.CodeConflict)
		_, err = f.e.AbandonRelease(f.ctx, alice, r.ID, "again")
		wantCode(t, err, delivery.CodeConflict)
		if f.audits("release.abandon") != 1 || f.bus.count(delivery.EventReleaseAbandoned) != 1 {
			t.Fatal("abandon not audited or evented once")
		}
		f.verifyChain()
	})
}

// TestCronSchedule creates releases from a definition's cron schedule.
func TestCronSchedule(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		snap := snapshot("nightly", environment("dev", afterRelease))
		snap.Schedules = []spec.Schedule{{Cron: "0 3 * * *"}}
		def := f.definition(snap)
		if err := f.e.ScheduleDefinition(f.ctx, def); err != nil {
			t.Fatal(err)
		}
		next, ok, err := f.e.NextTimerDue(f.ctx)
		if err != nil || !ok || !next.Equal(time.Date(2025, 3, 15, 3, 0, 0, 0, time.UTC)) {
			t.Fatalf("next due %v %v %v", next, ok, err)
		}
		// Rescheduling does not duplicate.
		if err := f.e.ScheduleDefinition(f.ctx, def); err != nil {
			t.Fatal(err)
		}
		f.clk.Set(next.Add(-time.Second))
		if n := f.runTimers(); n != 0 {
			t.Fatalf("%d timers ran early", n)
		}
		// No build known yet: the schedule records why and moves on.
		f.clk.Set(next)
		if n := f.runTimers(); n != 1 {
			t.Fatalf("%d timers ran", n)
		}
		if n, _ := f.c.Release.Query().Count(f.ctx); n != 0 {
			t.Fatalf("%d releases without a build", n)
		}
		f.release(alice, def, "41")
		f.clk.Set(next.Add(24 * time.Hour))
		if n := f.runTimers(); n != 1 {
			t.Fatalf("%d timers ran on day 2", n)
		}
		rels, _ := f.c.Release.Query().Where(release.ReasonEQ(release.ReasonSCHEDULE)).All(f.ctx)
		if len(rels) != 1 || rels[0].CreatedBy != "schedule" {
			t.Fatalf("scheduled releases %+v", rels)
		}
		f.wantState(rels[0].ID, "dev", "QUEUED/QUEUED")
		next, ok, _ = f.e.NextTimerDue(f.ctx)
		if !ok || !next.Equal(time.Date(2025, 3, 17, 3, 0, 0, 0, time.UTC)) {
			t.Fatalf("next due after run %v", next)
		}
		// A bad schedule is refused with the field.
		err = delivery.ValidateSchedule("schedules[0]", spec.Schedule{Cron: "61 * * * *"})
		wantCode(t, err, delivery.CodeInvalidInput)
		wantCode(t, delivery.ValidateSchedule("schedules[0]", spec.Schedule{Cron: "0 3 * * *", TimeZone: "Mars/Olympus"}), delivery.CodeInvalidInput)
	})
}
