package delivery_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func TestQueueMaxParallelInOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueAllInOrder}))))
		r1 := f.release(alice, def, "1")
		r2 := f.release(alice, def, "2")
		r3 := f.release(alice, def, "3")
		f.wantState(r1.ID, "dev", "QUEUED/QUEUED")
		hasJob := func(r int) bool { return f.job(f.deployment(r, "dev").ID) != nil }
		if !hasJob(r1.ID) || hasJob(r2.ID) || hasJob(r3.ID) {
			t.Fatal("max parallel 1: only the first gets a job")
		}
		j1 := f.job(f.deployment(r1.ID, "dev").ID)
		if err := f.e.StartJob(f.ctx, j1.ID, f.agent()); err != nil {
			t.Fatal(err)
		}
		if hasJob(r2.ID) {
			t.Fatal("a running job still holds the slot")
		}
		if err := f.e.FinishJob(f.ctx, j1.ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		if !hasJob(r2.ID) || hasJob(r3.ID) {
			t.Fatal("the slot goes to the oldest waiting release")
		}
		// Canceling a queued job frees the slot too.
		if _, err := f.e.CancelDeployment(f.ctx, alice, f.deployment(r2.ID, "dev").ID, "not this one"); err != nil {
			t.Fatal(err)
		}
		f.wantState(r2.ID, "dev", "CANCELED/CANCELED")
		if f.job(f.deployment(r2.ID, "dev").ID).Status != "CANCELED" || !hasJob(r3.ID) {
			t.Fatal("cancel of a queued job: job canceled, next released")
		}
	})
}

func TestQueueLatestOnly(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1, Mode: spec.QueueLatestOnly}))))
		r1 := f.release(alice, def, "1")
		// r1's job is running: it is not superseded.
		if err := f.e.StartJob(f.ctx, f.job(f.deployment(r1.ID, "dev").ID).ID, f.agent()); err != nil {
			t.Fatal(err)
		}
		r2 := f.release(alice, def, "2")
		r3 := f.release(alice, def, "3")
		f.wantState(r1.ID, "dev", "IN_PROGRESS/IN_PROGRESS")
		f.wantState(r2.ID, "dev", "CANCELED/CANCELED")
		if got := f.deployment(r2.ID, "dev").StatusReason; got != "canceled: superseded by release "+r3.Name {
			t.Fatalf("status reason %q", got)
		}
		f.wantState(r3.ID, "dev", "QUEUED/QUEUED")
		if f.job(f.deployment(r3.ID, "dev").ID) != nil {
			t.Fatal("r3 waits for the slot")
		}
		if err := f.e.FinishJob(f.ctx, f.job(f.deployment(r1.ID, "dev").ID).ID, delivery.JobResult{Status: "SUCCEEDED"}); err != nil {
			t.Fatal(err)
		}
		if f.job(f.deployment(r3.ID, "dev").ID) == nil {
			t.Fatal("r3 gets the slot")
		}
		// Supersession is recorded on the deployment (status reason), not as an audit row.
		if n, err := f.c.Deployment.Query().Where(deployment.StatusReasonContains("superseded")).Count(f.ctx); err != nil || n != 1 {
			t.Fatalf("%d superseded deployments (%v), want 1", n, err)
		}
	})
}

func TestQueueUnlimited(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", afterRelease, queue(spec.QueuePolicy{Mode: spec.QueueLatestOnly}))))
		for i := range 3 {
			r := f.release(alice, def, string(rune('1'+i)))
			if f.job(f.deployment(r.ID, "dev").ID) == nil {
				t.Fatalf("release %d waits with no limit", i)
			}
		}
	})
}

