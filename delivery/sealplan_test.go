package delivery_test

import (
	"context"
	"strings"
	"testing"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

// TestLockStatementsPlanByIndex: on PostgreSQL the statements that take the sealer's lock and a
// definition's lock (numbering a release) also turn off, for their transaction only, the plans
// that PostgreSQL chose on a young table's statistics under those locks: sequential scans, bitmap
// scans in the sealer's reads (which mark no dead index entry), and JIT (docs/decisions.md, "The
// plans under the locks"). The settings hold after the lock statement and are gone once the
// transaction ends, on the same connection: a pooled connection must not keep them.
func TestLockStatementsPlanByIndex(t *testing.T) {
	db := openPostgresDB(t)
	ctx := context.Background()
	cost := &sqlCost{}
	e := delivery.New(ent.NewClient(ent.Driver(costDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), c: cost})),
		delivery.Options{Dialect: db.Dialect, Bus: newRecorder()})
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("web", environment("dev", afterRelease)))
	cost.keep.Store(true)
	if _, err := e.CreateRelease(ctx, alice, delivery.CreateReleaseInput{
		DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1", BuildID: "1"}},
	}); err != nil {
		t.Fatal(err)
	}
	cost.keep.Store(false)
	var sealLock, definitionLock *sentStmt
	for i, s := range cost.log {
		switch {
		case strings.HasPrefix(s.q, "SELECT pg_advisory_xact_lock($1)") && sealLock == nil:
			sealLock = &cost.log[i]
		case strings.Contains(s.q, "release_counter") && strings.Contains(s.q, "pg_advisory_xact_lock") && definitionLock == nil:
			definitionLock = &cost.log[i]
		}
	}
	if sealLock == nil || definitionLock == nil {
		t.Fatalf("the seal lock's or the definition lock's statement is not among the %d sent", len(cost.log))
	}
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	settings := func() string {
		t.Helper()
		var s string
		if err := conn.QueryRowContext(ctx, `SELECT current_setting('enable_seqscan') || ' ' || current_setting('enable_bitmapscan') || ' ' || current_setting('jit')`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := settings()
	for _, c := range []struct {
		name string
		s    *sentStmt
		want string
	}{
		{"the seal lock", sealLock, "off off off"},
		{"the definition lock", definitionLock, "off " + strings.Fields(before)[1] + " off"},
	} {
		if _, err := conn.ExecContext(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		rows, err := conn.QueryContext(ctx, c.s.q, c.s.args...)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		rows.Close()
		if got := settings(); got != c.want {
			t.Errorf("after %s's statement, enable_seqscan, enable_bitmapscan and jit are %q, want %q", c.name, got, c.want)
		}
		if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
		if got := settings(); got != before {
			t.Errorf("after %s's transaction, the connection's settings are %q, want %q as before", c.name, got, before)
		}
	}
}
