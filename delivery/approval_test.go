package delivery_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// step is one decision in an approval walk: who decides which approver's
// approval, and what must follow.
type step struct {
	actor, approver string
	reject          bool
	code            delivery.Code // expected error code, "" for success
	state           string        // deployment/environment state after the step
}

// TestApprovalPolicies walks the pre-deployment stage of each policy.
func TestApprovalPolicies(t *testing.T) {
	for _, tc := range []struct {
		name      string
		policy    spec.ApprovalPolicy
		steps     []step
		approvals string // final statuses by rank
	}{
		{
			name:   "any one",
			policy: spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalAnyOne},
			steps: []step{
				{actor: "dave", approver: "bob", code: delivery.CodeForbidden, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "carol", approver: "carol", state: "QUEUED/QUEUED"},
				{actor: "bob", approver: "bob", code: delivery.CodeConflict, state: "QUEUED/QUEUED"},
			},
			approvals: "SKIPPED,APPROVED",
		},
		{
			name:   "any one, two required",
			policy: spec.ApprovalPolicy{Approvers: append(users("bob", "carol"), spec.Approver{Kind: spec.ApproverGroup, Name: "ops"}), Mode: spec.ApprovalAnyOne, RequiredCount: 2},
			steps: []step{
				{actor: "bob", approver: "bob", state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				// bob is in ops too, but counts once.
				{actor: "bob", approver: "ops", code: delivery.CodeConflict, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "erin", approver: "ops", state: "QUEUED/QUEUED"},
			},
			approvals: "APPROVED,SKIPPED,APPROVED",
		},
		{
			name:   "all, any order",
			policy: spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalAll},
			steps: []step{
				{actor: "carol", approver: "carol", state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "carol", approver: "carol", code: delivery.CodeConflict, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "bob", approver: "bob", state: "QUEUED/QUEUED"},
			},
			approvals: "APPROVED,APPROVED",
		},
		{
			name:   "sequential",
			policy: spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalSequential},
			steps: []step{
				{actor: "carol", approver: "carol", code: delivery.CodeConflict, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "bob", approver: "bob", state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "carol", approver: "carol", state: "QUEUED/QUEUED"},
			},
			approvals: "APPROVED,APPROVED",
		},
		{
			name:   "group: any member decides",
			policy: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverGroup, Name: "ops"}}},
			steps: []step{
				{actor: "carol", approver: "ops", code: delivery.CodeForbidden, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "erin", approver: "ops", state: "QUEUED/QUEUED"},
			},
			approvals: "APPROVED",
		},
		{
			name:   "requester cannot approve",
			policy: spec.ApprovalPolicy{Approvers: users("alice", "bob"), Mode: spec.ApprovalAnyOne, RequesterCannotApprove: true},
			steps: []step{
				{actor: "alice", approver: "alice", code: delivery.CodeForbidden, state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "bob", approver: "bob", state: "QUEUED/QUEUED"},
			},
			approvals: "SKIPPED,APPROVED",
		},
		{
			name:   "requester may approve without the rule",
			policy: spec.ApprovalPolicy{Approvers: users("alice")},
			steps: []step{
				{actor: "alice", approver: "alice", state: "QUEUED/QUEUED"},
			},
			approvals: "APPROVED",
		},
		{
			name:   "reject",
			policy: spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalAll},
			steps: []step{
				{actor: "bob", approver: "bob", state: "PENDING_APPROVAL/PENDING_APPROVAL"},
				{actor: "carol", approver: "carol", reject: true, state: "REJECTED/REJECTED"},
			},
			approvals: "APPROVED,REJECTED",
		},
		{
			name:   "reject cancels the others",
			policy: spec.ApprovalPolicy{Approvers: users("bob", "carol", "erin"), Mode: spec.ApprovalSequential},
			steps: []step{
				{actor: "bob", approver: "bob", reject: true, state: "REJECTED/REJECTED"},
				{actor: "carol", approver: "carol", code: delivery.CodeConflict, state: "REJECTED/REJECTED"},
			},
			approvals: "REJECTED,CANCELED,CANCELED",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				f := newFixture(t, db)
				actors := map[string]delivery.Actor{}
				for _, n := range []string{"alice", "bob", "carol", "dave", "erin"} {
					role := "VIEWER"
					if n == "alice" {
						role = "EDITOR"
					}
					actors[n] = f.user(n, role)
				}
				f.group("ops", actors["bob"], actors["erin"])
				def := f.definition(snapshot("svc", environment("prod", afterRelease, pre(tc.policy))))
				rel := f.release(actors["alice"], def, "1")
				dep := f.deployment(rel.ID, "prod")
				f.wantState(rel.ID, "prod", "PENDING_APPROVAL/PENDING_APPROVAL")
				if f.job(dep.ID) != nil {
					t.Fatal("a job before approval")
				}
				for i, s := range tc.steps {
					var id int
					for _, a := range f.approvals(dep.ID, approval.StagePRE) {
						if a.Approver == s.approver {
							id = a.ID
						}
					}
					dec := delivery.ApprovalDecision{ApprovalID: id, Comment: "step"}
					var err error
					if s.reject {
						_, err = f.e.Reject(f.ctx, actors[s.actor], dec)
					} else {
						_, err = f.e.Approve(f.ctx, actors[s.actor], dec)
					}
					if s.code == "" && err != nil {
						t.Fatalf("step %d: %v", i, err)
					}
					if s.code != "" {
						wantCode(t, err, s.code)
					}
					f.wantState(rel.ID, "prod", s.state)
				}
				if got := statuses(f.approvals(dep.ID, approval.StagePRE)); got != tc.approvals {
					t.Fatalf("approvals %s, want %s", got, tc.approvals)
				}
				if strings.HasPrefix(tc.steps[len(tc.steps)-1].state, "QUEUED") && f.job(dep.ID) == nil {
					t.Fatal("approved deployment has no job")
				}
				f.verifyChain()
			})
		})
	}
}

