package delivery_test

import (
	"context"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/job"
)

// TestQueueReadUnderTheLockSeesTheLastHolder: on PostgreSQL the statement that takes a
// definition's lock to number a release also reads the queues its new deployments join
// (waitingFunc). That read must see what the lock's previous holder committed while the
// statement waited for the lock, as a statement sent after it would. Another transaction holds
// the lock and leaves release 1's deployment waiting again (no job, not queued); a release
// created meanwhile waits for the lock, and once that transaction commits it must take release
// 1's deployment from the queue (no limit on parallel deployments: every waiting one starts).
// Read with the numbering statement's own snapshot, the queue looks empty and release 1's
// deployment stays waiting.
func TestQueueReadUnderTheLockSeesTheLastHolder(t *testing.T) {
	db := openPostgresDB(t)
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("web", environment("dev", afterRelease)))
	first := f.deployment(f.release(alice, def, "1").ID, "dev")
	if f.job(first.ID) == nil {
		t.Fatalf("release 1's deployment has no job: %s", f.state(first.ReleaseID, "dev"))
	}

	ctx := context.Background()
	holder, err := db.SQL.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck
	if _, err := holder.ExecContext(ctx, "SELECT pg_advisory_xact_lock($1)", delivery.DefinitionLockKey(def)); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "DELETE FROM jobs WHERE deployment_id = $1", first.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.ExecContext(ctx, "UPDATE deployments SET status = 'QUEUED', queued_at = NULL, started_at = NULL WHERE id = $1", first.ID); err != nil {
		t.Fatal(err)
	}

	created := make(chan error, 1)
	go func() {
		_, err := f.e.CreateRelease(ctx, alice, delivery.CreateReleaseInput{
			DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "2", BuildID: "2"}},
		})
		created <- err
	}()
	// The creation waits for the definition's lock, in the statement that numbers the release.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var waiting int
		if err := db.SQL.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%release_counter%'`).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			break
		}
		select {
		case err := <-created:
			t.Fatalf("the release was created while another transaction held the definition's lock (err %v)", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the release's creation never waited for the definition's lock")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := holder.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := <-created; err != nil {
		t.Fatal(err)
	}
	n, err := f.c.Job.Query().Where(job.DeploymentID(first.ID)).Count(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("release 1's deployment, waiting when the lock's holder committed, has %d jobs after release 2's creation, want 1 (%s)",
			n, f.state(first.ReleaseID, "dev"))
	}
}
