package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/storage"
)

// benchScale measures what grows with data: audit queries and a page of releases at a small and
// a large number of releases (the same queries with the indexes of the previous schema, for
// comparison), and a job with a long log: the download (text, gzip, a range, one step), jobLogs
// pages, and catching up over the deploymentLog subscriptions, each beside a bare read of the
// same rows.
//
// The releases are written directly with ent's bulk inserts (a bench setup: a release, its
// environment, a deployment and three audit events each, as the engine would leave them; the
// audit rows continue the sequence but their hashes are placeholders, so verifyAuditChain fails
// on a bench database). The long log is a real job: an agent runs `seq 1 N`.
func benchScale(ctx context.Context, e *env, o options, r *report) error {
	bare, err := openBare(ctx, e)
	if err != nil {
		return err
	}
	defer bare.Close()
	f := &filler{c: bare.Client, base: time.Now().UTC().Add(-time.Duration(o.scaleReleases) * time.Second)}
	defID, err := e.createDefinition(`{name: "scale", environments: [{name: "dev", trigger: {kind: MANUAL},
	  job: {skipArtifactDownload: true, tasks: [{name: "t", shell: "bash", script: "true"}]}}]}`)
	if err != nil {
		return err
	}
	if f.defID, err = strconv.Atoi(defID); err != nil {
		return err
	}
	var stages []int
	for _, n := range []int{o.scaleSmall, o.scaleReleases} {
		if n > 0 && (len(stages) == 0 || n > stages[len(stages)-1]) {
			stages = append(stages, n)
		}
	}
	results := make([][]measured, len(stages))
	for i, n := range stages {
		progress(fmt.Sprintf("scale: filling %d releases", n))
		t0 := time.Now()
		before := f.n
		if err := f.fill(ctx, n); err != nil {
			return fmt.Errorf("filling releases: %w", err)
		}
		r.note("Scale fill: releases %d → %d (%d audit rows) written in %s by ent bulk inserts (%d rows per statement, %d releases per transaction; `filler` in cmd/bench/scale.go).",
			before, n, 3*(n-before), time.Since(t0).Round(time.Millisecond), fillRows, fillBatch)
		if e.databaseURL != "" {
			// A bulk load leaves PostgreSQL's statistics behind until autovacuum's analyze.
			if _, err := bare.SQL.ExecContext(ctx, "ANALYZE"); err != nil {
				return err
			}
		}
		progress(fmt.Sprintf("scale: queries at %d releases", n))
		if results[i], err = measureQueries(ctx, e, bare, f); err != nil {
			return err
		}
	}
	last := len(stages) - 1
	progress("scale: the same queries with the previous schema's audit indexes")
	old, err := withPreviousAuditIndexes(ctx, bare, func() ([]measured, error) { return measureQueries(ctx, e, bare, f) })
	if err != nil {
		return err
	}
	for k, m := range results[last] {
		small := results[0][k]
		flat := m.d <= small.d*3/2+500*time.Microsecond
		value := fmt.Sprintf("%s at %d releases; %s at %d", ms(small.d), stages[0], ms(m.d), stages[last])
		if len(stages) == 1 {
			value = fmt.Sprintf("%s at %d releases", ms(m.d), stages[last])
		}
		target, verdictText := "", ""
		if m.audit && !m.grows && len(stages) > 1 {
			target, verdictText = "flat (≤ 1.5× + 0.5 ms)", verdict(flat)
		}
		value += fmt.Sprintf(" (previous indexes: %s)", ms(old[k].d))
		if !m.audit {
			value = strings.TrimSuffix(value, fmt.Sprintf(" (previous indexes: %s)", ms(old[k].d)))
		}
		r.add(row{metric: m.what + fmt.Sprintf(" (%d rows), median of %d", m.rows, queryRuns), value: value,
			floor: m.floorWhat + " " + ms(m.floor), ratio: ratio(float64(m.d), float64(m.floor)), target: target, verdict: verdictText})
	}
	r.note("Scale queries: GraphQL over HTTP as admin (request, execution, JSON both ways), median of %d after one warm-up; the floor is the same rows read with one bare SQL statement by primary key through database/sql (for counts, the bare COUNT). \"Previous indexes\" is the same run with the audit table's indexes of the schema before this change ((target_type, target_id), (actor), (time)).", queryRuns)
	if o.scaleLines <= 0 {
		return nil
	}
	return benchLongLog(ctx, e, bare, o.scaleLines, r)
}