func TestRequesterViaAndPendingList(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		carol := f.user("carol", "EDITOR")
		erin := f.user("erin", "VIEWER")
		def := f.definition(snapshot("svc",
			environment("prod", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("bob", "carol"), RequesterCannotApprove: true})),
			environment("dr", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("erin", "bob"), Mode: spec.ApprovalSequential})),
		))
		rel := f.release(alice, def, "1")
		d, err := f.e.DeployEnvironment(f.ctx, carol, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "dr"}); err != nil {
			t.Fatal(err)
		}
		dr := f.deployment(rel.ID, "dr")

		pending := func(a delivery.Actor) []int {
			t.Helper()
			aps, err := f.e.PendingApprovalsFor(f.ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			ids := []int{}
			for _, ap := range aps {
				ids = append(ids, ap.ID)
			}
			return ids
		}
		bobProd := f.pendingFor(d.ID, approval.StagePRE, "bob")
		carolProd := f.pendingFor(d.ID, approval.StagePRE, "carol")
		erinDR := f.pendingFor(dr.ID, approval.StagePRE, "erin")
		bobDR := f.pendingFor(dr.ID, approval.StagePRE, "bob")
		if got := pending(bob); len(got) != 1 || got[0] != bobProd {
			t.Fatalf("bob can decide %v, want only %d (dr waits for erin)", got, bobProd)
		}
		if got := pending(carol); len(got) != 0 {
			t.Fatalf("carol, the requester, can decide %v", got)
		}
		if got := pending(erin); len(got) != 1 || got[0] != erinDR {
			t.Fatalf("erin can decide %v", got)
		}

		// The requester, even through a bot, is refused with a reason.
		viaBot := carol
		viaBot.Via = "chatops"
		_, err = f.e.Approve(f.ctx, viaBot, delivery.ApprovalDecision{ApprovalID: carolProd})
		wantCode(t, err, delivery.CodeForbidden)
		if !strings.Contains(err.Error(), "carol requested deployment") {
			t.Fatalf("message %q", err)
		}
		// bob through a bot: decided by bob, via the bot.
		bobBot := bob
		bobBot.Via = "chatops"
		a, err := f.e.Approve(f.ctx, bobBot, delivery.ApprovalDecision{ApprovalID: bobProd, Comment: "lgtm"})
		if err != nil {
			t.Fatal(err)
		}
		if *a.DecidedBy != "bob" || a.DecidedVia == nil || *a.DecidedVia != "chatops" || a.Comment != "lgtm" {
			t.Fatalf("decision %+v", a)
		}
		ev, err := f.c.AuditEvent.Query().Where(auditevent.Action("approval.approve")).Only(f.ctx)
		if err != nil || ev.Actor != "chatops" || ev.OnBehalfOf != "bob" {
			t.Fatalf("audit %+v %v", ev, err)
		}
		f.approve(erin, erinDR)
		if got := pending(bob); len(got) != 1 || got[0] != bobDR {
			t.Fatalf("bob can decide %v after erin, want %d", got, bobDR)
		}
		_, err = f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: 987654})
		wantCode(t, err, delivery.CodeNotFound)
		_, err = f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: bobDR, Comment: strings.Repeat("x", 4001)})
		wantCode(t, err, delivery.CodeInvalidInput)
		_, err = f.e.Reject(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: bobDR, DeferUntil: &t0})
		wantCode(t, err, delivery.CodeInvalidInput)
		f.wantState(rel.ID, "dr", "PENDING_APPROVAL/PENDING_APPROVAL")
	})
}

