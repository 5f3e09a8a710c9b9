package delivery

import (
	"context"
	stdsql "database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Held rows (PostgreSQL): a release's transaction creates, under its definition's lock, a
// deployment and a job per environment its creation triggers, with their automated approvals.
// Nobody else sees these rows before commit, and nothing in the transaction reads them back
// while their environments are triggered: each was a round trip under the lock (an insert, and
// an update of its status) only to be written once more later. With ids taken in advance from
// their tables' sequences (one more column of the statement that takes the lock), they are
// built in memory and inserted once, as they are by then, with the release's other new rows,
// its audit rows and its events, in one statement (flushFresh).
//
// What guarantees that nothing misses them: every statement the transaction sends through ent
// (a hook on mutations and an interceptor on queries, heldHooks) and every raw statement
// (txn.ExecContext, txn.QueryContext) stores what is held first. The one read that runs
// without storing them, the queue's read of an environment's waiting deployments
// (storeAndReadWaiting), leaves out, by its own conditions, the deployments and jobs held then:
// those of the release being triggered, none of them waiting in that environment but the one it
// adds itself.

// heldKey is the context key under which a transaction holding rows is found by heldHooks.
type heldKey struct{}

// heldRows are the rows a transaction holds, and the ids it took for more.
type heldRows struct {
	depIDs, jobIDs []int // taken from the sequences, not used yet
	deps           []*deployCtx
	depSet         map[int]bool
	jobs           []heldJob
	approvals      []heldApproval
	// waiting are the waiting deployments of the environments a release's creation triggers,
	// read together by the first queue read (heldQueue.readWaiting); any other statement of the
	// transaction forgets them (storeHeld).
	waiting struct {
		ids        map[string][]int
		definition int
		page       int
	}
}

// heldJob is a job createJob built in memory.
type heldJob struct {
	id, deploymentID, phase int
	logBase                 int64
	pool                    string
	demands                 []string
	spec                    spec.JobSpec
	queuedAt                time.Time
}

// heldApproval is an automated (APPROVED by the system) approval openStage built in memory.
type heldApproval struct {
	deploymentID, releaseID int
	stage                   approval.Stage
}

// hooked are the clients heldHooks has hooked (engines made again over one client, as tests
// restarting a server do, hook it once); weak, so that a closed client is not kept.
var hooked sync.Map

// heldHooks makes every ent statement of a transaction that holds rows store them first.
func heldHooks(client *ent.Client) {
	if _, done := hooked.LoadOrStore(weak.Make(client), true); done {
		return
	}
	store := func(ctx context.Context) error {
		if t, ok := ctx.Value(heldKey{}).(*txn); ok {
			return t.storeHeld()
		}
		return nil
	}
	client.Use(func(next ent.Mutator) ent.Mutator {
		return ent.MutateFunc(func(ctx context.Context, m ent.Mutation) (ent.Value, error) {
			if err := store(ctx); err != nil {
				return nil, err
			}
			return next.Mutate(ctx, m)
		})
	})
	client.Intercept(ent.InterceptFunc(func(next ent.Querier) ent.Querier {
		return ent.QuerierFunc(func(ctx context.Context, q ent.Query) (ent.Value, error) {
			if err := store(ctx); err != nil {
				return nil, err
			}
			return next.Query(ctx, q)
		})
	}))
}

// ExecContext is ent's raw statement, after what the transaction holds is stored.
func (t *txn) ExecContext(ctx context.Context, query string, args ...any) (stdsql.Result, error) {
	if err := t.storeHeld(); err != nil {
		return nil, err
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext is ent's raw query, after what the transaction holds is stored.
func (t *txn) QueryContext(ctx context.Context, query string, args ...any) (*stdsql.Rows, error) {
	if err := t.storeHeld(); err != nil {
		return nil, err
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// holdIDs keeps ids taken for deployments and jobs (a comma-separated list each, as the
// statement that took them returns them).
func (t *txn) holdIDs(deps, jobs string) error {
	parse := func(s string) ([]int, error) {
		var out []int
		for _, f := range strings.Split(s, ",") {
			if f == "" {
				continue
			}
			n, err := strconv.Atoi(f)
			if err != nil {
				return nil, fmt.Errorf("reading the ids taken for new rows: %w", err)
			}
			out = append(out, n)
		}
		return out, nil
	}
	d, err := parse(deps)
	if err != nil {
		return err
	}
	j, err := parse(jobs)
	if err != nil {
		return err
	}
	t.held.depIDs, t.held.jobIDs = append(t.held.depIDs, d...), append(t.held.jobIDs, j...)
	if len(d)+len(j) > 0 && t.ctx.Value(heldKey{}) == nil {
		t.ctx = context.WithValue(t.ctx, heldKey{}, t)
	}
	return nil
}

// holdDeployment returns an id for a new deployment of rel that may be held, or 0: on
// PostgreSQL, while the transaction triggers the environments of the release it numbered above
// every other (t.newestRelease), when an id was taken for it.
func (t *txn) holdDeployment(rel *ent.Release) int {
	if !t.postgres() || !t.batchFresh || rel.ID != t.newestRelease || len(t.held.depIDs) == 0 {
		return 0
	}
	id := t.held.depIDs[0]
	t.held.depIDs = t.held.depIDs[1:]
	return id
}

// addHeldDeployment holds dc's deployment, built in memory with a taken id.
func (t *txn) addHeldDeployment(dc *deployCtx) {
	if t.held.depSet == nil {
		t.held.depSet = map[int]bool{}
	}
	t.held.depSet[dc.d.ID] = true
	t.held.deps = append(t.held.deps, dc)
}

// heldDeployment reports whether deployment id is held (not inserted yet).
func (t *txn) heldDeployment(id int) bool { return t.held.depSet[id] }

// holdJob returns an id for a new job of a held deployment, or 0.
func (t *txn) holdJob(dc *deployCtx) int {
	if !t.heldDeployment(dc.d.ID) || len(t.held.jobIDs) == 0 {
		return 0
	}
	id := t.held.jobIDs[0]
	t.held.jobIDs = t.held.jobIDs[1:]
	return id
}

// newHeldDeployment is the row ent would insert for a deployment with these fields (the
// schema's defaults for the rest).
func newHeldDeployment(id int, now time.Time, attempt int, op deployment.Operation, requestedBy, reason string, automatic, freezeOverride bool,
	onlyTargets []string, envName string, definitionID, releaseID, releaseEnvironmentID int) *ent.Deployment {
	return &ent.Deployment{
		ID: id, CreatedAt: now, UpdatedAt: now, Attempt: attempt, Operation: op, Status: deployment.StatusPENDING_APPROVAL,
		RequestedBy: requestedBy, Reason: reason, StatusReason: deployment.DefaultStatusReason, Automatic: automatic,
		FreezeOverride: freezeOverride, PhaseFailure: deployment.DefaultPhaseFailure, OnlyTargets: onlyTargets,
		Version: deployment.DefaultVersion, EnvironmentName: envName,
		DefinitionID: definitionID, ReleaseID: releaseID, ReleaseEnvironmentID: releaseEnvironmentID,
	}
}

// pgArgs numbers a statement's arguments.
type pgArgs []any

func (p *pgArgs) add(v any, typ string) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p)) + "::" + typ
}

// heldDeploymentColumns, heldJobColumns and heldApprovalColumns are the columns heldCTEs writes
// (TestHeldRowsColumns: every column of the table, but those left NULL).
var (
	heldDeploymentColumns = []string{"id", "created_at", "updated_at", "attempt", "operation", "status", "requested_by",
		"reason", "status_reason", "automatic", "freeze_override", "phase_failure", "only_targets", "deferred_until",
		"queued_at", "started_at", "completed_at", "version", "environment_name", "definition_id", "release_id",
		"release_environment_id"}
	heldJobColumns = []string{"id", "created_at", "updated_at", "demands", "spec", "status", "waiting_reason",
		"result_reason", "queued_at", "cancel_requested", "log_seq", "log_bytes", "log_truncated", "version", "phase",
		"log_base", "pool", "target", "held", "deployment_id"}
	heldApprovalColumns = []string{"created_at", "updated_at", "stage", "approver", "rank", "status", "automated",
		"decided_by", "comment", "decided_at", "version", "release_id", "deployment_id"}
)

// heldCTEs returns the data-modifying WITH parts that insert what the transaction holds, and
// forgets it: deployments first, then their jobs and approvals (their foreign keys are checked
// at the end of the statement).
func (t *txn) heldCTEs(p *pgArgs) ([]string, error) {
	h := &t.held
	var parts []string
	if n := len(h.deps); n > 0 {
		ids, attempts, versions := make([]int64, n), make([]int64, n), make([]int64, n)
		defs, rels, res := make([]int64, n), make([]int64, n), make([]int64, n)
		created, updated := make([]time.Time, n), make([]time.Time, n)
		deferred, queued, started, completed := make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n), make([]*time.Time, n)
		ops, statuses, by, reasons, statusReasons, phaseFailures, targets, envs := make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		auto, freeze := make([]bool, n), make([]bool, n)
		for i, dc := range h.deps {
			d := dc.d
			only, err := json.Marshal(d.OnlyTargets)
			if err != nil {
				return nil, fmt.Errorf("encoding deployment %d: %w", d.ID, err)
			}
			ids[i], created[i], updated[i], attempts[i] = int64(d.ID), d.CreatedAt, d.UpdatedAt, int64(d.Attempt)
			ops[i], statuses[i], by[i], reasons[i], statusReasons[i] = string(d.Operation), string(d.Status), d.RequestedBy, d.Reason, d.StatusReason
			auto[i], freeze[i], phaseFailures[i], targets[i] = d.Automatic, d.FreezeOverride, d.PhaseFailure, string(only)
			deferred[i], queued[i], started[i], completed[i] = d.DeferredUntil, d.QueuedAt, d.StartedAt, d.CompletedAt
			versions[i], envs[i], defs[i], rels[i], res[i] = int64(d.Version), d.EnvironmentName, int64(d.DefinitionID), int64(d.ReleaseID), int64(d.ReleaseEnvironmentID)
		}
		parts = append(parts, `hd AS (INSERT INTO deployments (`+strings.Join(heldDeploymentColumns, ", ")+`)
			SELECT id, ca, ua, at, op, st, rb, rs, sr, au, fo, pf, ot::jsonb, du, qa, sa, co, ve, en, di, ri, rei FROM unnest(`+
			strings.Join([]string{p.add(ids, "bigint[]"), p.add(created, "timestamptz[]"), p.add(updated, "timestamptz[]"),
				p.add(attempts, "bigint[]"), p.add(ops, "text[]"), p.add(statuses, "text[]"), p.add(by, "text[]"),
				p.add(reasons, "text[]"), p.add(statusReasons, "text[]"), p.add(auto, "boolean[]"), p.add(freeze, "boolean[]"),
				p.add(phaseFailures, "text[]"), p.add(targets, "text[]"), p.add(deferred, "timestamptz[]"),
				p.add(queued, "timestamptz[]"), p.add(started, "timestamptz[]"), p.add(completed, "timestamptz[]"),
				p.add(versions, "bigint[]"), p.add(envs, "text[]"), p.add(defs, "bigint[]"), p.add(rels, "bigint[]"),
				p.add(res, "bigint[]")}, ", ")+
			`) AS v(id, ca, ua, at, op, st, rb, rs, sr, au, fo, pf, ot, du, qa, sa, co, ve, en, di, ri, rei) RETURNING 1)`)
	}
	if n := len(h.jobs); n > 0 {
		ids, deps, phases, bases := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		demands, specs, pools := make([]string, n), make([]string, n), make([]string, n)
		queued := make([]time.Time, n)
		for i, j := range h.jobs {
			dm, err := json.Marshal(j.demands)
			if err != nil {
				return nil, fmt.Errorf("encoding job %d: %w", j.id, err)
			}
			sp, err := json.Marshal(j.spec)
			if err != nil {
				return nil, fmt.Errorf("encoding job %d: %w", j.id, err)
			}
			ids[i], deps[i], phases[i], bases[i] = int64(j.id), int64(j.deploymentID), int64(j.phase), j.logBase
			demands[i], specs[i], pools[i], queued[i] = string(dm), string(sp), j.pool, j.queuedAt
		}
		now := p.add(t.now, "timestamptz")
		parts = append(parts, `hj AS (INSERT INTO jobs (`+strings.Join(heldJobColumns, ", ")+`)
			SELECT id, `+now+`, `+now+`, dm::jsonb, sp::jsonb, `+p.add(string(job.StatusQUEUED), "text")+`, '', '', qa, false, lb, 0, false, 0, ph, lb, po, '', false, di FROM unnest(`+
			strings.Join([]string{p.add(ids, "bigint[]"), p.add(demands, "text[]"), p.add(specs, "text[]"),
				p.add(queued, "timestamptz[]"), p.add(phases, "bigint[]"), p.add(bases, "bigint[]"), p.add(pools, "text[]"),
				p.add(deps, "bigint[]")}, ", ")+`) AS v(id, dm, sp, qa, ph, lb, po, di) RETURNING 1)`)
	}
	if n := len(h.approvals); n > 0 {
		deps, rels, stages := make([]int64, n), make([]int64, n), make([]string, n)
		for i, a := range h.approvals {
			deps[i], rels[i], stages[i] = int64(a.deploymentID), int64(a.releaseID), string(a.stage)
		}
		now := p.add(t.now, "timestamptz")
		parts = append(parts, `ha AS (INSERT INTO approvals (`+strings.Join(heldApprovalColumns, ", ")+`)
			SELECT `+now+`, `+now+`, sg, '', 1, `+p.add(string(approval.StatusAPPROVED), "text")+`, true, `+
			p.add(systemApprover, "text")+`, '', `+now+`, 0, ri, di FROM unnest(`+p.add(deps, "bigint[]")+`, `+
			p.add(rels, "bigint[]")+`, `+p.add(stages, "text[]")+`) WITH ORDINALITY AS v(di, ri, sg, n) ORDER BY n RETURNING 1)`)
	}
	h.deps, h.depSet, h.jobs, h.approvals = nil, nil, nil, nil
	return parts, nil
}

// holding reports whether the transaction holds rows not inserted yet.
func (t *txn) holding() bool {
	return len(t.held.deps)+len(t.held.jobs)+len(t.held.approvals) > 0
}

// storeHeld inserts what the transaction holds, in one statement.
func (t *txn) storeHeld() error {
	t.held.waiting.ids = nil // another statement: the queues may have changed since
	if !t.holding() {
		return nil
	}
	var p pgArgs
	parts, err := t.heldCTEs(&p)
	if err != nil {
		return err
	}
	return t.execWith(parts, p, "storing the new deployments and jobs")
}

// execWith sends data-modifying WITH parts (heldCTEs, unsealedCTEs, flushFresh's) as one
// statement, when there are any; like every other statement, it forgets the queue reads kept
// for later (heldQueue.readWaiting).
func (t *txn) execWith(parts []string, args pgArgs, doing string) error {
	t.held.waiting.ids = nil
	if len(parts) == 0 {
		return nil
	}
	if _, err := t.Tx.ExecContext(t.ctx, "WITH "+strings.Join(parts, ",\n")+" SELECT 1", args...); err != nil {
		return fmt.Errorf("%s: %w", doing, err)
	}
	return nil
}