// openBare opens a second handle on the server's database for the bare floors.
func openBare(ctx context.Context, e *env) (*storage.DB, error) {
	if e.databaseURL != "" {
		return storage.OpenPostgres(ctx, e.databaseURL, storage.MinPostgresConns)
	}
	return storage.OpenSQLite(ctx, filepath.Join(e.dir, "cairn.db"))
}

// fillBatch is how many releases the filler writes per transaction; fillRows is how many rows
// go in one INSERT: modernc.org/sqlite binds a statement's parameters in time quadratic in their
// number (a profile of 500-row inserts spent 72% of the fill in (*conn).bind), so statements
// stay small.
const (
	fillBatch = 500
	fillRows  = 50
)

// inChunks calls save for consecutive slices of at most fillRows of bs.
func inChunks[T any, R any](bs []T, save func([]T) ([]R, error)) ([]R, error) {
	var out []R
	for len(bs) > 0 {
		n := min(fillRows, len(bs))
		r, err := save(bs[:n])
		if err != nil {
			return nil, err
		}
		out, bs = append(out, r...), bs[n:]
	}
	return out, nil
}

// filler writes releases of one definition directly, fillBatch per transaction.
type filler struct {
	c     *ent.Client
	defID int
	n     int
	base  time.Time
	// relIDs, depIDs and times of the releases written, by number − 1.
	relIDs, depIDs []int
	times          []time.Time
}

func fillActor(i int) string {
	switch i % 10 {
	case 0:
		return "alice"
	case 1:
		return "ci:jenkins"
	}
	return "bench"
}

func (f *filler) fill(ctx context.Context, upto int) error {
	last, err := f.c.AuditEvent.Query().Order(ent.Desc(auditevent.FieldSequence)).First(ctx)
	if err != nil {
		return err
	}
	seq := last.Sequence
	snap := spec.DefinitionSnapshot{Name: "scale", ReleaseNameFormat: "Release-$(rev:r)",
		Environments: []spec.EnvironmentSpec{{Name: "dev", Trigger: spec.Trigger{Kind: spec.TriggerManual}}}}
	for f.n < upto {
		k := min(fillBatch, upto-f.n)
		tx, err := f.c.Tx(ctx)
		if err != nil {
			return err
		}
		err = func() error {
			rels := make([]*ent.ReleaseCreate, k)
			for i := range k {
				num := f.n + i + 1
				rels[i] = tx.Release.Create().SetName(fmt.Sprintf("Release-%d", num)).SetNumber(num).SetDefinitionRevision(1).
					SetSnapshot(snap).SetReason(release.ReasonMANUAL).SetCreatedBy(fillActor(num)).SetDefinitionID(f.defID)
			}
			rs, err := inChunks(rels, func(b []*ent.ReleaseCreate) ([]*ent.Release, error) { return tx.Release.CreateBulk(b...).Save(ctx) })
			if err != nil {
				return err
			}
			envs := make([]*ent.ReleaseEnvironmentCreate, k)
			for i, rel := range rs {
				envs[i] = tx.ReleaseEnvironment.Create().SetName("dev").SetRank(1).SetReleaseID(rel.ID).
					SetDefinitionID(f.defID).SetStatus(releaseenvironment.StatusSUCCEEDED)
			}
			es, err := inChunks(envs, func(b []*ent.ReleaseEnvironmentCreate) ([]*ent.ReleaseEnvironment, error) {
				return tx.ReleaseEnvironment.CreateBulk(b...).Save(ctx)
			})
			if err != nil {
				return err
			}
			deps := make([]*ent.DeploymentCreate, k)
			for i, rel := range rs {
				deps[i] = tx.Deployment.Create().SetAttempt(1).SetOperation(deployment.OperationDEPLOY).
					SetStatus(deployment.StatusSUCCEEDED).SetRequestedBy(fillActor(f.n + i + 1)).SetEnvironmentName("dev").
					SetReleaseID(rel.ID).SetReleaseEnvironmentID(es[i].ID).SetDefinitionID(f.defID)
			}
			ds, err := inChunks(deps, func(b []*ent.DeploymentCreate) ([]*ent.Deployment, error) {
				return tx.Deployment.CreateBulk(b...).Save(ctx)
			})
			if err != nil {
				return err
			}
			audits := make([]*ent.AuditEventCreate, 0, 3*k)
			for i, rel := range rs {
				num := f.n + i + 1
				at := f.base.Add(time.Duration(num) * time.Second)
				for _, a := range []struct {
					action, typ string
					id          int
				}{{"release.create", "release", rel.ID}, {"deployment.create", "deployment", ds[i].ID}, {"environment.succeed", "releaseEnvironment", es[i].ID}} {
					seq++
					audits = append(audits, tx.AuditEvent.Create().SetSequence(seq).SetTime(at).SetActor(fillActor(num)).
						SetAction(a.action).SetTargetType(a.typ).SetTargetID(strconv.Itoa(a.id)).
						SetAfter(`{"name":"`+rel.Name+`"}`).SetPrevHash("bench").SetHash("bench"))
				}
				f.relIDs = append(f.relIDs, rel.ID)
				f.depIDs = append(f.depIDs, ds[i].ID)
				f.times = append(f.times, at)
			}
			_, err = inChunks(audits, func(b []*ent.AuditEventCreate) ([]*ent.AuditEvent, error) {
				return tx.AuditEvent.CreateBulk(b...).Save(ctx)
			})
			return err
		}()
		if err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		f.n += k
	}
	return nil
}

