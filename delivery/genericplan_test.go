package delivery_test

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
)

// TestNumberingKeepsAGenericPlan: on PostgreSQL the statement that takes a definition's lock and
// numbers a release runs for every release, and a prepared statement is planned anew for every
// call for as long as PostgreSQL finds a plan for the call's values cheaper than its generic
// plan. Drawing the held ids over generate_series(1, $7) made the generic plan look dearer (a
// thousand rows), so every release paid a planning (0.9 ms of PostgreSQL's CPU). After its first
// five calls on a connection, the statement must run on the generic plan. The queue read the
// statement calls (a PL/pgSQL function, whose plans pg_prepared_statements does not show) is
// set to plan once.
func TestNumberingKeepsAGenericPlan(t *testing.T) {
	db := openPostgresDB(t)
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("web", environment("dev", afterRelease), environment("qa", afterRelease)))
	rel := f.release(alice, def, "1")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := db.SQL.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	const calls = 12
	for i := range calls {
		rows, err := tx.QueryContext(ctx, delivery.NumberAndNameSQL, time.Now(), def, delivery.DefinitionLockKey(def),
			rel.ID, "web-", "", 2+i%3, []string{"dev", "qa"}, "QUEUED", 20)
		if err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if !rows.Next() {
			t.Fatalf("call %d returned no row (%v)", i+1, rows.Err())
		}
		var number, highest, named int
		var deps, jobs, waiting string
		if err := rows.Scan(&number, &highest, &named, &deps, &jobs, &waiting); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		if want := 2 + i%3; len(strings.Split(deps, ",")) != want || len(strings.Split(jobs, ",")) != want {
			t.Fatalf("call %d held deployment ids %q and job ids %q, want %d of each", i+1, deps, jobs, want)
		}
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	// pgx prepares the statement on this connection under a name of its own; the server keeps
	// how it planned each call.
	var generic, custom int
	if err := conn.QueryRowContext(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1`,
		delivery.NumberAndNameSQL).Scan(&generic, &custom); err != nil {
		t.Fatalf("reading the numbering statement's plans on its connection: %v", err)
	}
	if custom > 5 || generic < calls-5 {
		t.Fatalf("on one connection the numbering statement was planned for its values %d times and ran its generic plan %d times (%d calls by this test); want a plan for the values only for the first 5 calls",
			custom, generic, calls)
	}

	var config []byte
	if err := conn.QueryRowContext(ctx, `SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = $1`,
		delivery.WaitingFunc).Scan(&config); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(config), "plan_cache_mode=force_generic_plan") {
		t.Fatalf("%s is set to %q; want its query planned once (plan_cache_mode=force_generic_plan)", delivery.WaitingFunc, config)
	}
}

// TestSealKeepsGenericPlans: the sealer's update of a pass's rows runs once per release's commit;
// it takes the rows as arrays, and PostgreSQL, left to choose, planned it anew on every pass (a
// plan for a pass's few rows looks cheaper than the generic plan's estimate of ten). On every
// connection that sealed more than five times, the update must have used its generic plan after
// the fifth.
func TestSealKeepsGenericPlans(t *testing.T) {
	db := openPostgresDB(t)
	f := newFixture(t, db)
	alice := f.user("alice", "EDITOR")
	def := f.definition(snapshot("web", environment("dev", afterRelease)))
	for i := range 15 {
		f.release(alice, def, strconv.Itoa(i+1))
	}
	most := 0
	for _, p := range preparedPlans(t, db.SQL, "WITH a AS (UPDATE audit_events") {
		most = max(most, p.custom+p.generic)
		if p.custom > 5 {
			t.Fatalf("on one connection the seal's update was planned for its rows %d times and ran its generic plan %d times; want a plan for the rows only for the first 5 calls",
				p.custom, p.generic)
		}
	}
	if most <= 5 {
		t.Fatalf("no connection sealed more than 5 times (at most %d): the test shows nothing", most)
	}
}

// plans is how PostgreSQL planned one prepared statement on one connection.
type plans struct{ custom, generic int }

// preparedPlans reads, on every idle connection of db's pool, how the statements that start with
// prefix were planned (pg_prepared_statements is the connection's own).
func preparedPlans(t *testing.T, db *sql.DB, prefix string) []plans {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var conns []*sql.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for db.Stats().Idle > 0 {
		c, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	var out []plans
	for _, c := range conns {
		rows, err := c.QueryContext(ctx, `SELECT custom_plans, generic_plans FROM pg_prepared_statements WHERE starts_with(statement, $1)`, prefix)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var p plans
			if err := rows.Scan(&p.custom, &p.generic); err != nil {
				t.Fatal(err)
			}
			out = append(out, p)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}