func TestApprovalTimeout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		f.user("carol", "VIEWER")
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			post(spec.ApprovalPolicy{Approvers: users("bob", "carol"), TimeoutMinutes: 30}))))
		rel := f.release(alice, def, "1")
		f.run(rel.ID, "prod", "SUCCEEDED")
		d := f.deployment(rel.ID, "prod")
		f.approve(bob, f.pendingFor(d.ID, approval.StagePOST, "bob"))
		f.clk.Advance(29 * time.Minute)
		if n := f.runTimers(); n != 0 {
			t.Fatalf("%d timers ran early", n)
		}
		f.clk.Advance(time.Minute)
		if n := f.runTimers(); n != 1 {
			t.Fatalf("%d timers ran, want the carol's", n)
		}
		f.wantState(rel.ID, "prod", "REJECTED/REJECTED")
		aps := f.approvals(d.ID, approval.StagePOST)
		if statuses(aps) != "APPROVED,TIMED_OUT" || !strings.Contains(f.deployment(rel.ID, "prod").StatusReason, "timed out after 30 minutes") {
			t.Fatalf("approvals %s, reason %q", statuses(aps), f.deployment(rel.ID, "prod").StatusReason)
		}
		if _, ok, _ := f.e.NextTimerDue(f.ctx); ok {
			t.Fatal("a timer is left")
		}
		// A timeout is the engine's, not a person's: evented and kept on the approval row
		// (TIMED_OUT above), not an audit row (docs/decisions.md).
		if f.bus.count(delivery.EventApprovalTimedOut) != 1 || f.audits("approval.timeOut") != 0 {
			t.Fatal("timeout not evented once, or audited")
		}
		f.verifyChain()
	})
}

