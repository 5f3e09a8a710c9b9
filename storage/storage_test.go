package storage_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery/deliverytest"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func TestMigrateAndRoundTrip(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		u, err := db.Client.User.Create().SetUsername("alice").Save(ctx)
		if err != nil {
			t.Fatalf("create user: %v", err)
		}
		got, err := db.Client.User.Get(ctx, u.ID)
		if err != nil || got.Username != "alice" {
			t.Fatalf("get user: %v %v", got, err)
		}
		// Global unique ids: different types never share an id.
		g, err := db.Client.Group.Create().SetName("ops").Save(ctx)
		if err != nil {
			t.Fatalf("create group: %v", err)
		}
		if g.ID == u.ID {
			t.Fatalf("user and group share id %d", g.ID)
		}
		// Migrating again is a no-op.
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("second migrate: %v", err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Fatalf("ping: %v", err)
		}
	})
}

// TestConcurrentWritersNoLock checks that 50 concurrent read-then-write
// transactions on one database all succeed (no "database is locked").
func TestConcurrentWritersNoLock(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				tx, err := db.Client.Tx(ctx)
				if err != nil {
					errs <- err
					return
				}
				if _, err := tx.User.Query().Count(ctx); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				if _, err := tx.Group.Create().SetName("g" + string(rune('A'+i%26)) + string(rune('a'+i/26))).Save(ctx); err != nil {
					tx.Rollback()
					errs <- err
					return
				}
				errs <- tx.Commit()
			}(i)
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("writer: %v", err)
			}
		}
		if n := db.Client.Group.Query().CountX(ctx); n != 50 {
			t.Fatalf("groups = %d, want 50", n)
		}
	})
}

// TestPoolKeepsConnections checks that connections returned after a busy moment stay open: a
// closed connection loses its prepared statements, and on PostgreSQL a new one costs a
// handshake (database/sql keeps only two idle connections unless told otherwise).
func TestPoolKeepsConnections(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		for round := 0; round < 2; round++ {
			var conns []*sql.Conn
			for i := 0; i < 6; i++ {
				c, err := db.SQL.Conn(ctx)
				if err != nil {
					t.Fatalf("taking connection %d: %v", i, err)
				}
				if err := c.PingContext(ctx); err != nil {
					t.Fatalf("pinging connection %d: %v", i, err)
				}
				conns = append(conns, c)
			}
			for _, c := range conns {
				c.Close()
			}
		}
		st := db.SQL.Stats()
		if st.MaxIdleClosed != 0 || st.OpenConnections < 6 {
			t.Fatalf("after two rounds of 6 concurrent connections: %d closed as surplus idle, %d open; want none closed, at least 6 open", st.MaxIdleClosed, st.OpenConnections)
		}
	})
}

// auditIndexes lists the indexes of audit_events.
func auditIndexes(t *testing.T, db *storage.DB) map[string]bool {
	t.Helper()
	q := `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'`
	if db.Dialect == "postgres" {
		q = `SELECT indexname FROM pg_indexes WHERE tablename = 'audit_events' AND schemaname = current_schema()`
	}
	rows, err := db.SQL.QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		out[name] = true
	}
	return out
}

