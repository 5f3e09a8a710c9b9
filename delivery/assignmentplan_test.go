package delivery_test

import (
	"context"
	"strings"
	"testing"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestBuildAssignmentReadsNoHistory checks on SQLite that building an assignment reads by
// indexes that lead to the job's own release: no statement walks a table that grows with the
// installation's history (it once read the release's earlier jobs through the jobs' status
// index: every finished job, on every assignment).
func TestBuildAssignmentReadsNoHistory(t *testing.T) {
	db := storagetest.Open(t, "sqlite")
	ctx := context.Background()
	v := newEnv(t, db)
	for range 3 { // other releases' finished jobs
		o := deliverytest.Job(t, v.c, deliverytest.JobOptions{})
		v.c.Job.UpdateOneID(o.Job.ID).SetStatus(job.StatusSUCCEEDED).ExecX(ctx)
	}
	s := deliverytest.Job(t, v.c, deliverytest.JobOptions{Tasks: []spec.Task{{Name: "deploy", Script: "echo hi"}}})
	cost := &sqlCost{}
	counted := delivery.New(ent.NewClient(ent.Driver(costDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), c: cost})),
		delivery.Options{Dialect: db.Dialect, Secrets: v.box})
	cost.keep.Store(true)
	if _, err := counted.BuildAssignment(ctx, s.Job.ID); err != nil {
		t.Fatal(err)
	}
	cost.keep.Store(false)
	cost.mu.Lock()
	log := cost.log
	cost.mu.Unlock()
	if len(log) == 0 {
		t.Fatal("no statement recorded")
	}
	for _, st := range log {
		plan := storagetest.SQLitePlan(t, db, st.q, st.args...)
		for _, step := range plan {
			if strings.Contains(step, "job_status_queued_at") {
				t.Errorf("%s\nreads jobs by status: %s", st.q, strings.Join(plan, "; "))
			}
			if table := scannedTable(step); table != "" {
				t.Errorf("%s\nscans %s: %s", st.q, table, strings.Join(plan, "; "))
			}
		}
	}
}