func TestDeferAndReassign(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		carol := f.user("carol", "VIEWER")
		f.user("off", "VIEWER")
		if err := f.c.User.Update().Where(user.Username("off")).SetDisabled(true).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			pre(spec.ApprovalPolicy{Approvers: users("bob"), TimeoutMinutes: 60}))))
		rel := f.release(alice, def, "1")
		d := f.deployment(rel.ID, "prod")
		bobs := f.pendingFor(d.ID, approval.StagePRE, "bob")

		_, err := f.e.Reassign(f.ctx, carol, bobs, "carol", "mine")
		wantCode(t, err, delivery.CodeForbidden)
		_, err = f.e.Reassign(f.ctx, bob, bobs, "nobody", "")
		wantCode(t, err, delivery.CodeInvalidInput)
		_, err = f.e.Reassign(f.ctx, bob, bobs, "off", "")
		wantCode(t, err, delivery.CodeInvalidInput)
		_, err = f.e.Reassign(f.ctx, bob, bobs, "bob", "")
		wantCode(t, err, delivery.CodeInvalidInput)
		na, err := f.e.Reassign(f.ctx, bob, bobs, "carol", "on holiday")
		if err != nil {
			t.Fatal(err)
		}
		if na.Approver != "carol" || na.Status != approval.StatusPENDING || na.ReassignedFromID == nil || *na.ReassignedFromID != bobs ||
			na.DueAt == nil || !na.DueAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("reassigned approval %+v", na)
		}
		_, err = f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: bobs})
		wantCode(t, err, delivery.CodeConflict)

		past := t0.Add(-time.Minute)
		_, err = f.e.Approve(f.ctx, carol, delivery.ApprovalDecision{ApprovalID: na.ID, DeferUntil: &past})
		wantCode(t, err, delivery.CodeInvalidInput)
		until := t0.Add(3 * time.Hour)
		timersBefore := f.bus.count(delivery.EventTimersChanged)
		if _, err := f.e.Approve(f.ctx, carol, delivery.ApprovalDecision{ApprovalID: na.ID, DeferUntil: &until}); err != nil {
			t.Fatal(err)
		}
		// Other replicas' timer loops learn of the deferral's timer from this transient event.
		if f.bus.count(delivery.EventTimersChanged) != timersBefore+1 {
			t.Fatalf("%s events: %d after the deferral, want %d", delivery.EventTimersChanged, f.bus.count(delivery.EventTimersChanged), timersBefore+1)
		}
		f.wantState(rel.ID, "prod", "SCHEDULED/SCHEDULED")
		if got := f.deployment(rel.ID, "prod").DeferredUntil; got == nil || !got.Equal(until) {
			t.Fatalf("deferred until %v", got)
		}
		// The approval timeout is moot now; nothing runs before the deferral.
		f.clk.Advance(2 * time.Hour)
		if n := f.runTimers(); n != 0 {
			t.Fatalf("%d timers ran before the deferral", n)
		}
		f.clk.Advance(time.Hour)
		if n := f.runTimers(); n != 1 {
			t.Fatalf("%d timers ran at the deferral", n)
		}
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		if f.job(d.ID) == nil {
			t.Fatal("no job after the deferral")
		}
		if statuses(f.approvals(d.ID, approval.StagePRE)) != "REASSIGNED,APPROVED" {
			t.Fatalf("approvals %s", statuses(f.approvals(d.ID, approval.StagePRE)))
		}
	})
}

func TestSkipIfApprovedInPreviousEnvironment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		carol := f.user("carol", "VIEWER")
		skip := spec.ApprovalPolicy{Approvers: users("bob", "carol"), SkipIfApprovedInPreviousEnvironment: true}
		def := f.definition(snapshot("svc",
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob", "carol")})),
			environment("staging", manualOnly),
			environment("prod", after("qa"), pre(skip)),
			environment("dr", after("prod"), pre(spec.ApprovalPolicy{Approvers: users("carol", "erin"), SkipIfApprovedInPreviousEnvironment: true})),
		))
		f.user("erin", "VIEWER")
		rel := f.release(alice, def, "1")
		qa := f.deployment(rel.ID, "qa")
		f.approve(bob, f.pendingFor(qa.ID, approval.StagePRE, "bob"))
		f.approve(carol, f.pendingFor(qa.ID, approval.StagePRE, "carol"))
		f.run(rel.ID, "qa", "SUCCEEDED")
		// prod's previous deployed environment is qa (staging never deployed).
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		prod := f.deployment(rel.ID, "prod")
		if got := statuses(f.approvals(prod.ID, approval.StagePRE)); got != "SKIPPED,SKIPPED" {
			t.Fatalf("prod approvals %s", got)
		}
		f.run(rel.ID, "prod", "SUCCEEDED")
		// dr's approvers differ from those who approved prod (nobody did): asked.
		f.wantState(rel.ID, "dr", "PENDING_APPROVAL/PENDING_APPROVAL")
	})
}
