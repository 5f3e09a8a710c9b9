package delivery_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/timer"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// canceledApprovalEvents counts the approval.decided events announcing a
// CANCELED approval of approver whose comment contains note.
func (r *recorder) canceledApprovalEvents(approver, note string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if e.Type == delivery.EventApprovalDecided && e.Status == string(approval.StatusCANCELED) &&
			e.Data["approver"] == approver && strings.Contains(e.Data["comment"].(string), note) {
			n++
		}
	}
	return n
}

// TestLatestOnlySupersedesPendingApprovals: with LATEST_ONLY, a newer
// release's deployment cancels the older ones still pending pre-deployment
// approval; their approvals are canceled and the approver is told; so
// approving Release-3 then Release-1 cannot leave Release-1 in production.
func TestLatestOnlySupersedesPendingApprovals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			pre(spec.ApprovalPolicy{Approvers: users("bob")}), queue(spec.QueuePolicy{Mode: spec.QueueLatestOnly}))))
		r1 := f.release(alice, def, "1")
		r1Approval := f.pendingFor(f.deployment(r1.ID, "prod").ID, approval.StagePRE, "bob")
		r2 := f.release(alice, def, "2")
		r3 := f.release(alice, def, "3")
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		f.wantState(r2.ID, "prod", "CANCELED/CANCELED")
		f.wantState(r3.ID, "prod", "PENDING_APPROVAL/PENDING_APPROVAL")
		for _, c := range []struct {
			rel   int
			newer string
		}{{r1.ID, r2.Name}, {r2.ID, r3.Name}} {
			d := f.deployment(c.rel, "prod")
			if want := "canceled: superseded by release " + c.newer; d.StatusReason != want {
				t.Fatalf("status reason %q, want %q", d.StatusReason, want)
			}
			if got := statuses(f.approvals(d.ID, approval.StagePRE)); got != "CANCELED" {
				t.Fatalf("approvals of a superseded deployment: %s", got)
			}
		}
		if n := f.bus.canceledApprovalEvents("bob", "superseded by release"); n != 2 {
			t.Fatalf("%d approval-canceled events for bob, want 2", n)
		}
		f.approve(bob, f.pendingFor(f.deployment(r3.ID, "prod").ID, approval.StagePRE, "bob"))
		f.run(r3.ID, "prod", "SUCCEEDED")
		_, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: r1Approval})
		wantCode(t, err, delivery.CodeConflict)
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		if f.job(f.deployment(r1.ID, "prod").ID) != nil {
			t.Fatal("a superseded release got a job")
		}
		// Supersession is the engine's step: the deployments' status reasons and events say
		// it, not audit rows (docs/decisions.md).
		if n := f.audits("deployment.supersede"); n != 0 {
			t.Fatalf("%d supersede audits, want 0", n)
		}
		f.verifyChain()
	})
}

// TestLatestOnlySupersedesDeferred: a deferred (SCHEDULED) deployment is
// superseded by a newer release's deployment, and its deferral coming due
// does nothing.
func TestLatestOnlySupersedesDeferred(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			pre(spec.ApprovalPolicy{Approvers: users("bob")}), queue(spec.QueuePolicy{Mode: spec.QueueLatestOnly}))))
		r1 := f.release(alice, def, "1")
		until := t0.Add(8 * time.Second)
		if _, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{
			ApprovalID: f.pendingFor(f.deployment(r1.ID, "prod").ID, approval.StagePRE, "bob"), DeferUntil: &until}); err != nil {
			t.Fatal(err)
		}
		f.wantState(r1.ID, "prod", "SCHEDULED/SCHEDULED")
		r2 := f.release(alice, def, "2")
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		if got := f.deployment(r1.ID, "prod").StatusReason; got != "canceled: superseded by release "+r2.Name {
			t.Fatalf("status reason %q", got)
		}
		f.approve(bob, f.pendingFor(f.deployment(r2.ID, "prod").ID, approval.StagePRE, "bob"))
		f.run(r2.ID, "prod", "SUCCEEDED")
		f.clk.Set(t0.Add(12 * time.Second))
		f.runTimers()
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		f.wantState(r2.ID, "prod", "SUCCEEDED/SUCCEEDED")
		if f.job(f.deployment(r1.ID, "prod").ID) != nil {
			t.Fatal("the superseded deferral got a job")
		}
		pending := f.c.Timer.Query().Where(timer.Kind("deployment.deferred"), timer.DoneAtIsNil()).CountX(f.ctx)
		if pending != 0 {
			t.Fatalf("%d deferral timers still pending", pending)
		}
	})
}

