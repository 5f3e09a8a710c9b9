package delivery_test

import (
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// outcomes counts results of concurrent calls by error code ("" = success)
// and fails on a database-level error such as "database is locked".
type outcomes struct {
	mu sync.Mutex
	by map[delivery.Code]int
}

func (o *outcomes) add(t *testing.T, err error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.by == nil {
		o.by = map[delivery.Code]int{}
	}
	if err == nil {
		o.by[""]++
		return
	}
	code := delivery.CodeOf(err)
	if code == delivery.CodeInternal || strings.Contains(err.Error(), "locked") {
		t.Errorf("unexpected error: %v", err)
	}
	o.by[code]++
}

func TestConcurrentApprovals(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		f.user("carol", "VIEWER")
		def := f.definition(snapshot("svc", environment("prod", afterRelease,
			pre(spec.ApprovalPolicy{Approvers: users("bob", "carol"), Mode: spec.ApprovalAll}))))
		rel := f.release(alice, def, "1")
		id := f.pendingFor(f.deployment(rel.ID, "prod").ID, approval.StagePRE, "bob")
		before := f.bus.count(delivery.EventApprovalDecided)
		var o outcomes
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 100 {
			wg.Go(func() {
				<-start
				_, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: id})
				o.add(t, err)
			})
		}
		close(start)
		wg.Wait()
		if o.by[""] != 1 || o.by[delivery.CodeConflict] != 99 {
			t.Fatalf("outcomes %v, want 1 success and 99 conflicts", o.by)
		}
		if n := f.audits("approval.approve"); n != 1 {
			t.Fatalf("%d approvals audited", n)
		}
		if n := f.bus.count(delivery.EventApprovalDecided) - before; n != 1 {
			t.Fatalf("%d decision events", n)
		}
		a, _ := f.c.Approval.Get(f.ctx, id)
		if a.Version != 1 || a.Status != approval.StatusAPPROVED {
			t.Fatalf("approval changed %d times, status %s", a.Version, a.Status)
		}
		f.verifyChain()
	})
}

func TestConcurrentDeploys(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("svc", environment("prod", manualOnly)))
		rel := f.release(alice, def, "1")
		var o outcomes
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 20 {
			wg.Go(func() {
				<-start
				_, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
				o.add(t, err)
			})
		}
		close(start)
		wg.Wait()
		n, _ := f.c.Deployment.Query().Where(deployment.ReleaseID(rel.ID)).Count(f.ctx)
		if o.by[""] != 1 || o.by[delivery.CodeConflict] != 19 || n != 1 {
			t.Fatalf("outcomes %v, %d deployments; want one", o.by, n)
		}
		f.verifyChain()
	})
}

func TestApproveRacingCancel(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "VIEWER")
		def := f.definition(snapshot("svc", environment("prod", manualOnly, pre(spec.ApprovalPolicy{Approvers: users("bob")}))))
		for i := range 10 {
			rel := f.release(alice, def, string(rune('a'+i)))
			d, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: rel.ID, Environment: "prod"})
			if err != nil {
				t.Fatal(err)
			}
			id := f.pendingFor(d.ID, approval.StagePRE, "bob")
			var approved, canceled atomic.Bool
			var wg sync.WaitGroup
			start := make(chan struct{})
			wg.Go(func() {
				<-start
				_, err := f.e.Approve(f.ctx, bob, delivery.ApprovalDecision{ApprovalID: id})
				if err == nil {
					approved.Store(true)
				} else if delivery.CodeOf(err) != delivery.CodeConflict {
					t.Errorf("approve: %v", err)
				}
			})
			wg.Go(func() {
				<-start
				_, err := f.e.CancelDeployment(f.ctx, alice, d.ID, "race")
				if err == nil {
					canceled.Store(true)
				} else {
					t.Errorf("cancel: %v", err)
				}
			})
			close(start)
			wg.Wait()
			a, _ := f.c.Approval.Get(f.ctx, id)
			got := f.state(rel.ID, "prod")
			switch {
			case approved.Load() && a.Status == approval.StatusAPPROVED && got == "CANCELED/CANCELED":
				// approve first: the deployment was queued, then canceled with its job
				if j := f.job(d.ID); j == nil || j.Status != "CANCELED" {
					t.Fatalf("approved then canceled: job %+v", j)
				}
			case !approved.Load() && a.Status == approval.StatusCANCELED && got == "CANCELED/CANCELED":
				if f.job(d.ID) != nil {
					t.Fatal("canceled first, yet a job")
				}
			default:
				t.Fatalf("round %d: approved=%v canceled=%v approval %s state %s", i, approved.Load(), canceled.Load(), a.Status, got)
			}
		}
		f.verifyChain()
	})
}
