package delivery_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/event"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestEnvironmentStatusesOfANewDeployment: an environment whose approvals need nobody goes to
// PENDING_APPROVAL and on to QUEUED in one transaction, and its row is written once; the stream
// still has both statuses, in order. One whose approval waits for a person is stored
// PENDING_APPROVAL; a person's approval then queues it.
func TestEnvironmentStatusesOfANewDeployment(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		bob := f.user("bob", "EDITOR")
		def := f.definition(snapshot("web",
			environment("dev", afterRelease),
			environment("qa", afterRelease, pre(spec.ApprovalPolicy{Approvers: users("bob")}))))
		rel := f.release(alice, def, "1")
		f.wantState(rel.ID, "dev", "QUEUED/QUEUED")
		f.wantState(rel.ID, "qa", "PENDING_APPROVAL/PENDING_APPROVAL")
		versions := map[string]int{}
		envs, err := f.c.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID)).All(f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, re := range envs {
			versions[re.Name] = re.Version
		}
		if versions["dev"] != 1 || versions["qa"] != 1 {
			t.Errorf("environment versions %v: each row must be written once", versions)
		}
		statuses := func(env string) []string {
			t.Helper()
			rows, err := f.c.Event.Query().Where(event.ReleaseID(rel.ID), event.Environment(env),
				event.Type(delivery.EventEnvironmentStatusChanged), event.SequenceGT(0)).
				Order(ent.Asc(event.FieldSequence)).All(f.ctx)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, r := range rows {
				var ev delivery.Event
				if err := json.Unmarshal([]byte(r.Payload), &ev); err != nil {
					t.Fatal(err)
				}
				out = append(out, ev.Status)
			}
			return out
		}
		if got := fmt.Sprint(statuses("dev")); got != "[PENDING_APPROVAL QUEUED]" {
			t.Errorf("dev's status events: %s", got)
		}
		if got := fmt.Sprint(statuses("qa")); got != "[PENDING_APPROVAL]" {
			t.Errorf("qa's status events: %s", got)
		}
		qa := f.deployment(rel.ID, "qa")
		aps := f.approvals(qa.ID, "PRE")
		if len(aps) != 1 {
			t.Fatalf("qa has %d approvals", len(aps))
		}
		f.approve(bob, aps[0].ID)
		f.wantState(rel.ID, "qa", "QUEUED/QUEUED")
		if got := fmt.Sprint(statuses("qa")); got != "[PENDING_APPROVAL QUEUED]" {
			t.Errorf("qa's status events after the approval: %s", got)
		}
		f.verifyChain()
	})
}

// TestOperationAndForwardOnlyShareOneRead: the one read that names a new deployment's operation
// and decides forward-only sees both the newest release in flight (an automatic deployment of
// an older release is superseded) and the current one (a person's deployment of an older
// release is a ROLLBACK).
func TestOperationAndForwardOnlyShareOneRead(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("web", environment("dev", afterRelease), environment("qa", after("dev"))))
		r1 := f.release(alice, def, "1")
		r2 := f.release(alice, def, "2")
		if d := f.deployment(r2.ID, "dev"); d.Operation != deployment.OperationDEPLOY {
			t.Fatalf("release 2 on dev: operation %s", d.Operation)
		}
		f.run(r2.ID, "dev", "SUCCEEDED")
		f.wantState(r2.ID, "qa", "QUEUED/QUEUED") // in flight: its job is queued
		f.run(r1.ID, "dev", "SUCCEEDED")
		f.wantState(r1.ID, "qa", "CANCELED/CANCELED") // older than release 2, in flight on qa
		f.run(r2.ID, "qa", "SUCCEEDED")
		d, err := f.e.DeployEnvironment(f.ctx, alice, delivery.DeployInput{ReleaseID: r1.ID, Environment: "qa"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Operation != deployment.OperationROLLBACK || d.Status != deployment.StatusQUEUED {
			t.Fatalf("deploying release 1 over 2 on qa: %s %s, want a QUEUED ROLLBACK", d.Status, d.Operation)
		}
		r3 := f.release(alice, def, "3")
		if d := f.deployment(r3.ID, "dev"); d.Operation != deployment.OperationDEPLOY || d.Status != deployment.StatusQUEUED {
			t.Fatalf("release 3 on dev: %s %s", d.Status, d.Operation)
		}
		f.verifyChain()
	})
}