// TestDeferralNeverStepsBack: without LATEST_ONLY, a deferral that comes
// due after a newer release was deployed cancels its deployment with a
// reason instead of putting the older release back.
func TestDeferralNeverStepsBack(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")}))))
		r1 := f.release(alice, def, "1")
		until := t0.Add(8 * time.Second)
		if _, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{
			ApprovalID: f.pendingFor(f.deployment(r1.ID, "prod").ID, approval.StagePRE, "bob"), DeferUntil: &until}); err != nil {
			t.Fatal(err)
		}
		r2 := f.release(alice, def, "2")
		f.wantState(r1.ID, "prod", "SCHEDULED/SCHEDULED") // ALL_IN_ORDER keeps it
		f.approve(bob, f.pendingFor(f.deployment(r2.ID, "prod").ID, approval.StagePRE, "bob"))
		f.run(r2.ID, "prod", "SUCCEEDED")
		f.clk.Set(t0.Add(12 * time.Second))
		f.runTimers()
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		d := f.deployment(r1.ID, "prod")
		if !strings.Contains(d.StatusReason, "older than release "+r2.Name) || f.job(d.ID) != nil {
			t.Fatalf("deferred r1: reason %q, job %v", d.StatusReason, f.job(d.ID))
		}
		states, err := f.e.CurrentDeployments(f.ctx, alice, def)
		if err != nil || states[0].Current.ID != r2.ID {
			t.Fatalf("prod runs %+v, %v; want %s", states[0].Current, err, r2.Name)
		}
	})
}

// TestTriggerNeverStepsBack: an AFTER_ENVIRONMENTS trigger of an older
// release, once a newer one runs downstream, is canceled with a reason.
func TestTriggerNeverStepsBack(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc",
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")})),
			environment("prod", after("qa"))))
		r1 := f.release(alice, def, "1")
		r2 := f.release(alice, def, "2")
		// A hotfix: release 2 goes to prod directly, while qa still waits.
		if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r2.ID, Environment: "prod"}); err != nil {
			t.Fatal(err)
		}
		f.run(r2.ID, "prod", "SUCCEEDED")
		f.approve(bob, f.pendingFor(f.deployment(r1.ID, "qa").ID, approval.StagePRE, "bob"))
		f.run(r1.ID, "qa", "SUCCEEDED")
		f.wantState(r1.ID, "prod", "CANCELED/CANCELED")
		d := f.deployment(r1.ID, "prod")
		if !d.Automatic || !strings.Contains(d.StatusReason, "older than release "+r2.Name) || f.job(d.ID) != nil {
			t.Fatalf("r1 prod: automatic %v, reason %q, job %v", d.Automatic, d.StatusReason, f.job(d.ID))
		}
		if n := len(f.approvals(d.ID, approval.StagePRE)); n != 0 {
			t.Fatalf("a step backwards opened %d approvals", n)
		}
		// A person may still roll back explicitly: that is a ROLLBACK.
		rb, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r1.ID, Environment: "prod"})
		if err != nil {
			t.Fatal(err)
		}
		if rb.Operation != deployment.OperationROLLBACK || rb.Automatic || f.job(rb.ID) == nil {
			t.Fatalf("explicit rollback: %s automatic=%v job=%v", rb.Operation, rb.Automatic, f.job(rb.ID))
		}
	})
}

// TestPersonsDeploymentLandingBackIsRollback: a person's deployment that was
// a DEPLOY when requested, approved after a newer release landed, goes on
// but is recorded as the ROLLBACK it is.
func TestPersonsDeploymentLandingBackIsRollback(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("bob")}))))
		r1 := f.release(alice, def, "1")
		r3 := f.release(alice, def, "3")
		for _, r := range []int{r1.ID, r3.ID} {
			if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r, Environment: "prod"}); err != nil {
				t.Fatal(err)
			}
		}
		if op := f.deployment(r1.ID, "prod").Operation; op != deployment.OperationDEPLOY {
			t.Fatalf("requested as %s", op)
		}
		f.approve(bob, f.pendingFor(f.deployment(r3.ID, "prod").ID, approval.StagePRE, "bob"))
		f.run(r3.ID, "prod", "SUCCEEDED")
		f.approve(bob, f.pendingFor(f.deployment(r1.ID, "prod").ID, approval.StagePRE, "bob"))
		d := f.deployment(r1.ID, "prod")
		if d.Operation != deployment.OperationROLLBACK || f.job(d.ID) == nil {
			t.Fatalf("r1 over r3: operation %s, job %v", d.Operation, f.job(d.ID))
		}
		if f.audits("deployment.operation") != 1 {
			t.Fatal("the relabelling is not audited")
		}
	})
}