// TestMigrateUpgradesAuditIndexes checks the upgrade of a database made by the schema before the
// audit indexes ended with sequence: migrating adds the new indexes, drops the ones they
// supersede, keeps the rows, and the next migration changes nothing.
func TestMigrateUpgradesAuditIndexes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		newer := []string{"auditevent_target_id_target_type_sequence", "auditevent_target_type_sequence", "auditevent_actor_sequence", "auditevent_action_sequence"}
		// The earlier schema: its two indexes, none of the new ones, and a row.
		for _, stmt := range []string{
			"DROP INDEX auditevent_target_id_target_type_sequence", "DROP INDEX auditevent_target_type_sequence",
			"DROP INDEX auditevent_actor_sequence", "DROP INDEX auditevent_action_sequence",
			"CREATE INDEX auditevent_target_type_target_id ON audit_events (target_type, target_id)",
			"CREATE INDEX auditevent_actor ON audit_events (actor)",
		} {
			if _, err := db.SQL.ExecContext(ctx, stmt); err != nil {
				t.Fatalf("%s: %v", stmt, err)
			}
		}
		if err := db.Client.AuditEvent.Create().SetSequence(1).SetTime(time.Now()).SetActor("alice").SetAction("x.y").
			SetTargetType("release").SetTargetID("7").SetPrevHash("p").SetHash("h").Exec(ctx); err != nil {
			t.Fatal(err)
		}
		before := auditIndexes(t, db)
		if !before["auditevent_target_type_target_id"] || before["auditevent_actor_sequence"] {
			t.Fatalf("setup: %v", before)
		}
		for range 2 {
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			got := auditIndexes(t, db)
			for _, name := range newer {
				if !got[name] {
					t.Errorf("index %s missing after migration: %v", name, got)
				}
			}
			if got["auditevent_target_type_target_id"] || got["auditevent_actor"] || !got["auditevent_time"] {
				t.Errorf("after migration: %v", got)
			}
		}
		if n := db.Client.AuditEvent.Query().CountX(ctx); n != 1 {
			t.Fatalf("%d audit rows after migration", n)
		}
	})
}

// TestMigrateAllowsJobPhases upgrades a database whose jobs table held one job per deployment
// (deployment_id unique, a constraint on PostgreSQL): migrating drops the constraint, so a
// deployment's phases can each have a job, while (deployment, phase) stays unique.
func TestMigrateAllowsJobPhases(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		old := "CREATE UNIQUE INDEX jobs_deployment_id_key ON jobs (deployment_id)"
		if db.Dialect == "postgres" {
			old = "ALTER TABLE jobs ADD CONSTRAINT jobs_deployment_id_key UNIQUE (deployment_id)"
		}
		if _, err := db.SQL.ExecContext(ctx, old); err != nil {
			t.Fatalf("%s: %v", old, err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		base := deliverytest.Job(t, db.Client, deliverytest.JobOptions{}).Job
		second := db.Client.Job.Create().SetDeploymentID(base.DeploymentID).SetPhase(2).SetSpec(base.Spec).
			SetQueuedAt(time.Now())
		if err := second.Exec(ctx); err != nil {
			t.Fatalf("a second phase's job: %v", err)
		}
		dup := db.Client.Job.Create().SetDeploymentID(base.DeploymentID).SetPhase(2).SetSpec(base.Spec).SetQueuedAt(time.Now())
		if err := dup.Exec(ctx); err == nil {
			t.Fatal("two jobs of one phase were stored")
		}
	})
}

// TestDataDirectoryPermissions: a new data directory is 0700 and its
// database files 0600; an existing directory and database readable by others
// are restricted at start, and Open reports what it changed.
func TestDataDirectoryPermissions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	check := func(t *testing.T, dir string) {
		t.Helper()
		for p, want := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "cairn.db"): 0o600,
			filepath.Join(dir, "cairn.db-wal"): 0o600, filepath.Join(dir, "cairn.db-shm"): 0o600} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s has mode %#o, want %#o", p, fi.Mode().Perm(), want)
			}
		}
	}
	open := func(t *testing.T, dir string) *storage.DB {
		db, err := storage.Open(ctx, "", dir, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		return db
	}
	t.Run("new", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		db := open(t, dir)
		defer db.Close()
		check(t, dir)
		if len(db.Tightened) != 0 {
			t.Errorf("tightened %q in a new directory", db.Tightened)
		}
	})
	t.Run("existing", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "data")
		db := open(t, dir)
		db.Close()
		for _, p := range []string{filepath.Join(dir, "cairn.db"), filepath.Join(dir, "cairn.db-wal"), filepath.Join(dir, "cairn.db-shm")} {
			if err := os.Chmod(p, 0o644); err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		db = open(t, dir)
		defer db.Close()
		check(t, dir)
		if got := strings.Join(db.Tightened, " "); !strings.Contains(got, dir+" (was 0755)") || !strings.Contains(got, "cairn.db (was 0644)") {
			t.Errorf("tightened %q", got)
		}
	})
}