// queryRuns is how many times each scale query runs (after one warm-up).
const queryRuns = 20

// measured is one scale query's median and its floor.
type measured struct {
	what, floorWhat string
	audit           bool
	// grows is set for a count whose matching rows grow with the data (no flat target).
	grows    bool
	rows     int
	d, floor time.Duration
}

// medianOf runs fn once to warm up, then n times, and returns the median.
func medianOf(n int, fn func() error) (time.Duration, error) {
	if err := fn(); err != nil {
		return 0, err
	}
	var d dist
	for range n {
		t0 := time.Now()
		if err := fn(); err != nil {
			return 0, err
		}
		d = append(d, time.Since(t0))
	}
	return d.pct(.5), nil
}

// measureQueries runs the audit and release queries on the data filled so far.
func measureQueries(ctx context.Context, e *env, bare *storage.DB, f *filler) ([]measured, error) {
	mid := f.n / 2
	target := strconv.Itoa(f.depIDs[mid])
	from, to := f.times[max(f.n-100, 0)], f.times[f.n-1].Add(time.Second)
	const node = `edges { node { id sequence time actor action targetType targetID } }`
	type query struct {
		what, q string
		vars    map[string]any
	}
	audit := []query{
		{"auditEvents by target (targetID, first 50)", `query($t: String!) { auditEvents(first: 50, where: {targetID: $t}) { ` + node + ` } }`, map[string]any{"t": target}},
		{"auditEvents by target (targetType and targetID, first 50)", `query($t: String!) { auditEvents(first: 50, where: {targetType: "deployment", targetID: $t}) { ` + node + ` } }`, map[string]any{"t": target}},
		{"auditEvents by target type (first 50)", `{ auditEvents(first: 50, where: {targetType: "deployment"}) { ` + node + ` } }`, nil},
		{"auditEvents by actor (alice: a tenth of the events, first 50)", `{ auditEvents(first: 50, where: {actor: "alice"}) { ` + node + ` } }`, nil},
		{"auditEvents by action (a third of the events, first 50)", `{ auditEvents(first: 50, where: {action: "deployment.create"}) { ` + node + ` } }`, nil},
		{"auditEvents by actor and action (first 50)", `{ auditEvents(first: 50, where: {actor: "alice", action: "release.create"}) { ` + node + ` } }`, nil},
		{"auditEvents in a time window (the last 100 releases' 300 events, first 50, by sequence)", `query($a: Time!, $b: Time!) { auditEvents(first: 50, where: {timeGTE: $a, timeLT: $b}) { ` + node + ` } }`, map[string]any{"a": from, "b": to}},
		{"auditEvents in the same window ordered by TIME (first 50)", `query($a: Time!, $b: Time!) { auditEvents(first: 50, orderBy: {field: TIME, direction: DESC}, where: {timeGTE: $a, timeLT: $b}) { ` + node + ` } }`, map[string]any{"a": from, "b": to}},
	}
	var out []measured
	for _, q := range audit {
		var res struct {
			AuditEvents struct {
				Edges []struct{ Node struct{ ID string } }
			} `json:"auditEvents"`
		}
		d, err := medianOf(queryRuns, func() error { return e.gql(q.q, q.vars, &res) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", q.what, err)
		}
		var ids []string
		for _, ed := range res.AuditEvents.Edges {
			ids = append(ids, ed.Node.ID)
		}
		if len(ids) == 0 {
			return nil, fmt.Errorf("%s: no rows", q.what)
		}
		floor, err := medianOf(queryRuns, func() error {
			return bareRows(ctx, bare.SQL, "SELECT id, sequence, time, actor, on_behalf_of, action, target_type, target_id, before, after, prev_hash, hash FROM audit_events WHERE id IN ("+strings.Join(ids, ",")+")", len(ids))
		})
		if err != nil {
			return nil, err
		}
		out = append(out, measured{what: q.what, floorWhat: "bare read by id", audit: true, rows: len(ids), d: d, floor: floor})
	}
	// Counts.
	for _, c := range []struct {
		what, q, bare string
		vars          map[string]any
		args          []any
		grows         bool
	}{
		{"auditEvents { totalCount } by target", `query($t: String!) { auditEvents(where: {targetID: $t}) { totalCount } }`, "SELECT COUNT(*) FROM audit_events WHERE target_id = " + ph(bare, 1), map[string]any{"t": target}, []any{target}, false},
		{"auditEvents { totalCount } by actor", `{ auditEvents(where: {actor: "alice"}) { totalCount } }`, "SELECT COUNT(*) FROM audit_events WHERE actor = 'alice'", nil, nil, true},
	} {
		var res struct {
			AuditEvents struct{ TotalCount int } `json:"auditEvents"`
		}
		d, err := medianOf(queryRuns, func() error { return e.gql(c.q, c.vars, &res) })
		if err != nil {
			return nil, fmt.Errorf("%s: %w", c.what, err)
		}
		floor, err := medianOf(queryRuns, func() error { return bareRows(ctx, bare.SQL, c.bare, 1, c.args...) })
		if err != nil {
			return nil, err
		}
		out = append(out, measured{what: c.what, floorWhat: "bare COUNT", audit: true, grows: c.grows, rows: res.AuditEvents.TotalCount, d: d, floor: floor})
	}
	// A page of releases with their environments (reads the issue found flat; kept as a check).
	var rel struct {
		Releases struct {
			Edges []struct{ Node struct{ ID string } }
		} `json:"releases"`
	}
	d, err := medianOf(queryRuns, func() error {
		return e.gql(`{ releases(first: 50) { edges { node { id name status environments { id name status } } } } }`, nil, &rel)
	})
	if err != nil {
		return nil, fmt.Errorf("releases: %w", err)
	}
	var ids []string
	for _, ed := range rel.Releases.Edges {
		ids = append(ids, ed.Node.ID)
	}
	floor, err := medianOf(queryRuns, func() error {
		return bareRows(ctx, bare.SQL, "SELECT r.id, r.name, r.status, e.id, e.name, e.status FROM releases r JOIN release_environments e ON e.release_id = r.id WHERE r.id IN ("+strings.Join(ids, ",")+")", -1)
	})
	if err != nil {
		return nil, err
	}
	out = append(out, measured{what: "releases(first: 50) with environments", floorWhat: "bare join by id", rows: len(ids), d: d, floor: floor})
	// The same page with each environment's deployments (issue 30, point 5: p50 < 10 ms on
	// PostgreSQL with 5,000 releases; the statements are constant, graph/querycount_test.go).
	d, err = medianOf(queryRuns, func() error {
		return e.gql(`{ releases(first: 50) { edges { node { id name status environments { id name status
		  deployments { id status attempt } } } } } }`, nil, &rel)
	})
	if err != nil {
		return nil, fmt.Errorf("releases with deployments: %w", err)
	}
	floor, err = medianOf(queryRuns, func() error {
		return bareRows(ctx, bare.SQL, "SELECT r.id, r.name, r.status, e.id, e.name, e.status, d.id, d.status, d.attempt FROM releases r"+
			" JOIN release_environments e ON e.release_id = r.id LEFT JOIN deployments d ON d.release_environment_id = e.id"+
			" WHERE r.id IN ("+strings.Join(ids, ",")+")", -1)
	})
	if err != nil {
		return nil, err
	}
	out = append(out, measured{what: "releases(first: 50) with environments and deployments", floorWhat: "bare join by id", rows: len(ids), d: d, floor: floor})
	return out, nil
}

// ph is the n-th statement placeholder of bare's dialect.
func ph(bare *storage.DB, n int) string {
	if bare.Dialect == "postgres" {
		return "$" + strconv.Itoa(n)
	}
	return "?"
}

// bareRows runs a query and reads every column of every row; want ≥ 0 checks the row count.
func bareRows(ctx context.Context, db *sql.DB, q string, want int, args ...any) error {
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	n := 0
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if want >= 0 && n != want {
		return fmt.Errorf("%d rows, want %d", n, want)
	}
	return nil
}

// withPreviousAuditIndexes runs fn with the audit table's indexes as the previous schema had
// them, then puts this schema's back.
func withPreviousAuditIndexes(ctx context.Context, bare *storage.DB, fn func() ([]measured, error)) ([]measured, error) {
	current := map[string]string{
		"auditevent_target_id_target_type_sequence": "target_id, target_type, sequence",
		"auditevent_target_type_sequence":           "target_type, sequence",
		"auditevent_actor_sequence":                 "actor, sequence",
		"auditevent_action_sequence":                "action, sequence",
	}
	previous := map[string]string{"auditevent_target_type_target_id": "target_type, target_id", "auditevent_actor": "actor"}
	swap := func(drop, create map[string]string) error {
		for name := range drop {
			if _, err := bare.SQL.ExecContext(ctx, "DROP INDEX "+name); err != nil {
				return err
			}
		}
		for name, cols := range create {
			if _, err := bare.SQL.ExecContext(ctx, "CREATE INDEX "+name+" ON audit_events ("+cols+")"); err != nil {
				return err
			}
		}
		if bare.Dialect == "postgres" {
			_, err := bare.SQL.ExecContext(ctx, "ANALYZE audit_events")
			return err
		}
		return nil
	}
	if err := swap(current, previous); err != nil {
		return nil, fmt.Errorf("previous indexes: %w", err)
	}
	out, err := fn()
	if err2 := swap(previous, current); err2 != nil && err == nil {
		err = fmt.Errorf("restoring indexes: %w", err2)
	}
	return out, err
}

// heapPeak samples the live heap (as of the last GC's mark: what is retained, not garbage
// waiting for the next cycle) every 2 ms until stop is called, which returns the peak growth
// over the live heap at the start (after a GC).
func heapPeak() (stop func() uint64) {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	base := read()
	var peak atomic.Uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				if v := read(); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		if p := peak.Load(); p > base {
			return p - base
		}
		return 0
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// logCheck counts the bytes and lines of a downloaded `seq` log and keeps its last line.
type logCheck struct {
	bytes, lines int64
	tail         []byte
}

func (c *logCheck) Write(p []byte) (int, error) {
	c.bytes += int64(len(p))
	c.lines += int64(bytes.Count(p, []byte{'\n'}))
	c.tail = append(c.tail, p[max(len(p)-32, 0):]...)
	c.tail = c.tail[max(len(c.tail)-32, 0):]
	return len(p), nil
}

// lastLine is the last line of what was written (without its newline).
func (c *logCheck) lastLine() string {
	s := strings.TrimSuffix(string(c.tail), "\n")
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// seqBytes is the size of `seq 1 n`'s output.
func seqBytes(from, n int) int64 {
	var b int64
	for i := from; i <= n; i++ {
		b += int64(len(strconv.Itoa(i))) + 1
	}
	return b
}

// benchLongLog runs a job that prints `seq 1 n` and measures reading its log back.
func benchLongLog(ctx context.Context, e *env, bare *storage.DB, n int, r *report) error {
	progress(fmt.Sprintf("scale: a job printing %d lines", n))
	def, err := e.createDefinition(`{name: "long-log", variables: [{name: "LINES", value: ` + strconv.Quote(strconv.Itoa(n)) + `}],
	  environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, job: {skipArtifactDownload: true, tasks: [{name: "print", shell: "bash", script: "seq 1 \"$LINES\""}]}}]}`)
	if err != nil {
		return err
	}
	t0 := time.Now()
	relID, err := e.createRelease(def)
	if err != nil {
		return err
	}
	rid, _ := strconv.Atoi(relID)
	var j *ent.Job
	err = e.waitFor(ctx, func() bool {
		var dep *ent.Deployment
		if dep, err = e.srv.Engine.Client().Deployment.Query().Where(deployment.ReleaseID(rid)).Only(ctx); err != nil {
			return false
		}
		j, err = e.srv.Engine.Client().Job.Query().Where(job.DeploymentID(dep.ID)).Only(ctx)
		return err == nil && (j.Status == job.StatusSUCCEEDED || j.Status == job.StatusFAILED)
	})
	if err != nil {
		return err
	}
	if j.Status != job.StatusSUCCEEDED || j.LogSeq != int64(n) {
		return fmt.Errorf("long-log job: %s with %d lines", j.Status, j.LogSeq)
	}
	var chunks, stored int64
	if err := bare.SQL.QueryRowContext(ctx, "SELECT COUNT(*), SUM(LENGTH(lines)) FROM log_chunks WHERE job_id = "+strconv.Itoa(j.ID)).Scan(&chunks, &stored); err != nil {
		return err
	}
	r.note("Long log: `seq 1 %d` run by the agent in %s (release to job finished), stored in %d chunks, %.1f MB of JSON for %.1f MB of text.",
		n, time.Since(t0).Round(time.Millisecond), chunks, float64(stored)/1e6, float64(seqBytes(1, n))/1e6)

	// Floor: the chunks read by a bare statement.
	progress("scale: log floors and downloads")
	floor, err := medianOf(3, func() error {
		rows, err := bare.SQL.QueryContext(ctx, "SELECT first_seq, last_seq, lines FROM log_chunks WHERE job_id = "+ph(bare, 1)+" ORDER BY first_seq", j.ID)
		if err != nil {
			return err
		}
		defer rows.Close()
		var total int64
		for rows.Next() {
			var a, b int64
			var lines []byte
			if err := rows.Scan(&a, &b, &lines); err != nil {
				return err
			}
			total += int64(len(lines))
		}
		if total != stored {
			return fmt.Errorf("bare read %d bytes, want %d", total, stored)
		}
		return rows.Err()
	})
	if err != nil {
		return err
	}
	floorRate := float64(n) / floor.Seconds()
	r.floors = append(r.floors, row{metric: fmt.Sprintf("bare read of the long log's %d chunks (%.1f MB), one statement", chunks, float64(stored)/1e6),
		value: fmt.Sprintf("%s (%.0f lines/s)", ms(floor), floorRate)})

	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	download := func(query string, gz bool) (total, first time.Duration, c *logCheck, wire int64, heap uint64, err error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/logs/deployments/%d%s", e.http.URL, j.DeploymentID, query), nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		if gz {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		stop := heapPeak()
		t0 := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			stop()
			return 0, 0, nil, 0, 0, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 {
			stop()
			b, _ := io.ReadAll(resp.Body)
			return 0, 0, nil, 0, 0, fmt.Errorf("download %s: %d %s", query, resp.StatusCode, b)
		}
		first = time.Since(t0)
		c = &logCheck{}
		var raw bytes.Buffer
		var dst io.Writer = c
		if gz {
			dst = &raw
		}
		wire, err = io.Copy(dst, resp.Body)
		total = time.Since(t0)
		heap = stop()
		if err != nil {
			return 0, 0, nil, 0, 0, err
		}
		if gz {
			if resp.Header.Get("Content-Encoding") != "gzip" {
				return 0, 0, nil, 0, 0, errors.New("no gzip although accepted")
			}
			zr, err := gzip.NewReader(&raw)
			if err != nil {
				return 0, 0, nil, 0, 0, err
			}
			if _, err := io.Copy(c, zr); err != nil {
				return 0, 0, nil, 0, 0, err
			}
		}
		return total, first, c, wire, heap, nil
	}
	type dl struct {
		what, query string
		gz          bool
		from        int
		runs        int
		target      string
		ok          func(time.Duration) bool
	}
	for _, d := range []dl{
		{"download `/logs/deployments/{id}`, whole log as text", "", false, 1, 5, "well under 2 s, memory flat", func(t time.Duration) bool { return t < 2*time.Second }},
		{"download, whole log, gzip (Accept-Encoding: gzip)", "", true, 1, 5, "well under 2 s", func(t time.Duration) bool { return t < 2*time.Second }},
		{"download, one step (`?step=1`: every line of this job)", "?step=1", false, 1, 3, "", nil},
		{"download, one step that has no line (`?step=0`: the whole log is read and filtered)", "?step=0", false, n + 1, 3, "", nil},
		{fmt.Sprintf("download, the last 1,000 lines (`?fromSeq=%d`)", max(n-999, 1)), fmt.Sprintf("?fromSeq=%d", max(n-999, 1)), false, max(n-999, 1), 20, "", nil},
	} {
		var totals, firsts dist
		var c *logCheck
		var wire int64
		var heap uint64
		for range d.runs {
			t, f, cc, w, h, err := download(d.query, d.gz)
			if err != nil {
				return err
			}
			totals, firsts, c, wire, heap = append(totals, t), append(firsts, f), cc, w, max(heap, h)
		}
		want := seqBytes(d.from, n)
		if d.query == "?step=0" {
			want = 0
		}
		if c.bytes != want || (want > 0 && c.lastLine() != strconv.Itoa(n)) {
			return fmt.Errorf("%s: %d bytes ending %q, want %d", d.what, c.bytes, c.lastLine(), want)
		}
		t := totals.pct(.5)
		value := fmt.Sprintf("%s (first byte %s; %.0f lines/s; peak heap growth %s)", ms(t), ms(firsts.pct(.5)), float64(c.lines)/t.Seconds(), mib(heap))
		if d.gz {
			value = fmt.Sprintf("%s (%.1f MB on the wire; peak heap growth %s)", ms(t), float64(wire)/1e6, mib(heap))
		}
		if c.lines == 0 {
			value = fmt.Sprintf("%s (no line; peak heap growth %s)", ms(t), mib(heap))
		}
		vt := ""
		if d.ok != nil {
			vt = verdict(d.ok(t) && heap < 64<<20)
		}
		r.add(row{metric: fmt.Sprintf("%s, %d lines, median of %d", d.what, c.lines, d.runs), value: value,
			floor: "bare read " + ms(floor), ratio: ratio(float64(t), float64(floor)), target: d.target, verdict: vt})
	}

	// jobLogs in pages of 10,000.
	progress("scale: jobLogs pages and subscriptions")
	t1 := time.Now()
	got := 0
	for from := 1; from <= n; {
		var page struct {
			JobLogs []struct {
				Seq  int    `json:"seq"`
				Text string `json:"text"`
			} `json:"jobLogs"`
		}
		if err := e.gql(`query($j: ID!, $f: Int64!) { jobLogs(jobId: $j, fromSeq: $f, limit: 10000) { seq text } }`, map[string]any{"j": j.ID, "f": from}, &page); err != nil {
			return err
		}
		if len(page.JobLogs) == 0 || page.JobLogs[0].Seq != from {
			return fmt.Errorf("jobLogs from %d: %d lines", from, len(page.JobLogs))
		}
		got += len(page.JobLogs)
		from = page.JobLogs[len(page.JobLogs)-1].Seq + 1
	}
	pages := time.Since(t1)
	if got != n {
		return fmt.Errorf("jobLogs: %d lines", got)
	}
	r.add(row{metric: fmt.Sprintf("`jobLogs` in pages of 10,000 (%d requests), every line", (n+9999)/10000), value: fmt.Sprintf("%s (%.0f lines/s)", ms(pages), float64(n)/pages.Seconds()),
		floor: "bare read " + ms(floor), ratio: ratio(float64(pages), float64(floor))})

	// Catching up over the subscriptions.
	for _, s := range []struct {
		what, query, field string
		target             string
	}{
		{"`deploymentLog` from seq 1 (one line per message, the existing shape)", `subscription($d: ID!) { deploymentLog(deploymentId: $d, fromSeq: 1) { seq text } }`, "deploymentLog", ""},
		{"`deploymentLogBatches` from seq 1, `maxLines: 1000`, `lines { seq text }`", `subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, maxLines: 1000) { fromSeq lastSeq lines { seq text } } }`, "lines", "≥ 200,000 lines/s"},
		{"`deploymentLogBatches` from seq 1, `maxLines: 1000`, `fromSeq lastSeq texts` (a list of strings)", `subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, maxLines: 1000) { fromSeq lastSeq texts } }`, "texts", "≥ 200,000 lines/s"},
		{"`deploymentLogBatches` from seq 1, `maxLines: 10000`, `fromSeq lastSeq texts`", `subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, maxLines: 10000) { fromSeq lastSeq texts } }`, "texts", "≥ 200,000 lines/s"},
		{"`deploymentLogBatches` from seq 1, `maxLines: 1000`, `fromSeq lastSeq text` (the bulk field)", `subscription($d: ID!) { deploymentLogBatches(deploymentId: $d, maxLines: 1000) { fromSeq lastSeq text } }`, "text", "≥ 200,000 lines/s"},
	} {
		stop := heapPeak()
		d, msgs, err := catchUp(ctx, e, s.query, j.DeploymentID, s.field, n)
		heap := stop()
		if err != nil {
			return fmt.Errorf("%s: %w", s.what, err)
		}
		rate := float64(n) / d.Seconds()
		vt := ""
		if s.target != "" {
			vt = verdict(rate >= 200000)
		}
		r.add(row{metric: "catch-up over websocket: " + s.what + fmt.Sprintf(", %d lines, every line in order", n),
			value: fmt.Sprintf("%.0f lines/s (%s, %d messages; peak heap growth %s)", rate, d.Round(time.Millisecond), msgs, mib(heap)),
			floor: fmt.Sprintf("bare read %.0f lines/s", floorRate), ratio: fmt.Sprintf("%.2f of the floor", rate/floorRate), target: s.target, verdict: vt})
	}
	r.note("Long-log reads: the server, the agent and the client share the machine's cores; downloads are read by a Go client without transparent decompression (the gzip row is timed to the last compressed byte, then checked); every result is checked (byte count, last line, or every sequence number in order). Peak heap growth is the largest growth of the live heap (`/gc/heap/live:bytes`: retained at the last GC, not garbage awaiting collection) sampled every 2 ms (server and client are one process; the gzip row's client buffers the 2.3 MB it receives).")
	return nil
}

// catchUp subscribes over graphql-transport-ws and reads until complete, checking that lines
// 1..n arrive in order; it returns the time from subscribing to the last message and the number
// of messages.
func catchUp(ctx context.Context, e *env, query string, deploymentID int, field string, n int) (time.Duration, int, error) {
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.http.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		return 0, 0, err
	}
	defer conn.CloseNow()
	conn.SetReadLimit(8 << 20)
	write := func(v any) error {
		b, _ := json.Marshal(v)
		return conn.Write(ctx, websocket.MessageText, b)
	}
	if err := write(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + e.token}}); err != nil {
		return 0, 0, err
	}
	if _, b, err := conn.Read(ctx); err != nil || !strings.Contains(string(b), "connection_ack") {
		return 0, 0, fmt.Errorf("connection_init: %s %v", b, err)
	}
	t0 := time.Now()
	if err := write(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{"query": query, "variables": map[string]any{"d": deploymentID}}}); err != nil {
		return 0, 0, err
	}
	next, msgs := 1, 0
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return 0, 0, fmt.Errorf("after %d lines: %w", next-1, err)
		}
		var head struct {
			Type    string          `json:"type"`
			Payload json.RawMessage `json:"payload"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return 0, 0, err
		}
		if head.Type == "error" {
			return 0, 0, fmt.Errorf("subscription error: %s", head.Payload)
		}
		var m struct {
			Type    string `json:"type"`
			Payload struct {
				Data struct {
					DeploymentLog struct {
						Seq  int    `json:"seq"`
						Text string `json:"text"`
					} `json:"deploymentLog"`
					Batch struct {
						FromSeq int      `json:"fromSeq"`
						LastSeq int      `json:"lastSeq"`
						Text    string   `json:"text"`
						Texts   []string `json:"texts"`
						Lines   []struct {
							Seq  int    `json:"seq"`
							Text string `json:"text"`
						} `json:"lines"`
					} `json:"deploymentLogBatches"`
				} `json:"data"`
			} `json:"payload"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return 0, 0, err
		}
		switch m.Type {
		case "next":
			msgs++
			switch field {
			case "deploymentLog":
				l := m.Payload.Data.DeploymentLog
				if l.Seq != next || l.Text != strconv.Itoa(next) {
					return 0, 0, fmt.Errorf("line %d: %d %q", next, l.Seq, l.Text)
				}
				next++
			case "lines":
				for _, l := range m.Payload.Data.Batch.Lines {
					if l.Seq != next || l.Text != strconv.Itoa(next) {
						return 0, 0, fmt.Errorf("line %d: %d %q", next, l.Seq, l.Text)
					}
					next++
				}
			case "texts":
				bt := m.Payload.Data.Batch
				if bt.FromSeq != next || len(bt.Texts) != bt.LastSeq-bt.FromSeq+1 {
					return 0, 0, fmt.Errorf("batch from %d: %d–%d with %d texts", next, bt.FromSeq, bt.LastSeq, len(bt.Texts))
				}
				for _, t := range bt.Texts {
					if t != strconv.Itoa(next) {
						return 0, 0, fmt.Errorf("line %d: %q", next, t)
					}
					next++
				}
			case "text":
				bt := m.Payload.Data.Batch
				if bt.FromSeq != next || strings.Count(bt.Text, "\n") != bt.LastSeq-bt.FromSeq+1 ||
					!strings.HasPrefix(bt.Text, strconv.Itoa(next)+"\n") || !strings.HasSuffix(bt.Text, "\n"+strconv.Itoa(bt.LastSeq)+"\n") && bt.LastSeq != bt.FromSeq {
					return 0, 0, fmt.Errorf("batch from %d: %d–%d", next, bt.FromSeq, bt.LastSeq)
				}
				next = bt.LastSeq + 1
			}
		case "complete":
			d := time.Since(t0)
			if next != n+1 {
				return 0, 0, fmt.Errorf("complete after %d lines, want %d", next-1, n)
			}
			return d, msgs, nil
		case "ping":
			_ = write(map[string]any{"type": "pong"})
		case "pong":
		default:
			return 0, 0, errors.New("unexpected message " + string(b[:min(len(b), 200)]))
		}
	}
}