// TestCancelAtEachStage cancels a deployment in each state it can be in.
func TestCancelAtEachStage(t *testing.T) {
	type setup func(f *fixture, rel int, bob delivery.Actor)
	approvePre := func(f *fixture, rel int, bob delivery.Actor) {
		f.approve(bob, f.pendingFor(f.deployment(rel, "prod").ID, approval.StagePRE, "bob"))
	}
	for _, tc := range []struct {
		name       string
		queueLimit int
		setup      setup
		state      string // after cancel
		jobStatus  string // "" for no job
		requested  bool
	}{
		{"pending approval", 0, func(*fixture, int, delivery.Actor) {}, "CANCELED/CANCELED", "", false},
		{"scheduled", 0, func(f *fixture, rel int, bob delivery.Actor) {
			until := t0.Add(time.Hour)
			id := f.pendingFor(f.deployment(rel, "prod").ID, approval.StagePRE, "bob")
			if _, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: id, DeferUntil: &until}); err != nil {
				f.t.Fatal(err)
			}
		}, "CANCELED/CANCELED", "", false},
		{"waiting for a slot", 1, func(f *fixture, rel int, bob delivery.Actor) { approvePre(f, rel, bob) }, "CANCELED/CANCELED", "", false},
		{"queued", 0, approvePre, "CANCELED/CANCELED", "CANCELED", false},
		{"in progress", 0, func(f *fixture, rel int, bob delivery.Actor) {
			approvePre(f, rel, bob)
			if err := f.e.StartJob(f.ctx, f.job(f.deployment(rel, "prod").ID).ID, f.agent()); err != nil {
				f.t.Fatal(err)
			}
		}, "IN_PROGRESS/IN_PROGRESS", "RUNNING", true},
		{"pending post approval", 0, func(f *fixture, rel int, bob delivery.Actor) {
			approvePre(f, rel, bob)
			f.run(rel, "prod", "SUCCEEDED")
		}, "CANCELED/CANCELED", "SUCCEEDED", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storagetest.Each(t, func(t *testing.T, db *storage.DB) {
				f := newFixture(t, db)
				alice := f.user("alice", "EDITOR")
				bob := f.user("bob", "VIEWER")
				pol := spec.ApprovalPolicy{Approvers: users("bob"), TimeoutMinutes: 10}
				def := f.definition(snapshot("svc", environment("prod", manualOnly, pre(pol), post(pol),
					queue(spec.QueuePolicy{MaxParallel: tc.queueLimit}))))
				if tc.queueLimit > 0 {
					// Another release holds the only slot.
					other := f.release(alice, def, "0")
					if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: other.ID, Environment: "prod"}); err != nil {
						t.Fatal(err)
					}
					approvePre(f, other.ID, bob)
				}
				rel := f.release(alice, def, "1")
				if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"}); err != nil {
					t.Fatal(err)
				}
				tc.setup(f, rel.ID, bob)
				d := f.deployment(rel.ID, "prod")
				if _, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "stop"); err != nil {
					t.Fatal(err)
				}
				f.wantState(rel.ID, "prod", tc.state)
				j := f.job(d.ID)
				switch {
				case tc.jobStatus == "" && j != nil:
					t.Fatalf("job %+v", j)
				case tc.jobStatus != "" && (j == nil || string(j.Status) != tc.jobStatus || j.CancelRequested != tc.requested):
					t.Fatalf("job %+v, want %s requested=%v", j, tc.jobStatus, tc.requested)
				}
				for _, a := range append(f.approvals(d.ID, approval.StagePRE), f.approvals(d.ID, approval.StagePOST)...) {
					if a.Status == approval.StatusPENDING {
						t.Fatalf("approval %d still pending", a.ID)
					}
				}
				if !tc.requested {
					// No timer is left to fire for it.
					f.clk.Advance(2 * time.Hour)
					f.runTimers()
					f.wantState(rel.ID, "prod", tc.state)
					_, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "again")
					wantCode(t, err, delivery.CodeConflict)
					return
				}
				_, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "again")
				wantCode(t, err, delivery.CodeConflict)
				if err := f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "CANCELED", Reason: "killed"}); err != nil {
					t.Fatal(err)
				}
				f.wantState(rel.ID, "prod", "CANCELED/CANCELED")
				if r := f.deployment(rel.ID, "prod").StatusReason; !strings.Contains(r, "canceled by alice: stop") {
					t.Fatalf("status reason %q", r)
				}
			})
		})
	}
}

func TestJobTimeout(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("dev", afterRelease, func(e *spec.EnvironmentSpec) { e.Job.TimeoutMinutes = 15 })))
		rel := f.release(alice, def, "1")
		j := f.job(f.deployment(rel.ID, "dev").ID)
		if err := f.e.StartJob(f.ctx, j.ID, f.agent()); err != nil {
			t.Fatal(err)
		}
		f.clk.Advance(15 * time.Minute)
		if n := f.runTimers(); n != 1 {
			t.Fatalf("%d timers ran", n)
		}
		j = f.job(j.DeploymentID)
		if j.Status != "FAILED" || !j.CancelRequested || j.ResultReason != "timed out after 15 minutes" {
			t.Fatalf("job %+v", j)
		}
		f.wantState(rel.ID, "dev", "FAILED/FAILED")
		wantCode(t, f.e.FinishJob(f.ctx, j.ID, delivery.JobResult{Status: "SUCCEEDED"}), delivery.CodeConflict)
	})
}

