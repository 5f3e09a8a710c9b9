package delivery_test

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// sqlCost counts the statements a client sends, in transactions too, and
// the values bound to them (an IN list of every queued deployment's release
// grows the second even when the first stays put).
// With keep set it also keeps each statement and its arguments.
type sqlCost struct {
	stmts, args atomic.Int64
	keep        atomic.Bool
	mu          sync.Mutex
	log         []sentStmt
}

// sentStmt is one statement a client sent.
type sentStmt struct {
	q    string
	args []any
}

func (c *sqlCost) count(q string, args any) {
	c.stmts.Add(1)
	a, _ := args.([]any)
	c.args.Add(int64(len(a)))
	if c.keep.Load() {
		c.mu.Lock()
		c.log = append(c.log, sentStmt{q, a})
		c.mu.Unlock()
	}
}

// reset zeroes the counts and the log.
func (c *sqlCost) reset() {
	c.stmts.Store(0)
	c.args.Store(0)
	c.mu.Lock()
	c.log = nil
	c.mu.Unlock()
}

type costDriver struct {
	dialect.Driver
	c *sqlCost
}

func (d costDriver) Query(ctx context.Context, q string, args, v any) error {
	d.c.count(q, args)
	return d.Driver.Query(ctx, q, args, v)
}

func (d costDriver) Exec(ctx context.Context, q string, args, v any) error {
	d.c.count(q, args)
	return d.Driver.Exec(ctx, q, args, v)
}

func (d costDriver) Tx(ctx context.Context) (dialect.Tx, error) {
	tx, err := d.Driver.Tx(ctx)
	if err != nil {
		return nil, err
	}
	return costTx{Tx: tx, c: d.c}, nil
}

type costTx struct {
	dialect.Tx
	c *sqlCost
}

func (t costTx) Query(ctx context.Context, q string, args, v any) error {
	t.c.count(q, args)
	return t.Tx.Query(ctx, q, args, v)
}

func (t costTx) Exec(ctx context.Context, q string, args, v any) error {
	t.c.count(q, args)
	return t.Tx.Exec(ctx, q, args, v)
}

// ExecContext serves the engine's PostgreSQL advisory lock.
func (t costTx) ExecContext(ctx context.Context, q string, args ...any) (stdsql.Result, error) {
	t.c.count(q, args)
	ex, ok := t.Tx.(interface {
		ExecContext(context.Context, string, ...any) (stdsql.Result, error)
	})
	if !ok {
		return nil, fmt.Errorf("the transaction has no ExecContext")
	}
	return ex.ExecContext(ctx, q, args...)
}

// QueryContext serves the engine's raw statements that return rows (the release counter's).
func (t costTx) QueryContext(ctx context.Context, q string, args ...any) (*stdsql.Rows, error) {
	t.c.count(q, args)
	qu, ok := t.Tx.(interface {
		QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
	})
	if !ok {
		return nil, fmt.Errorf("the transaction has no QueryContext")
	}
	return qu.QueryContext(ctx, q, args...)
}

