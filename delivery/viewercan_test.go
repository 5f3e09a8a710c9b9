package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/freezewindow"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// viewerCanCase is a release whose environment prod is in one state.
type viewerCanCase struct {
	name  string
	state string // prod's deployment/environment state, checked after setup
	setup func(f *fixture, w *viewerCanWorld) *ent.Release
}

// viewerCanWorld is the definitions and people the cases share.
type viewerCanWorld struct {
	alice, eve, bob, vic               delivery.Actor
	approved, gated, postGated, manual int // definitions
}

// TestViewerCanMatchesMutations: for a release's environment in every state
// (each deployment status, a cancel already requested, never deployed, a
// newer release deployed, a REFUSE freeze, the release abandoned), and for
// each person (the approver, an EDITOR the environment's permission list
// leaves out, an EDITOR in it, an ADMIN overriding it, a VIEWER), what
// viewerCan says of deploy, cancel, abandon, approve, reject and reassign is
// what the mutation then does: allowed exactly when viewerCan says so, and
// a deploy is the operation viewerCan named.
func TestViewerCanMatchesMutations(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := gateFixture(t, db)
		h := newHealth(t)
		h.status.Store(503) // the gates keep failing
		w := &viewerCanWorld{alice: f.user("alice", "EDITOR"), eve: f.user("eve", "EDITOR"), bob: f.user("bob", "VIEWER"), vic: f.user("vic", "VIEWER")}
		perms := func(e *spec.EnvironmentSpec) {
			e.Permissions = spec.EnvironmentPermissions{ManageDeployments: users("alice")}
		}
		approvals := spec.ApprovalPolicy{Approvers: users("bob")}
		gates := spec.GatePolicy{Gates: []spec.Gate{httpGate("health", h.srv.URL+"/health")}, IntervalMinutes: 5, TimeoutMinutes: 600}
		def := func(name string, env spec.EnvironmentSpec) int {
			snap := snapshot(name, env)
			snap.Variables = []spec.Variable{{Name: "HEALTH_TOKEN", Value: "t", Secret: true}}
			snap.Permissions = spec.DefinitionPermissions{ManageDeployments: users("alice")}
			d, err := f.e.CreateDefinition(f.ctx, f.admin, snap, "")
			if err != nil {
				t.Fatalf("creating definition %s: %v", name, err)
			}
			return d.ID
		}
		w.approved = def("approved", environment("prod", afterRelease, perms, pre(approvals), post(approvals)))
		w.gated = def("gated", environment("prod", afterRelease, perms, preGates(gates)))
		w.postGated = def("postgated", environment("prod", afterRelease, perms, postGates(gates)))
		w.manual = def("manual", environment("prod", manualOnly, perms))

		build := 0
		newRelease := func(def int) *ent.Release {
			build++
			return f.release(w.alice, def, fmt.Sprint(build))
		}
		approveAll := func(rel *ent.Release, stage approval.Stage) {
			f.approve(w.bob, f.pendingFor(f.deployment(rel.ID, "prod").ID, stage, "bob"))
		}
		start := func(rel *ent.Release) {
			j := f.job(f.deployment(rel.ID, "prod").ID)
			if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
				t.Fatalf("starting job: %v", err)
			}
		}
		finish := func(rel *ent.Release, status string) {
			j := f.job(f.deployment(rel.ID, "prod").ID)
			if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: status}); err != nil {
				t.Fatalf("finishing job: %v", err)
			}
		}
		succeeded := func() *ent.Release {
			rel := newRelease(w.approved)
			approveAll(rel, approval.StagePRE)
			start(rel)
			finish(rel, "SUCCEEDED")
			approveAll(rel, approval.StagePOST)
			return rel
		}
		cases := []viewerCanCase{
			{"never deployed", "-/NOT_STARTED", func(*fixture, *viewerCanWorld) *ent.Release { return newRelease(w.manual) }},
			{"pending approval", "PENDING_APPROVAL/PENDING_APPROVAL", func(*fixture, *viewerCanWorld) *ent.Release { return newRelease(w.approved) }},
			{"evaluating gates", "EVALUATING_GATES/EVALUATING_GATES", func(*fixture, *viewerCanWorld) *ent.Release { return newRelease(w.gated) }},
			{"scheduled", "SCHEDULED/SCHEDULED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				until := f.clk.Now().Add(time.Hour)
				if _, err := f.e.Approve(f.ctx, w.bob, delivery.ApprovalDecision{ApprovalID: f.pendingFor(f.deployment(rel.ID, "prod").ID, approval.StagePRE, "bob"), DeferUntil: &until}); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
			{"queued", "QUEUED/QUEUED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				approveAll(rel, approval.StagePRE)
				return rel
			}},
			{"in progress", "IN_PROGRESS/IN_PROGRESS", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				approveAll(rel, approval.StagePRE)
				start(rel)
				return rel
			}},
			{"cancel requested", "IN_PROGRESS/IN_PROGRESS", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				approveAll(rel, approval.StagePRE)
				start(rel)
				if _, err := f.e.CancelDeployment(f.ctx, f.admin, f.deployment(rel.ID, "prod").ID, ""); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
			{"pending post-approval", "PENDING_POST_APPROVAL/PENDING_POST_APPROVAL", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				approveAll(rel, approval.StagePRE)
				start(rel)
				finish(rel, "SUCCEEDED")
				return rel
			}},
			{"evaluating post-gates", "EVALUATING_POST_GATES/EVALUATING_POST_GATES", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.postGated)
				start(rel)
				finish(rel, "SUCCEEDED")
				return rel
			}},
			{"succeeded", "SUCCEEDED/SUCCEEDED", func(*fixture, *viewerCanWorld) *ent.Release { return succeeded() }},
			{"older release (rollback)", "SUCCEEDED/SUCCEEDED", func(*fixture, *viewerCanWorld) *ent.Release {
				old := succeeded()
				succeeded()
				return old
			}},
			{"failed", "FAILED/FAILED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				approveAll(rel, approval.StagePRE)
				start(rel)
				finish(rel, "FAILED")
				return rel
			}},
			{"rejected", "REJECTED/REJECTED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				if _, err := f.e.Reject(f.ctx, w.bob, delivery.ApprovalDecision{ApprovalID: f.pendingFor(f.deployment(rel.ID, "prod").ID, approval.StagePRE, "bob")}); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
			{"canceled", "CANCELED/CANCELED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				if _, err := f.e.CancelDeployment(f.ctx, f.admin, f.deployment(rel.ID, "prod").ID, ""); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
			{"abandoned", "CANCELED/CANCELED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.approved)
				if _, err := f.e.AbandonRelease(f.ctx, f.admin, rel.ID, ""); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
			{"frozen", "-/NOT_STARTED", func(*fixture, *viewerCanWorld) *ent.Release {
				rel := newRelease(w.manual)
				from, to := f.clk.Now().Add(-time.Minute), f.clk.Now().Add(time.Hour)
				if _, err := f.e.CreateFreezeWindow(f.ctx, f.admin, delivery.FreezeWindowInput{Name: fmt.Sprint("freeze-", rel.ID), DefinitionID: &w.manual,
					Environment: "prod", Mode: freezewindow.ModeREFUSE, StartsAt: &from, EndsAt: &to}); err != nil {
					t.Fatal(err)
				}
				return rel
			}},
		}
		actors := []delivery.Actor{w.vic, w.bob, w.eve, w.alice, f.admin}
		actions := []string{"deploy", "cancel", "abandon", "approve", "reject", "reassign"}
		seen := map[string]bool{} // action: allowed somewhere (the cases cover both answers)
		for _, c := range cases {
			for _, action := range actions {
				var rel *ent.Release
				for _, actor := range actors {
					if rel == nil {
						rel = c.setup(f, w)
						f.wantState(rel.ID, "prod", c.state)
					}
					can, did, detail := viewerCanVersusMutation(f, w, rel, actor, action)
					if can != did {
						t.Errorf("%s, %s by %s: viewerCan says %v, the mutation %s", c.name, action, actor.Username, can, detail)
					}
					if did {
						seen[action] = true
						rel = nil // the state changed: a fresh release for the next person
					}
				}
			}
		}
		for _, a := range actions {
			if !seen[a] {
				t.Errorf("no case allowed %s: the comparison proves nothing for it", a)
			}
		}
	})
}