// TestRestartRunsOverdueTimers stops an engine in the middle of an approval
// timeout and of a deferral; a new engine over the same database, its clock
// past both, runs them at once.
func TestRestartRunsOverdueTimers(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc",
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob"), TimeoutMinutes: 5})),
			environment("prod", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")})),
		))
		rel := f.release(alice, def, "1")
		until := t0.Add(10 * time.Minute)
		prodApproval := f.pendingFor(f.deployment(rel.ID, "prod").ID, approval.StagePRE, "bob")
		if _, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: prodApproval, DeferUntil: &until}); err != nil {
			t.Fatal(err)
		}
		f.wantState(rel.ID, "prod", "SCHEDULED/SCHEDULED")

		f.restart()
		f.clk.Advance(time.Hour)
		next, ok, err := f.e.NextTimerDue(f.ctx)
		if err != nil || !ok || !next.Equal(t0.Add(5*time.Minute)) {
			t.Fatalf("next due %v %v %v", next, ok, err)
		}
		if n := f.runTimers(); n != 2 {
			t.Fatalf("%d overdue timers ran, want 2", n)
		}
		f.wantState(rel.ID, "qa", "REJECTED/REJECTED")
		f.wantState(rel.ID, "prod", "QUEUED/QUEUED")
		if n := f.runTimers(); n != 0 {
			t.Fatalf("%d timers ran twice", n)
		}
	})
}

// TestTimerLoop runs the server's loop: it wakes for a new timer and runs it
// when the (manual) clock passes it.
func TestTimerLoop(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc", environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob"), TimeoutMinutes: 5}))))
		ctx, cancel := context.WithCancel(f.ctx)
		wake := make(chan struct{})
		done := make(chan struct{})
		go func() { defer close(done); f.e.RunTimerLoop(ctx, wake) }()
		rel := f.release(alice, def, "1")
		f.clk.Advance(5 * time.Minute)
		deadline := time.After(20 * time.Second)
		for f.state(rel.ID, "qa") != "REJECTED/REJECTED" {
			select {
			case wake <- struct{}{}:
			case <-f.bus.signal:
			case <-deadline:
				t.Fatalf("the loop did not time the approval out: %s", f.state(rel.ID, "qa"))
			}
		}
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatal("the loop did not end with its context")
		}
	})
}

// TestTimerClaimedOnce runs the due timers from many engines at once (as
// replicas would): each timer runs once.
func TestTimerClaimedOnce(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc", environment("qa", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("bob"), TimeoutMinutes: 1}))))
		var rels []int
		for i := range 5 {
			r := f.release(alice, def, string(rune('a'+i)))
			if _, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r.ID, Environment: "qa"}); err != nil {
				t.Fatal(err)
			}
			rels = append(rels, r.ID)
		}
		f.clk.Advance(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		total := 0
		for range 4 {
			e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: f.clk})
			wg.Go(func() {
				n, err := e.RunDueTimers(f.ctx)
				if err != nil {
					t.Error(err)
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		timedOut, err := f.c.Approval.Query().Where(approval.StatusEQ(approval.StatusTIMED_OUT)).Count(f.ctx)
		if err != nil || total != 5 || timedOut != 5 {
			t.Fatalf("%d timer runs, %d timeouts (%v); want 5 and 5", total, timedOut, err)
		}
		for _, r := range rels {
			f.wantState(r, "qa", "REJECTED/REJECTED")
		}
		f.verifyChain()
	})
}

// TestNewReleaseStartsOlderWaitingFirst: when a release's new deployment joins a queue where
// older releases' deployments wait (more than one page of them), they get their jobs before it,
// oldest release first, and it gets its own. On PostgreSQL the new deployment's move to QUEUED
// is written by the queue's first read of the waiting deployments, which does not see it
// (enqueueFresh): it is added last, or read with a later page.
func TestNewReleaseStartsOlderWaitingFirst(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		snap := snapshot("web", environment("dev", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1})))
		def := f.definition(snap)
		var rels []*ent.Release
		for i := range 23 { // the first takes the one slot; 22 wait, more than a page (20)
			rels = append(rels, f.release(alice, def, fmt.Sprint(i+1)))
		}
		for _, r := range rels[1:] {
			if f.job(f.deployment(r.ID, "dev").ID) != nil {
				t.Fatalf("release %s has a job while the slot is taken", r.Name)
			}
		}
		// A new revision lifts the limit: the next release's queue read starts every waiting one.
		unlimited := snapshot("web", environment("dev", afterRelease))
		if err := f.c.DefinitionRevision.Create().SetDefinitionID(def).SetRevision(2).SetChangeType("UPDATE").
			SetAuthor("root").SetSnapshot(unlimited).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		if err := f.c.ReleaseDefinition.UpdateOneID(def).SetRevision(2).Exec(f.ctx); err != nil {
			t.Fatal(err)
		}
		rels = append(rels, f.release(alice, def, "24"))
		last := 0
		for _, r := range rels {
			d := f.deployment(r.ID, "dev")
			j := f.job(d.ID)
			if j == nil {
				t.Fatalf("release %s has no job (%s)", r.Name, f.state(r.ID, "dev"))
			}
			if j.ID <= last {
				t.Fatalf("release %s got its job before an older release's", r.Name)
			}
			last = j.ID
			if d.Status != deployment.StatusQUEUED || d.QueuedAt == nil {
				t.Fatalf("release %s: deployment %s, queued at %v", r.Name, d.Status, d.QueuedAt)
			}
		}
		f.verifyChain()
	})
}