// TestCreateReleaseCostIgnoresBacklog: creating a release whose environments
// have 0, 100 and 1,000 deployments queued before it (in flight with a job
// in "dev", which deploys in parallel; waiting for the one slot of "qa")
// sends the same statements with the same number of bound values: deciding
// "forward only" and pumping the queue read neither every queued deployment
// nor their releases.
func TestCreateReleaseCostIgnoresBacklog(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		cost := &sqlCost{}
		counted := delivery.New(ent.NewClient(ent.Driver(costDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), c: cost})),
			delivery.Options{Dialect: db.Dialect, Clock: f.clk, Bus: f.bus})
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("web",
			environment("dev", afterRelease),
			environment("qa", afterRelease, queue(spec.QueuePolicy{MaxParallel: 1}))))
		first := f.release(alice, def, "1") // qa's one slot is its
		if f.job(f.deployment(first.ID, "qa").ID) == nil {
			t.Fatal("the first release's qa deployment has no job")
		}
		queued := 0
		backlog := func(n int) {
			t.Helper()
			ctx := f.ctx
			for start := queued; start < n; start += 200 {
				end := min(n, start+200)
				rels := make([]*ent.ReleaseCreate, 0, end-start)
				for i := start; i < end; i++ {
					rels = append(rels, f.c.Release.Create().SetName(fmt.Sprintf("backlog-%d", i)).SetNumber(-1-i).
						SetDefinitionRevision(first.DefinitionRevision).SetSnapshot(first.Snapshot).
						SetReason(release.ReasonCONTINUOUS_INTEGRATION).SetCreatedBy("ci:jenkins").SetDefinitionID(def))
				}
				rs, err := f.c.Release.CreateBulk(rels...).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var envs []*ent.ReleaseEnvironmentCreate
				for _, r := range rs {
					for rank, name := range []string{"dev", "qa"} {
						envs = append(envs, f.c.ReleaseEnvironment.Create().SetReleaseID(r.ID).SetDefinitionID(def).
							SetName(name).SetRank(rank+1).SetStatus(releaseenvironment.StatusQUEUED))
					}
				}
				res, err := f.c.ReleaseEnvironment.CreateBulk(envs...).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var deps []*ent.DeploymentCreate
				for _, re := range res {
					deps = append(deps, f.c.Deployment.Create().SetAttempt(1).SetOperation(deployment.OperationDEPLOY).
						SetStatus(deployment.StatusQUEUED).SetRequestedBy("system").SetAutomatic(true).
						SetEnvironmentName(re.Name).SetReleaseID(re.ReleaseID).SetReleaseEnvironmentID(re.ID).
						SetDefinitionID(def).SetQueuedAt(f.clk.Now()))
				}
				ds, err := f.c.Deployment.CreateBulk(deps...).Save(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var jobs []*ent.JobCreate
				for _, d := range ds {
					if d.EnvironmentName == "dev" { // in flight; qa's wait for the slot
						jobs = append(jobs, f.c.Job.Create().SetDeploymentID(d.ID).SetStatus(job.StatusQUEUED).
							SetSpec(spec.JobSpec{Tasks: []spec.Task{{Name: "deploy", Script: "true"}}}).SetQueuedAt(f.clk.Now()))
					}
				}
				if err := f.c.Job.CreateBulk(jobs...).Exec(ctx); err != nil {
					t.Fatal(err)
				}
			}
			queued = n
		}
		var stmts, args []int64
		for _, n := range []int{0, 100, 1000} {
			backlog(n)
			cost.reset()
			rel, err := counted.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{
				DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: fmt.Sprint(n + 2), BuildID: fmt.Sprint(n + 2)}},
			})
			if err != nil {
				t.Fatal(err)
			}
			stmts, args = append(stmts, cost.stmts.Load()), append(args, cost.args.Load())
			if f.job(f.deployment(rel.ID, "dev").ID) == nil || f.job(f.deployment(rel.ID, "qa").ID) != nil || f.state(rel.ID, "qa") != "QUEUED/QUEUED" {
				t.Fatalf("with %d queued: dev has no job or qa is %s", n, f.state(rel.ID, "qa"))
			}
		}
		t.Logf("createRelease with 0, 100, 1000 queued: %v statements, %v bound values", stmts, args)
		if stmts[1] != stmts[0] || stmts[2] != stmts[0] || args[1] != args[0] || args[2] != args[0] {
			t.Fatalf("createRelease grows with the backlog: %v statements, %v bound values for 0, 100, 1000 queued", stmts, args)
		}
	})
}