// viewerCanVersusMutation asks viewerCan about action on rel's prod as actor,
// then does it: whether viewerCan allowed it, whether the mutation did, and
// what the mutation answered.
func viewerCanVersusMutation(f *fixture, w *viewerCanWorld, rel *ent.Release, actor delivery.Actor, action string) (can, did bool, detail string) {
	t := f.t
	t.Helper()
	p, err := f.e.PrincipalOf(f.ctx, actor)
	if err != nil {
		t.Fatal(err)
	}
	rel, err = f.c.Release.Get(f.ctx, rel.ID)
	if err != nil {
		t.Fatal(err)
	}
	re, err := f.c.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID), releaseenvironment.Name("prod")).Only(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	envCan, err := f.e.ReleaseEnvironmentViewerCan(f.ctx, p, re)
	if err != nil {
		t.Fatalf("ReleaseEnvironmentViewerCan: %v", err)
	}
	latest, err := f.c.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Order(ent.Desc(deployment.FieldAttempt)).First(f.ctx)
	if err != nil && !ent.IsNotFound(err) {
		t.Fatal(err)
	}
	var depCan delivery.DeploymentViewerCan
	if latest != nil {
		if depCan, err = f.e.DeploymentViewerCan(f.ctx, p, latest); err != nil {
			t.Fatalf("DeploymentViewerCan: %v", err)
		}
		if depCan.Cancel != envCan.Cancel || depCan.Approve != envCan.Approve {
			t.Errorf("release %s as %s: the deployment's viewerCan %+v differs from its environment's %+v", rel.Name, actor.Username, depCan, envCan)
		}
	}
	var pending *ent.Approval
	if latest != nil {
		pending, err = f.c.Approval.Query().Where(approval.DeploymentID(latest.ID), approval.StatusEQ(approval.StatusPENDING)).Order(ent.Asc(approval.FieldID)).First(f.ctx)
		if err != nil && !ent.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	var apCan delivery.ApprovalViewerCan
	if pending != nil {
		if apCan, err = f.e.ApprovalViewerCan(f.ctx, p, pending); err != nil {
			t.Fatalf("ApprovalViewerCan: %v", err)
		}
	}
	var wantOp deployment.Operation
	switch action {
	case "deploy":
		can = envCan.Deploy || envCan.Redeploy || envCan.Rollback
		n := 0
		for op, yes := range map[deployment.Operation]bool{deployment.OperationDEPLOY: envCan.Deploy, deployment.OperationREDEPLOY: envCan.Redeploy, deployment.OperationROLLBACK: envCan.Rollback} {
			if yes {
				wantOp, n = op, n+1
			}
		}
		if n > 1 {
			t.Errorf("viewerCan names %d operations: %+v", n, envCan)
		}
		var d *ent.Deployment
		d, err = f.e.DeployEnvironment(f.ctx, actor, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if err == nil && d.Operation != wantOp {
			t.Errorf("release %s as %s: the deploy was a %s, viewerCan said %+v", rel.Name, actor.Username, d.Operation, envCan)
		}
	case "cancel":
		can = envCan.Cancel
		if latest == nil {
			return can, false, "has no deployment to cancel"
		}
		_, err = f.e.CancelDeployment(f.ctx, actor, latest.ID, "")
	case "abandon":
		relCan, err2 := f.e.ReleaseViewerCan(f.ctx, p, rel)
		if err2 != nil {
			t.Fatalf("ReleaseViewerCan: %v", err2)
		}
		can = relCan.Abandon
		_, err = f.e.AbandonRelease(f.ctx, actor, rel.ID, "")
	case "approve":
		can = envCan.Approve
		if pending == nil {
			return can, false, "has no pending approval"
		}
		if apCan.Approve != envCan.Approve {
			t.Errorf("release %s as %s: the approval's viewerCan %+v, the environment's %+v", rel.Name, actor.Username, apCan, envCan)
		}
		_, err = f.e.Approve(f.ctx, actor, delivery.ApprovalDecision{ApprovalID: pending.ID})
	case "reject", "reassign":
		if pending == nil {
			return apCan.Reject || apCan.Reassign, false, "has no pending approval"
		}
		if action == "reject" {
			can = apCan.Reject
			_, err = f.e.Reject(f.ctx, actor, delivery.ApprovalDecision{ApprovalID: pending.ID})
		} else {
			can = apCan.Reassign
			_, err = f.e.Reassign(f.ctx, actor, pending.ID, "vic", "")
		}
	}
	if err != nil && delivery.ServerFault(err) {
		t.Fatalf("%s as %s: %v", action, actor.Username, err)
	}
	if err != nil {
		detail = "refused: " + err.Error()
	} else {
		detail = "was allowed"
	}
	return can, err == nil, strings.TrimSpace(detail)
}