// TestUpdateWaitingReasonsInOneTransaction: the waiting reasons of several queued jobs are
// stored together; on PostgreSQL a job whose row another transaction holds is skipped, not
// waited for, and explained by the next refresh.
func TestUpdateWaitingReasonsInOneTransaction(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		v := newEnv(t, db)
		windows := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"os -equals windows"}})
		windows2 := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"os -equals windows"}})
		docker := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"docker"}})
		var release func()
		if db.Dialect == delivery.Postgres {
			tx, err := db.SQL.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.ExecContext(ctx, `SELECT id FROM jobs WHERE id = $1 FOR UPDATE`, docker.Job.ID); err != nil {
				t.Fatal(err)
			}
			release = func() { _ = tx.Rollback() }
		}
		if err := v.e.UpdateWaitingReasons(ctx); err != nil {
			t.Fatal(err)
		}
		reason := func(id int) string { return v.c.Job.GetX(ctx, id).WaitingReason }
		for _, id := range []int{windows.Job.ID, windows2.Job.ID} {
			if got := reason(id); got != "no enabled agent is registered in pool default" {
				t.Errorf("job %d: reason %q", id, got)
			}
		}
		if release != nil {
			if got := reason(docker.Job.ID); got != "" {
				t.Errorf("a job another transaction holds was written: %q", got)
			}
			release()
			if err := v.e.UpdateWaitingReasons(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if got := reason(docker.Job.ID); got != "no enabled agent is registered in pool default" {
			t.Errorf("docker job: reason %q", got)
		}
	})
}

// TestRefreshWaitingReasonsReadsWhatChanged: with the agents as the last full refresh found
// them, RefreshWaitingReasons explains only the jobs it is told of (a reason set by hand on
// another job stays); when the agents change, or waitingFullEvery passed, it explains every
// queued job again.
func TestRefreshWaitingReasonsReadsWhatChanged(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		v := newEnv(t, db)
		old := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"docker"}}).Job.ID
		reason := func(id int) string { return v.c.Job.GetX(ctx, id).WaitingReason }
		stale := func(id int) {
			t.Helper()
			if err := v.c.Job.UpdateOneID(id).SetWaitingReason("stale").Exec(ctx); err != nil {
				t.Fatal(err)
			}
		}
		refresh := func(ids ...int) {
			t.Helper()
			if err := v.e.RefreshWaitingReasons(ctx, ids); err != nil {
				t.Fatal(err)
			}
		}
		const none = "no enabled agent is registered in pool default"
		refresh() // the first: every queued job
		if got := reason(old); got != none {
			t.Fatalf("first refresh: reason %q", got)
		}
		stale(old)
		fresh := deliverytest.Job(t, v.c, deliverytest.JobOptions{Demands: []string{"docker"}}).Job.ID
		refresh(fresh)
		if got := reason(fresh); got != none {
			t.Errorf("the job told of: reason %q, want %q", got, none)
		}
		if got := reason(old); got != "stale" {
			t.Errorf("a job not told of, the agents unchanged, was explained again: %q", got)
		}
		register(t, v, "a", nil) // online, without docker
		refresh()
		want := `no online agent has capability "docker"`
		if got := reason(old); got != want {
			t.Errorf("after an agent registered: reason %q, want %q", got, want)
		}
		stale(old)
		refresh()
		if got := reason(old); got != "stale" {
			t.Errorf("nothing changed, nothing told: the job was explained again (%q)", got)
		}
		v.clk.Advance(delivery.WaitingFullEvery)
		refresh()
		if got := reason(old); got != want {
			t.Errorf("after %v: reason %q, want %q", delivery.WaitingFullEvery, got, want)
		}
		// A full refresh by UpdateWaitingReasons (the dispatcher's after a gap) counts as the last:
		// a refresh right after it, told of nothing, explains nothing again.
		register(t, v, "b", map[string]string{"docker": "1"})
		v.clk.Advance(delivery.WaitingFullEvery)
		if err := v.e.UpdateWaitingReasons(ctx); err != nil {
			t.Fatal(err)
		}
		stale(old)
		refresh()
		if got := reason(old); got != "stale" {
			t.Errorf("a refresh right after a full one explained the job again (%q)", got)
		}
	})
}
