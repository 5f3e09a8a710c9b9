package delivery_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestReadGauges counts seeded deployments by status, queued jobs by waiting reason, and the
// empty outboxes, on both databases.
func TestReadGauges(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		c := db.Client
		for range 3 {
			deliverytest.Job(t, c, deliverytest.JobOptions{})
		}
		s := deliverytest.Job(t, c, deliverytest.JobOptions{Status: deployment.StatusSUCCEEDED})
		c.Job.UpdateOneID(s.Job.ID).SetStatus(job.StatusSUCCEEDED).ExecX(ctx)
		w := deliverytest.Job(t, c, deliverytest.JobOptions{})
		c.Job.UpdateOneID(w.Job.ID).SetWaitingReason("no agent").ExecX(ctx)
		g, err := delivery.New(c, delivery.Options{Dialect: db.Dialect}).ReadGauges(ctx)
		if err != nil {
			t.Fatal(err)
		}
		deps := map[string]int{}
		for _, d := range g.Deployments {
			deps[d.Environment+"/"+d.Status] = d.Count
		}
		queued := map[string]int{}
		for _, q := range g.Queued {
			queued[q.Reason] = q.Count
		}
		if deps["prod/QUEUED"] != 4 || deps["prod/SUCCEEDED"] != 1 || len(deps) != 2 {
			t.Errorf("deployments %v", deps)
		}
		if queued[""] != 3 || queued["no agent"] != 1 || len(queued) != 2 {
			t.Errorf("queued %v", queued)
		}
		if g.AgentsOnline+g.AgentsOffline+g.AgentsDisabled != 0 || len(g.Notifications) != 0 || len(g.Hooks) != 0 {
			t.Errorf("agents and outboxes: %+v", g)
		}
	})
}

// BenchmarkReadGauges is the database cost of one metrics scrape over 5,000 deployments (and as
// many jobs, one in 50 of each queued), next to its floor: one count of the deployments table in the same run.
// CAIRN_BENCH_DEPLOYMENTS changes the number.
func BenchmarkReadGauges(b *testing.B) {
	n := 5000
	if v := os.Getenv("CAIRN_BENCH_DEPLOYMENTS"); v != "" {
		fmt.Sscan(v, &n)
	}
	db := storagetest.Open(b, "sqlite")
	ctx := context.Background()
	for i := range n {
		st := deployment.StatusSUCCEEDED
		if i%50 == 0 {
			st = deployment.StatusQUEUED
		}
		deliverytest.Job(b, db.Client, deliverytest.JobOptions{Status: st, QueuedAt: time.Now()})
	}
	// Jobs of finished deployments are finished: the queue holds one job in 50, as the
	// deployments do.
	if _, err := db.Client.Job.Update().Where(job.HasDeploymentWith(deployment.StatusEQ(deployment.StatusSUCCEEDED))).
		SetStatus(job.StatusSUCCEEDED).Save(ctx); err != nil {
		b.Fatal(err)
	}
	e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
	b.Run("floor: count(deployments)", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Client.Deployment.Query().Count(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ReadGauges", func(b *testing.B) {
		for b.Loop() {
			if _, err := e.ReadGauges(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}