// TestCreateReleaseStatements pins what creating a release of three AFTER_RELEASE environments
// (automated approvals, each deployment queued with a job that no agent takes, as in
// `cmd/bench -only write`) sends: at most createReleaseStatements statements, transactions and
// sealing included, and on SQLite no statement whose plan scans a table that grows with the
// releases (every read is a search by an index).
func TestCreateReleaseStatements(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		f := newFixture(t, db)
		cost := &sqlCost{}
		counted := delivery.New(ent.NewClient(ent.Driver(costDriver{Driver: entsql.OpenDB(string(db.Dialect), db.SQL), c: cost})),
			delivery.Options{Dialect: db.Dialect, Clock: f.clk, Bus: f.bus})
		alice := f.user("alice", "EDITOR")
		def := f.definition(snapshot("web",
			environment("dev", afterRelease), environment("qa", afterRelease), environment("prod", afterRelease)))
		var last []sentStmt
		for i := range 3 {
			cost.reset()
			cost.keep.Store(true)
			rel, err := counted.CreateRelease(f.ctx, alice, delivery.CreateReleaseInput{
				DefinitionID: def, Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: fmt.Sprint(i + 1), BuildID: fmt.Sprint(i + 1)}},
			})
			cost.keep.Store(false)
			if err != nil {
				t.Fatal(err)
			}
			for _, env := range []string{"dev", "qa", "prod"} {
				if f.job(f.deployment(rel.ID, env).ID) == nil {
					t.Fatalf("release %d: %s has no job (%s)", i+1, env, f.state(rel.ID, env))
				}
			}
			cost.mu.Lock()
			last = cost.log
			cost.mu.Unlock()
		}
		for i, s := range last {
			t.Logf("%3d %s %v", i+1, s.q, s.args)
		}
		if n, most := len(last), createReleaseStatements[db.Dialect]; n > most {
			t.Errorf("creating a release of three AFTER_RELEASE environments sent %d statements, more than %d", n, most)
		}
		f.verifyChain()
		if db.Dialect != delivery.SQLite {
			return
		}
		for _, s := range last {
			verb := strings.ToUpper(strings.Fields(s.q)[0])
			if verb != "SELECT" && verb != "UPDATE" && verb != "DELETE" {
				continue
			}
			plan := storagetest.SQLitePlan(t, db, s.q, s.args...)
			for _, step := range plan {
				if strings.Contains(step, "_unsealed") {
					continue // the partial index of the sealer's rows: only they are read
				}
				if table := scannedTable(step); table != "" {
					t.Errorf("%s\nscans %s: %s", s.q, table, strings.Join(plan, "; "))
				}
			}
		}
	})
}

// createReleaseStatements is what TestCreateReleaseStatements allows: it was 157 on SQLite and
// 101 on PostgreSQL (where the sealer's updates are one statement per table), before the
// definition and its freeze windows were read once per release, forwardOnly decided once per
// deployment, events inserted together, updates no longer read back, and a deployment created
// in the transaction no longer read again, and the queue policy taken from the snapshot at
// hand (59 and 62); then the release counter was moved on without reading the definition back,
// the authorization before the transaction kept for releases whose versions the CI server is
// asked about, and the PostgreSQL sealer made three statements after its lock (seven before):
// 55 and 54; then a new deployment's operation and forward-only decisions shared one read (three
// before), and its environment's PENDING_APPROVAL was not written when its approvals need nobody.
// Then the artifact was stored PENDING enrichment (not marked and read back), and the writes to
// rows only the transaction sees (its new environments' statuses, its new deployments'
// queued_at, their automated approvals) stored together: 38 and 36; then the release counter's
// update also read the definition's highest release number, so that a release numbered above
// every other needs no read of what its environments run (landedOf): 35 and 33, of which the definition's lock covers the numbering
// to the commit (it is taken with the release counter's update on PostgreSQL).
// Then, on PostgreSQL, the release's row was stored before its numbering (placeholder number and
// name) and numbered by an update that also checks the name (the name's read before: the same
// count, four statements fewer under the lock), and a new deployment's move to QUEUED written
// by the queue's read of its waiting deployments (one statement instead of two), and, when the
// release name is the number between fixed strings (the default), the numbering, naming and the
// name's check made by the statement that takes the definition's lock: 35 and 29; then, on
// PostgreSQL, the audit rows inserted with the events just before commit (one statement): 28, of
// which 13 and the commit under the definition's lock (22 before these cuts).
// Then, on PostgreSQL, the triggered deployments, their jobs and automated approvals built in
// memory with ids taken by the statement that takes the lock, and inserted once with the
// environments' statuses, the audit rows and the events (held.go), and the waiting deployments
// of every triggered environment read by one statement: 18, of which 3 and the commit under the
// definition's lock. Then, on PostgreSQL, the waiting deployments read by the statement that
// takes the lock (waitingFunc): 17, of which 2 and the commit under the lock.
// On SQLite the transaction seals its own rows.
var createReleaseStatements = map[delivery.Dialect]int{delivery.SQLite: 35, delivery.Postgres: 17}

// scannedTable returns the growing table (growingTables) a plan step scans, or "".
func scannedTable(step string) string {
	for _, table := range growingTables {
		if strings.HasPrefix(step, "SCAN "+table) && (len(step) == len("SCAN "+table) || step[len("SCAN "+table)] == ' ') {
			return table
		}
	}
	return ""
}

// growingTables grow with releases, deployments, audit rows and events: no statement of
// createRelease may scan one.
var growingTables = []string{"releases", "release_environments", "release_artifacts", "deployments", "jobs",
	"approvals", "events", "audit_events", "timers", "notifications", "manual_interventions", "users", "group_members"}