// TestMaxParallelCountsPostApproval: a deployment holds its slot until its
// post-deployment approval is decided.
func TestMaxParallelCountsPostApproval(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice, bob := f.user("alice", "EDITOR"), f.user("bob", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			post(spec.ApprovalPolicy{Approvers: users("bob")}), queue(spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueAllInOrder}))))
		r1 := f.release(alice, def, "1")
		f.run(r1.ID, "prod", "SUCCEEDED")
		f.wantState(r1.ID, "prod", "PENDING_POST_APPROVAL/PENDING_POST_APPROVAL")
		r2 := f.release(alice, def, "2")
		r3 := f.release(alice, def, "3")
		if f.job(f.deployment(r2.ID, "prod").ID) != nil {
			t.Fatal("release 2 got a job while release 1 waits for its sign-off")
		}
		f.approve(bob, f.pendingFor(f.deployment(r1.ID, "prod").ID, approval.StagePOST, "bob"))
		f.wantState(r1.ID, "prod", "SUCCEEDED/SUCCEEDED")
		if f.job(f.deployment(r2.ID, "prod").ID) == nil || f.job(f.deployment(r3.ID, "prod").ID) != nil {
			t.Fatal("the decided sign-off gives the slot to release 2 only")
		}
		f.run(r2.ID, "prod", "SUCCEEDED")
		if _, err := f.e.Reject(f.ctx, bob, delivery.ApprovalDecision{
			ApprovalID: f.pendingFor(f.deployment(r2.ID, "prod").ID, approval.StagePOST, "bob"), Comment: "no"}); err != nil {
			t.Fatal(err)
		}
		if f.job(f.deployment(r3.ID, "prod").ID) == nil {
			t.Fatal("a rejected sign-off frees the slot too")
		}
	})
}

// TestReleaseNameFormatTokens: every token the formatter supports saves, and
// names the release as it says.
func TestReleaseNameFormatTokens(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		for _, c := range []struct{ format, want string }{
			{"$(Release.DefinitionName)-$(rev:rrr)", "web-001"},
			{"R$(REV:R) $(Date)", "R1 20250314"},
			{"$(Build.BuildNumber) on $(Date:yyyy-MM-dd HH:mm)", "77 on 2025-03-14 09:30"},
		} {
			doc := spec.DefinitionSnapshot{Name: "web", ReleaseNameFormat: c.format,
				ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app/main", Primary: true}},
				Environments:    []spec.EnvironmentSpec{environment("dev", manualOnly)}}
			if f.conn == 0 {
				f.definition(snapshot("seed")) // creates the jenkins connection
			}
			def, err := f.e.CreateDefinition(f.ctx, f.admin, doc, "")
			if err != nil {
				t.Fatalf("%q: %v", c.format, err)
			}
			rel := f.release(alice, def.ID, "77")
			if rel.Name != c.want {
				t.Fatalf("%q named the release %q, want %q", c.format, rel.Name, c.want)
			}
			if err := f.e.DeleteDefinition(f.ctx, f.admin, def.ID, def.Revision, ""); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestReleaseNameTaken: a release whose formatted name another release of the definition has
// (a release written by hand, or the format changed) is named name-2; its number and name are
// stored as returned. On PostgreSQL the release is stored under a placeholder number and name,
// then numbered and named under the definition's lock: in one statement when the name is the
// number between fixed strings, else in two.
func TestReleaseNameTaken(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		for i, c := range []struct{ format, taken, want string }{
			{"Release-$(rev:r)", "Release-2", "Release-2-2"},
			{"web-$(rev:rrr)", "web-002", "web-002-2"},
		} {
			snap := snapshot(fmt.Sprintf("web%d", i), environment("dev", afterRelease))
			snap.ReleaseNameFormat = c.format
			def := f.definition(snap)
			first := f.release(alice, def, "1")
			if err := f.c.Release.Create().SetName(c.taken).SetNumber(-1).SetDefinitionRevision(first.DefinitionRevision).
				SetSnapshot(first.Snapshot).SetReason(release.ReasonMANUAL).SetCreatedBy("root").SetDefinitionID(def).Exec(f.ctx); err != nil {
				t.Fatal(err)
			}
			rel := f.release(alice, def, "2")
			stored, err := f.c.Release.Get(f.ctx, rel.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rel.Name != c.want || rel.Number != 2 || stored.Name != rel.Name || stored.Number != rel.Number {
				t.Fatalf("%q: release %q number %d (stored %q number %d), want %q number 2",
					c.format, rel.Name, rel.Number, stored.Name, stored.Number, c.want)
			}
			if f.job(f.deployment(rel.ID, "dev").ID) == nil {
				t.Fatalf("%q: the release's dev has no job", c.format)
			}
		}
		f.verifyChain()
	})
}
