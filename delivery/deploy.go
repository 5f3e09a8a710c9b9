package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/internal/condition"
	"github.com/cairnhq/cairn/internal/jobstages"
)

// DeployInput asks to deploy a release to one of its environments.
type DeployInput struct {
	ReleaseID   int
	Environment string
	Comment     string
	// OverrideFreeze deploys through the freeze windows active on the
	// environment (ADMIN only; audited as freeze.override).
	OverrideFreeze bool
	// FailedTargetsOnly redeploys only to the deployment-group targets that did not
	// succeed in the release's last deployment to the environment.
	FailedTargetsOnly bool
}

// deployCtx is a deployment with what deciding about it needs: its release
// (and frozen snapshot), its release environment and the environment's spec.
type deployCtx struct {
	d   *ent.Deployment
	rel *ent.Release
	re  *ent.ReleaseEnvironment
	env *spec.EnvironmentSpec
	// rePending holds the events moveEnvironmentLater applied to re in memory only, and
	// reStored the status its row still has: the next moveEnvironment stores the status they led
	// to, or writeEnvironment replays them through the table from reStored.
	rePending []EnvironmentEvent
	reStored  releaseenvironment.Status
}

// policy returns the approval policy of a stage.
func (dc *deployCtx) policy(stage approval.Stage) spec.ApprovalPolicy {
	if stage == approval.StagePOST {
		return dc.env.PostApproval
	}
	return dc.env.PreApproval
}

// event returns an event about this deployment.
func (dc *deployCtx) event(typ string, actor Actor) Event {
	return Event{
		Type: typ, DefinitionID: dc.d.DefinitionID, ReleaseID: dc.rel.ID, Environment: dc.re.Name,
		DeploymentID: dc.d.ID, Status: string(dc.d.Status), Actor: actor.String(),
	}
}

// DeployEnvironment deploys a release to one of its environments at a
// person's request: DEPLOY the first time, REDEPLOY when this release was
// deployed there before, ROLLBACK when an newer release is the one currently
// deployed there. It needs role EDITOR and an ACTIVE release; a deployment
// of the release to that environment still pending or running is a CONFLICT.
func (e *Engine) DeployEnvironment(ctx context.Context, actor Actor, in DeployInput) (*ent.Deployment, error) {
	if err := actor.Require(RoleEditor, "deploying a release"); err != nil {
		return nil, err
	}
	if err := checkActionComment("comment", in.Comment); err != nil {
		return nil, err
	}
	var d *ent.Deployment
	err := e.inTx(ctx, func(t *txn) error {
		rel, err := t.lockRelease(in.ReleaseID)
		if err != nil {
			return err
		}
		if err := t.authorize(actor, rel.DefinitionID, in.Environment, PermManageDeployments,
			fmt.Sprintf("deploying release %s to %s", rel.Name, in.Environment), NotFound("release", in.ReleaseID)); err != nil {
			return err
		}
		if _, ok := rel.Snapshot.Environment(in.Environment); !ok {
			return Invalid("environment", "release %s has no environment %q (it has %s)", rel.Name, in.Environment, envNames(&rel.Snapshot))
		}
		q := t.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID), releaseenvironment.Name(in.Environment))
		if t.postgres() {
			q = q.ForUpdate()
		}
		re, err := q.Only(t.ctx)
		if err != nil {
			return fmt.Errorf("reading environment %s: %w", in.Environment, err)
		}
		// The check viewerCan makes (ReleaseEnvironmentViewerCan).
		if err := deployRefusal(t.ctx, t.Client(), t.now, rel, re, in.OverrideFreeze); err != nil {
			return err
		}
		reason := actionReason("deployed", actor, in.Comment)
		if in.FailedTargetsOnly {
			if t.onlyTargets, err = t.failedTargets(rel, re); err != nil {
				return err
			}
			reason += " (failed targets only: " + strings.Join(t.onlyTargets, ", ") + ")"
		}
		d, err = t.beginDeployment(actor, rel, re, actor.Username, reason, false, in.OverrideFreeze)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("deploying release %d to %q: %w", in.ReleaseID, in.Environment, err)
	}
	return d.Unwrap(), nil
}

// lockRelease reads a release, locking its row on PostgreSQL.
func (t *txn) lockRelease(id int) (*ent.Release, error) {
	q := t.Release.Query().Where(release.ID(id))
	if t.postgres() {
		q = q.ForUpdate()
	}
	rel, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("release", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", id, err)
	}
	return rel, nil
}

// loadDeployment reads a deployment (locked on PostgreSQL) with its context.
func (t *txn) loadDeployment(id int) (*deployCtx, error) {
	q := t.Deployment.Query().Where(deployment.ID(id))
	if t.postgres() {
		q = q.ForUpdate()
	}
	d, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("deployment", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %d: %w", id, err)
	}
	return deployCtxOf(t.ctx, t.Client(), d)
}

// deployCtxOf reads the context of deployment d.
func deployCtxOf(ctx context.Context, c *ent.Client, d *ent.Deployment) (*deployCtx, error) {
	rel, err := c.Release.Get(ctx, d.ReleaseID)
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", d.ReleaseID, err)
	}
	re, err := c.ReleaseEnvironment.Get(ctx, d.ReleaseEnvironmentID)
	if err != nil {
		return nil, fmt.Errorf("reading release environment %d: %w", d.ReleaseEnvironmentID, err)
	}
	env, ok := rel.Snapshot.Environment(re.Name)
	if !ok {
		return nil, fmt.Errorf("release %d has no environment %q in its snapshot", rel.ID, re.Name)
	}
	return &deployCtx{d: d, rel: rel, re: re, env: env}, nil
}

// operationFor names a new deployment: ROLLBACK when the release currently
// deployed to the environment is newer, REDEPLOY when this release was
// deployed there before, else DEPLOY.
func (t *txn) operationFor(rel *ent.Release, re *ent.ReleaseEnvironment, attempts int) (deployment.Operation, error) {
	l, err := t.landedOf(rel.DefinitionID, re.Name, rel.ID)
	if err != nil {
		return "", err
	}
	switch {
	case l.current != nil && l.current.Number > rel.Number:
		return deployment.OperationROLLBACK, nil
	case attempts > 0:
		return deployment.OperationREDEPLOY, nil
	}
	return deployment.OperationDEPLOY, nil
}

func operationOf(ctx context.Context, c *ent.Client, rel *ent.Release, re *ent.ReleaseEnvironment, attempts int) (deployment.Operation, error) {
	current, err := c.Deployment.Query().
		Where(deployment.DefinitionID(rel.DefinitionID), deployment.EnvironmentName(re.Name),
			deployment.StatusIn(deployment.StatusSUCCEEDED, deployment.StatusPARTIALLY_SUCCEEDED)).
		Order(ent.Desc(deployment.FieldCompletedAt), ent.Desc(deployment.FieldID)).
		WithRelease().First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return "", fmt.Errorf("reading the current deployment: %w", err)
	case current.Edges.Release.Number > rel.Number:
		return deployment.OperationROLLBACK, nil
	}
	if attempts > 0 {
		return deployment.OperationREDEPLOY, nil
	}
	return deployment.OperationDEPLOY, nil
}

// moveDeployment applies ev to the deployment, with extra field changes,
// audits it as "deployment.<ev>" and emits EventDeploymentStatusChanged.
func (t *txn) moveDeployment(actor Actor, dc *deployCtx, ev DeploymentEvent, statusReason string, set func(*ent.DeploymentUpdateOne)) error {
	from := dc.d.Status
	to, err := deploymentMachine.apply(dc.d.ID, from, ev)
	if err != nil {
		return err
	}
	var d *ent.Deployment
	if set != nil {
		u := t.Deployment.UpdateOne(dc.d).Where(deployment.Version(dc.d.Version)).
			SetStatus(to).AddVersion(1).SetUpdatedAt(t.now)
		if statusReason != "" {
			u.SetStatusReason(statusReason)
		}
		if deploymentFinal(to) {
			u.SetCompletedAt(t.now)
		}
		set(u)
		d, err = u.Save(t.ctx)
		if ent.IsNotFound(err) {
			return Conflict("deployment %d changed concurrently; read it again", dc.d.ID)
		}
		if err != nil {
			return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
	} else {
		// Without extra changes the new row is known: it is not read back.
		u := t.Deployment.Update().Where(deployment.ID(dc.d.ID), deployment.Version(dc.d.Version)).
			SetStatus(to).AddVersion(1).SetUpdatedAt(t.now)
		next := *dc.d
		next.Status, next.Version, next.UpdatedAt = to, dc.d.Version+1, t.now
		if statusReason != "" {
			u.SetStatusReason(statusReason)
			next.StatusReason = statusReason
		}
		if deploymentFinal(to) {
			u.SetCompletedAt(t.now)
			now := t.now
			next.CompletedAt = &now
		}
		n, err := u.Save(t.ctx)
		if err == nil && n == 0 {
			return Conflict("deployment %d changed concurrently; read it again", dc.d.ID)
		}
		if err != nil {
			return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
		d = &next
	}
	dc.d = d
	return t.movedDeployment(actor, dc, ev, from, to, statusReason)
}

// movedDeployment is what moveDeployment does once the deployment's row is written (or held to
// be written with the queue's read: enqueueFresh): the audit row and the status event.
func (t *txn) movedDeployment(actor Actor, dc *deployCtx, ev DeploymentEvent, from, to deployment.Status, statusReason string) error {
	d := dc.d
	if deploymentFinal(to) {
		t.landed++ // forwardOnly's answers may change (a success lands, a final one leaves the flight)
	}
	before := map[string]any{"status": from}
	after := map[string]any{"status": to}
	if statusReason != "" {
		after["statusReason"] = statusReason
	}
	if auditedDeploymentTransition(actor, ev) {
		if err := t.audit(actor, "deployment."+string(ev), auditTargetDeployment, d.ID, before, after); err != nil {
			return err
		}
	}
	return t.emit(dc.event(EventDeploymentStatusChanged, actor))
}

// moveEnvironment applies ev to the deployment's release environment, audits
// it as "environment.<ev>" and emits EventEnvironmentStatusChanged.
func (t *txn) moveEnvironment(actor Actor, dc *deployCtx, ev EnvironmentEvent) error {
	if t.batchFresh && t.freshEnvs[dc.re.ID] {
		// A release environment of this transaction's release: nobody else sees it before
		// commit, so its status is stored once, with its siblings' (flushFresh).
		if err := t.moveEnvironmentLater(actor, dc, ev); err != nil {
			return err
		}
		t.holdFresh(dc)
		return nil
	}
	to, err := environmentMachine.apply(dc.re.ID, dc.re.Status, ev)
	if err != nil {
		return err
	}
	if err := t.storeEnvironment(dc, to, t.environmentUpdate(dc).SetStatus(to)); err != nil {
		return err
	}
	// Not audited: an environment's status follows its deployments (auditedTransition).
	ev2 := dc.event(EventEnvironmentStatusChanged, actor)
	ev2.Status = string(to)
	return t.emit(ev2)
}

// moveEnvironmentLater is moveEnvironment whose row is written by the next moveEnvironment of
// dc, or by writeEnvironment: a new deployment's environment goes to PENDING_APPROVAL and, when
// its approvals need nobody, on to QUEUED in the same transaction, one update instead of two.
// Its event is emitted now, in order: subscribers see every status it passed through.
func (t *txn) moveEnvironmentLater(actor Actor, dc *deployCtx, ev EnvironmentEvent) error {
	to, err := environmentMachine.apply(dc.re.ID, dc.re.Status, ev)
	if err != nil {
		return err
	}
	if len(dc.rePending) == 0 {
		dc.reStored = dc.re.Status
	}
	re := *dc.re
	re.Status, re.UpdatedAt = to, t.now
	dc.re, dc.rePending = &re, append(dc.rePending, ev)
	ev2 := dc.event(EventEnvironmentStatusChanged, actor)
	ev2.Status = string(to)
	return t.emit(ev2)
}

// writeEnvironment stores the status moveEnvironmentLater left in memory, if any: its events
// applied again, through the table, from the status the row has.
func (t *txn) writeEnvironment(dc *deployCtx) error {
	if len(dc.rePending) == 0 {
		return nil
	}
	if t.batchFresh && t.freshEnvs[dc.re.ID] {
		t.holdFresh(dc) // stored with its siblings (flushFresh)
		return nil
	}
	to := dc.reStored
	for _, ev := range dc.rePending {
		var err error
		if to, err = environmentMachine.apply(dc.re.ID, to, ev); err != nil {
			return err
		}
	}
	return t.storeEnvironment(dc, to, t.environmentUpdate(dc).SetStatus(to))
}

// environmentUpdate is the update of dc's release environment row at the version dc read.
func (t *txn) environmentUpdate(dc *deployCtx) *ent.ReleaseEnvironmentUpdate {
	return t.ReleaseEnvironment.Update().Where(releaseenvironment.ID(dc.re.ID), releaseenvironment.Version(dc.re.Version))
}

// storeEnvironment saves u, which sets the status to of dc's release environment (its callers
// set it, with a status from the table), checking the version.
func (t *txn) storeEnvironment(dc *deployCtx, to releaseenvironment.Status, u *ent.ReleaseEnvironmentUpdate) error {
	n, err := u.AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
	if err == nil && n == 0 {
		return Conflict("environment %s of release %s changed concurrently; read it again", dc.re.Name, dc.rel.Name)
	}
	if err != nil {
		return fmt.Errorf("updating environment %s: %w", dc.re.Name, err)
	}
	re := *dc.re // the new row is known: it is not read back
	re.Status, re.Version, re.UpdatedAt = to, dc.re.Version+1, t.now
	dc.re, dc.rePending = &re, nil
	return nil
}

// queuePolicy returns the queue policy of an environment from the
// definition's current revision (so that a change applies to the releases
// already waiting), or from the newest release that has it.
func (t *txn) queuePolicy(definitionID int, envName string, fallback *ent.Release) spec.QueuePolicy {
	if snap, err := t.currentSnapshot(definitionID); err == nil {
		if env, ok := snap.Environment(envName); ok {
			return env.Queue
		}
	}
	if fallback != nil {
		if env, ok := fallback.Snapshot.Environment(envName); ok {
			return env.Queue
		}
	}
	return spec.QueuePolicy{}
}

// currentSnapshot returns the snapshot of a definition's current revision: the one the
// transaction creating a release read (it changes no definition), else read now.
func (t *txn) currentSnapshot(definitionID int) (*spec.DefinitionSnapshot, error) {
	if t.releaseSnap != nil && t.releaseSnapDef == definitionID {
		return t.releaseSnap, nil
	}
	_, snap, err := t.definitionSnapshot(definitionID)
	return snap, err
}

// pumpQueue applies an environment's queue policy across the definition's
// releases. A deployment is waiting when it is QUEUED without a job. With
// LATEST_ONLY every waiting deployment but the newest release's is canceled;
// then waiting deployments get jobs, oldest release first, while fewer than
// MaxParallel deployments of the environment are busy (busySlots: from
// their job's creation until they are final, post-deployment approval
// included). An automatic deployment that would step backwards is
// superseded rather than given a job (forwardOnly).
//
// Its cost does not grow with the number of waiting deployments: it reads
// the newest waiting one, then only as many as there are free slots (in
// pages of pumpPage), and no release snapshot.
func (t *txn) pumpQueue(actor Actor, definitionID int, envName string) error {
	return t.pumpQueueHeld(actor, definitionID, envName, nil)
}

// heldQueue is a new deployment's move to QUEUED, not yet written: enqueueFresh leaves it to
// pumpQueueHeld, which writes it with its first read of the waiting deployments, in one statement.
type heldQueue struct {
	dc      *deployCtx
	version int // the version the row has (dc.d is the row after the move)
	// inserted is set when the deployment's row is held (held.go): it is inserted with the move.
	inserted bool
}

// store writes h's move alone.
func (h *heldQueue) store(t *txn) error {
	if h.inserted {
		return nil
	}
	n, err := t.Deployment.Update().Where(deployment.ID(h.dc.d.ID), deployment.Version(h.version)).
		SetStatus(h.dc.d.Status).AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
	if err == nil && n == 0 {
		return Conflict("deployment %d changed concurrently; read it again", h.dc.d.ID)
	}
	if err != nil {
		return fmt.Errorf("updating deployment %d: %w", h.dc.d.ID, err)
	}
	return nil
}

// storeAndReadWaiting writes h's move and reads the first page of an environment's waiting
// deployments that are not frozen out, oldest release first (pumpQueue's order), in one
// statement. The read does not see the move (one statement, one snapshot): h's deployment, of
// the transaction's newest release (enqueueFresh), is the last in that order, so it is added
// when the page is not full.
func (h *heldQueue) storeAndReadWaiting(t *txn, definitionID int, envName string, page int) (ids []int, complete bool, err error) {
	if h.inserted {
		return h.readWaiting(t, definitionID, envName, page)
	}
	rows, err := t.QueryContext(t.ctx, `WITH u AS (UPDATE deployments SET status = $1, version = COALESCE(version, 0) + 1, updated_at = $2
			WHERE id = $3 AND version = $4 RETURNING id)
		SELECT (SELECT count(*) FROM u), w.id FROM (SELECT 1) AS one LEFT JOIN LATERAL (`+waitingSQL("$5", "$6", "$7", "$8")+`) AS w ON true`,
		string(h.dc.d.Status), t.now, h.dc.d.ID, h.version, definitionID, envName, string(deployment.StatusQUEUED), page)
	if err != nil {
		return nil, false, fmt.Errorf("queueing deployment %d: %w", h.dc.d.ID, err)
	}
	defer rows.Close()
	moved := int64(0)
	for rows.Next() {
		var id *int64
		if err := rows.Scan(&moved, &id); err != nil {
			return nil, false, fmt.Errorf("queueing deployment %d: %w", h.dc.d.ID, err)
		}
		if id != nil {
			ids = append(ids, int(*id))
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("queueing deployment %d: %w", h.dc.d.ID, err)
	}
	if moved != 1 {
		return nil, false, Conflict("deployment %d changed concurrently; read it again", h.dc.d.ID)
	}
	ids, complete = h.addedLast(ids, page)
	return ids, complete, nil
}

// waitingSQL is the read of an environment's waiting deployments, a page in the queue's order,
// for the LATERAL joins of storeAndReadWaiting and readWaiting; its arguments are the SQL of
// the definition, the environment's name, the QUEUED status and the page size. A waiting
// deployment is QUEUED without queued_at (see pumpQueue), through the deployment_waiting index.
func waitingSQL(definition, environment, queued, page string) string {
	return `SELECT d.id FROM deployments AS d LEFT JOIN releases AS r ON d.release_id = r.id
		WHERE d.definition_id = ` + definition + ` AND d.environment_name = ` + environment + ` AND d.status = ` + queued + ` AND d.queued_at IS NULL
			AND NOT EXISTS (SELECT 1 FROM jobs AS j WHERE j.deployment_id = d.id)
			AND NOT EXISTS (SELECT 1 FROM manual_interventions AS m WHERE m.deployment_id = d.id)
		ORDER BY r.number NULLS FIRST, d.id LIMIT ` + page
}

// waitingFunc is a PostgreSQL function that reads the waiting deployments of several
// environments (waitingSQL) with a snapshot of its own: a VOLATILE function's statements see
// what committed before each of them ran, where the statement that calls it sees what
// committed before that statement began. So the statement that takes a definition's lock can
// also read its queues, after the lock, as a separate statement would (numberAndName). Its
// last argument is unused: passing a value the statement computes after taking the lock makes
// the call wait for it. The version suffix changes with the function's signature or meaning,
// so that replicas of two versions sharing a database each find theirs (PostgresFunctions).
//
// Its query is planned once per connection (plan_cache_mode = force_generic_plan): left to
// choose, PostgreSQL planned it on every call, under the definition's lock, because a generic
// plan estimates unnest(p_environments) at ten rows and so looks dearer than a plan for the
// call's two or three; both plans are the same (the deployment_waiting index per environment).
const waitingFunc = "cairn_waiting_v1"

// PostgresFunctions returns the statements that create, or replace, the PostgreSQL functions
// the engine calls; storage runs them with its migration.
func PostgresFunctions() []string {
	return []string{`CREATE OR REPLACE FUNCTION ` + waitingFunc + `(p_definition bigint, p_environments text[], p_queued text,
		p_page int, p_after bigint) RETURNS TABLE (w_environment text, w_id bigint) LANGUAGE plpgsql VOLATILE
		SET plan_cache_mode = force_generic_plan AS $fn$
	BEGIN
		RETURN QUERY SELECT e.name, w.id::bigint FROM unnest(p_environments) AS e(name) LEFT JOIN LATERAL (` +
		waitingSQL("p_definition", "e.name", "p_queued", "p_page") + `) AS w ON true;
	END $fn$`}
}

// addedLast is a page of waiting deployments read without h's, with h's added last when the
// page is not full (then it is complete); a full page leaves it to the next page's read.
func (h *heldQueue) addedLast(ids []int, page int) ([]int, bool) {
	if len(ids) < page {
		return append(ids, h.dc.d.ID), true
	}
	return ids, false
}

// readWaiting is storeAndReadWaiting for a held deployment, whose move is written with its row
// (held.go): the read alone, without storing what the transaction holds. It may: what is held
// then is the release's new deployments and their jobs, none of them in envName but h's (one
// deployment per environment), which the read leaves out and adds last, and their jobs, whose
// deployments the read does not return either.
//
// The first such read of a release's triggers reads the waiting deployments of every
// environment its creation triggers (one statement under the definition's lock instead of one
// per environment); an environment's answer serves its own read later only if the transaction
// sent no other statement in between (storeHeld forgets them before any other), so that
// nothing it changed in the queues since is missed.
func (h *heldQueue) readWaiting(t *txn, definitionID int, envName string, page int) (ids []int, complete bool, err error) {
	w := &t.held.waiting
	if _, ok := w.ids[envName]; !ok || w.definition != definitionID || w.page != page {
		envs := []string{envName}
		for _, env := range h.dc.rel.Snapshot.Environments {
			if env.Name != envName && env.Trigger.Kind == spec.TriggerAfterRelease && env.Queue.Mode != spec.QueueLatestOnly {
				envs = append(envs, env.Name)
			}
		}
		rows, err := t.Tx.QueryContext(t.ctx, `SELECT e.name, w.id FROM unnest($2::text[]) AS e(name) LEFT JOIN LATERAL (`+
			waitingSQL("$1", "e.name", "$3", "$4")+`) AS w ON true`,
			definitionID, envs, string(deployment.StatusQUEUED), page)
		if err != nil {
			return nil, false, fmt.Errorf("reading waiting deployments: %w", err)
		}
		defer rows.Close()
		read := make(map[string][]int, len(envs))
		for _, env := range envs {
			read[env] = nil
		}
		for rows.Next() {
			var env string
			var id *int64
			if err := rows.Scan(&env, &id); err != nil {
				return nil, false, fmt.Errorf("reading waiting deployments: %w", err)
			}
			if id != nil {
				read[env] = append(read[env], int(*id))
			}
		}
		if err := rows.Err(); err != nil {
			return nil, false, fmt.Errorf("reading waiting deployments: %w", err)
		}
		w.ids, w.definition, w.page = read, definitionID, page
	}
	ids = w.ids[envName]
	delete(w.ids, envName) // read once: the pump's next page reads again
	ids, complete = h.addedLast(ids, page)
	return ids, complete, nil
}

// keepWaiting keeps, for the queue's first read (readWaiting), the waiting deployments of envs
// read by the statement that took definitionID's lock (numberAndName): a JSON array of
// [environment, id as text or null] in the queue's order, as waitingFunc returns them.
func (h *heldRows) keepWaiting(definitionID int, envs []string, read string) error {
	var pairs [][2]any
	if err := json.Unmarshal([]byte(read), &pairs); err != nil {
		return fmt.Errorf("reading waiting deployments: %w", err)
	}
	ids := make(map[string][]int, len(envs))
	for _, env := range envs {
		ids[env] = nil
	}
	for _, p := range pairs {
		env, ok := p[0].(string)
		if _, known := ids[env]; !ok || !known {
			return fmt.Errorf("reading waiting deployments: unexpected environment %v", p[0])
		}
		switch id := p[1].(type) {
		case nil: // no deployment waits there
		case string:
			n, err := strconv.Atoi(id)
			if err != nil {
				return fmt.Errorf("reading waiting deployments: %w", err)
			}
			ids[env] = append(ids[env], n)
		default:
			return fmt.Errorf("reading waiting deployments: unexpected id %v", p[1])
		}
	}
	h.waiting.ids, h.waiting.definition, h.waiting.page = ids, definitionID, pumpPage
	return nil
}

// pumpQueueHeld is pumpQueue that first writes held (when not nil), with its first read of
// the waiting deployments when it makes one.
func (t *txn) pumpQueueHeld(actor Actor, definitionID int, envName string, held *heldQueue) (err error) {
	if held != nil {
		defer func() {
			if err == nil && held != nil { // the pump returned before reading the waiting deployments
				err = held.store(t)
			}
		}()
	}
	waiting := func() *ent.DeploymentQuery {
		// queued_at IS NULL: a waiting deployment was never given a job or a manual
		// intervention (the partial index deployment_waiting).
		return t.Deployment.Query().
			Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(envName),
				deployment.StatusEQ(deployment.StatusQUEUED), deployment.QueuedAtIsNil(), deployment.Not(holdsSlot()))
	}
	// A transaction creating a release has the definition's current snapshot at hand: unless
	// its policy is LATEST_ONLY, the newest waiting deployment need not be read.
	var policy spec.QueuePolicy
	known := false
	if t.releaseSnap != nil && t.releaseSnapDef == definitionID {
		if env, ok := t.releaseSnap.Environment(envName); ok && env.Queue.Mode != spec.QueueLatestOnly {
			policy, known = env.Queue, true
		}
	}
	var newest *ent.Deployment
	if !known && held != nil {
		if err := held.store(t); err != nil {
			return err
		}
		held = nil
	}
	if !known {
		var err error
		newest, err = waiting().
			Order(deployment.ByReleaseField(release.FieldNumber, sql.OrderDesc()), deployment.ByID(sql.OrderDesc())).
			Select(deployment.FieldID, deployment.FieldReleaseID).First(t.ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading waiting deployments: %w", err)
		}
		if policy, err = t.queuePolicyFor(definitionID, envName, newest.ReleaseID); err != nil {
			return err
		}
	}
	if policy.Mode == spec.QueueLatestOnly {
		// At most one deployment waits under LATEST_ONLY, so this list is short.
		older, err := waiting().Where(deployment.IDNEQ(newest.ID)).Order(deployment.ByID()).IDs(t.ctx)
		if err != nil {
			return fmt.Errorf("reading waiting deployments: %w", err)
		}
		if len(older) > 0 {
			rel, err := t.Release.Query().Where(release.ID(newest.ReleaseID)).Select(release.FieldID, release.FieldName).Only(t.ctx)
			if err != nil {
				return fmt.Errorf("reading release %d: %w", newest.ReleaseID, err)
			}
			for _, id := range older {
				dc, err := t.loadDeployment(id)
				if err != nil {
					return err
				}
				if err := t.finishDeployment(actor, dc, DeploymentSupersede, "canceled: superseded by release "+rel.Name); err != nil {
					return err
				}
			}
		}
	}
	candidates := waiting()
	if f, err := t.frozenAt(definitionID, envName); err != nil {
		return err
	} else if f != nil {
		candidates = candidates.Where(deployment.FreezeOverride(true))
		if held != nil {
			if err := held.store(t); err != nil {
				return err
			}
			held = nil
		}
	}
	free := -1 // no limit
	if policy.MaxParallel > 0 {
		busy, err := t.busySlots(definitionID, envName)
		if err != nil {
			return err
		}
		if free = policy.MaxParallel - busy; free <= 0 {
			return nil
		}
	}
	seen := map[int]bool{}
	for free != 0 {
		page := pumpPage
		if free > 0 {
			page = min(page, free)
		}
		var ids []int
		complete := false
		if held != nil {
			ids, complete, err = held.storeAndReadWaiting(t, definitionID, envName, page)
			held = nil
			if err != nil {
				return err
			}
		} else {
			ids, err = candidates.Clone().
				Order(deployment.ByReleaseField(release.FieldNumber), deployment.ByID()).Limit(page).IDs(t.ctx)
			if err != nil {
				return fmt.Errorf("reading waiting deployments: %w", err)
			}
			complete = len(ids) < page
		}
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if seen[id] {
				return nil // it neither started nor left the queue: nothing more to do
			}
			seen[id] = true
			dc := t.fresh[id] // created in this transaction: its context is at hand
			if dc == nil {
				if dc, err = t.loadDeployment(id); err != nil {
					return err
				}
			}
			ok, err := t.forwardOnly(actor, dc)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			if err := t.startPhase(actor, dc, 0); err != nil {
				return err
			}
			if deploymentFinal(dc.d.Status) {
				continue // ended at once (no target to deploy to): it holds no slot
			}
			if free > 0 {
				free--
				if free == 0 {
					break
				}
			}
		}
		if complete {
			return nil // every waiting deployment was in this page
		}
	}
	return nil
}

// tasksCapability is the capability of agents that evaluate task conditions
// (agentproto.CapabilityTasks): a job with a non-default condition or a template task demands
// it, so that an older agent, which would run the task as SUCCEEDED or without its inputs,
// never gets it.
const tasksCapability = "agent.tasks"

// jobDemands returns the demands of a job: the environment's, tasksCapability when a task has
// a condition other than the default or uses a template, and the templates' own demands.
func jobDemands(js spec.JobSpec) []string {
	out := slices.Clone(js.Demands)
	add := func(d string) {
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	for _, t := range js.Tasks {
		if !t.Disabled && (t.Uses != "" || t.Condition != "" && !strings.EqualFold(t.Condition, condition.Succeeded)) {
			add(tasksCapability)
		}
	}
	for _, d := range templateDemands(js.Tasks) {
		add(d)
	}
	return out
}

// pumpPage is how many waiting deployments pumpQueue reads at once.
const pumpPage = 20

// queuePolicyFor is queuePolicy when only the fallback release's id is at
// hand: that release (and its snapshot) is read only if the definition's
// current snapshot does not name the environment.
func (t *txn) queuePolicyFor(definitionID int, envName string, releaseID int) (spec.QueuePolicy, error) {
	if snap, err := t.currentSnapshot(definitionID); err == nil {
		if env, ok := snap.Environment(envName); ok {
			return env.Queue, nil
		}
	}
	rel, err := t.Release.Get(t.ctx, releaseID)
	if err != nil {
		return spec.QueuePolicy{}, fmt.Errorf("reading release %d: %w", releaseID, err)
	}
	if env, ok := rel.Snapshot.Environment(envName); ok {
		return env.Queue, nil
	}
	return spec.QueuePolicy{}, nil
}

// createJob creates the job of agent phase k of a deployment, with the
// environment's demands and the phase's tasks, for the dispatcher to assign;
// its log continues the deployment's from logBase.
//
// The job's queued_at is the clock when its row is written, not the transaction's start: a
// release's transaction freezes the definition and creates its environments first, which is
// not time spent in the queue. What remains of the transaction after this (the deployment's
// update, audit, event, commit) is counted as queue time.
func (t *txn) createJob(actor Actor, dc *deployCtx, k int, p phase, logBase int64) error {
	queuedAt := t.e.clock.Now()
	js := p.job
	pool := strings.TrimSpace(p.spec.Pool)
	if pool == "" {
		pool = DefaultPool
	}
	var j *ent.Job
	if id := t.holdJob(dc); id != 0 {
		// Of a held deployment: inserted with it (held.go).
		t.held.jobs = append(t.held.jobs, heldJob{id: id, deploymentID: dc.d.ID, phase: k, logBase: logBase, pool: pool,
			demands: jobDemands(js), spec: js, queuedAt: queuedAt})
		j = &ent.Job{ID: id, Status: job.StatusQUEUED}
	} else {
		var err error
		j, err = t.Job.Create().
			SetDeploymentID(dc.d.ID).SetPhase(k).SetLogBase(logBase).SetLogSeq(logBase).SetPool(pool).
			SetDemands(jobDemands(js)).SetSpec(js).
			SetStatus(job.StatusQUEUED).SetQueuedAt(queuedAt).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing job: %w", err)
		}
	}
	if jobstages.Enabled() {
		jobstages.At(j.ID, "queued_at", queuedAt)
		jobstages.Stamp(j.ID, "row written")
		t.queuedJobs = append(t.queuedJobs, j.ID)
	}
	if (k == 0 || dc.d.QueuedAt == nil) && t.heldDeployment(dc.d.ID) {
		d := *dc.d // inserted with its queued_at (held.go)
		d.QueuedAt = &queuedAt
		dc.d = &d
	} else if (k == 0 || dc.d.QueuedAt == nil) && t.batchFresh && t.fresh[dc.d.ID] != nil {
		// A deployment of this transaction's new release: nobody else sees it before commit, so
		// its queued_at is stored with the release's other new rows (flushFresh).
		if t.freshQueuedAt == nil {
			t.freshQueuedAt = map[int]time.Time{}
		}
		t.freshQueuedAt[dc.d.ID] = queuedAt
		d := *dc.d
		d.QueuedAt = &queuedAt
		dc.d = &d
	} else if k == 0 || dc.d.QueuedAt == nil {
		err := t.Deployment.Update().Where(deployment.ID(dc.d.ID)).
			SetQueuedAt(queuedAt).AddVersion(1).SetUpdatedAt(queuedAt).Exec(t.ctx)
		if err != nil {
			return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
		d := *dc.d // the new row is known: it is not read back
		d.QueuedAt, d.Version, d.UpdatedAt = &queuedAt, dc.d.Version+1, queuedAt
		dc.d = &d
	}
	// Not audited: the job row (queued_at, demands) is its record (auditedTransition).
	ev := dc.event(EventJobQueued, actor)
	ev.JobID = j.ID
	ev.Status = string(j.Status)
	return t.emit(ev)
}

func joinNames(names []string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	out := ""
	for i, n := range names {
		switch {
		case i == 0:
			out = n
		case i == len(names)-1:
			out += " and " + n
		default:
			out += ", " + n
		}
	}
	return out
}

// CancelDeployment stops a deployment at whatever stage it is: pending
// approvals are canceled, a deferral's timer retired, a waiting deployment or
// a job not yet given to an agent canceled at once. When an agent holds the
// job (ASSIGNED or RUNNING) the job gets cancel_requested and
// EventJobCancelRequested, and the deployment becomes CANCELED when the agent
// reports (FinishJob), whatever it reports. It needs role EDITOR; a finished
// deployment, or a second cancel while the agent has not reported, is a
// CONFLICT.
func (e *Engine) CancelDeployment(ctx context.Context, actor Actor, deploymentID int, comment string) (*ent.Deployment, error) {
	return e.deploymentAction(ctx, actor, deploymentID, comment, "canceling", func(t *txn, dc *deployCtx) error {
		return t.cancelDeployment(actor, dc, actionReason("canceled", actor, comment))
	})
}

// cancelDeployment cancels dc, or requests the cancel from the agent that
// holds its job.
func (t *txn) cancelDeployment(actor Actor, dc *deployCtx, reason string) error {
	// Every job not final (an agent phase's one, or the targets' of a deployment-group
	// phase), and those agents hold; the check viewerCan makes (DeploymentViewerCan).
	open, held, err := cancelPlan(t.ctx, t.Client(), dc.d)
	if err != nil {
		return err
	}
	if len(held) > 0 {
		if err := t.moveDeployment(actor, dc, DeploymentRequestCancel, reason, nil); err != nil {
			return err
		}
	}
	for _, j := range open {
		switch {
		case j.Status == job.StatusQUEUED:
			if _, err := t.moveJob(actor, dc, j, JobCancel, reason, nil); err != nil {
				return err
			}
		case !j.CancelRequested:
			if err := t.requestJobCancel(actor, dc, j, reason); err != nil {
				return err
			}
		}
	}
	if len(held) > 0 {
		return nil // the deployment ends when the last agent reports
	}
	return t.finishDeployment(actor, dc, DeploymentCancel, reason)
}

// AbandonRelease ends a release: it becomes ABANDONED, its pending approvals
// and its waiting or scheduled deployments are canceled, running ones get a
// cancel request, and nothing more deploys from it. It needs role EDITOR; an
// abandoned release is a CONFLICT.
func (e *Engine) AbandonRelease(ctx context.Context, actor Actor, releaseID int, comment string) (*ent.Release, error) {
	if err := actor.Require(RoleEditor, "abandoning a release"); err != nil {
		return nil, err
	}
	if err := checkActionComment("comment", comment); err != nil {
		return nil, err
	}
	var rel *ent.Release
	err := e.inTx(ctx, func(t *txn) error {
		r, err := t.lockRelease(releaseID)
		if err != nil {
			return err
		}
		if err := t.authorize(actor, r.DefinitionID, "", PermManageDeployments,
			fmt.Sprintf("abandoning release %s", r.Name), NotFound("release", releaseID)); err != nil {
			return err
		}
		to, err := releaseMachine.apply(r.ID, r.Status, ReleaseAbandon)
		if err != nil {
			return err
		}
		rel, err = t.Release.UpdateOne(r).SetStatus(to).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("updating release: %w", err)
		}
		if err := t.audit(actor, "release.abandon", auditTargetRelease, r.ID,
			map[string]any{"status": r.Status}, map[string]any{"status": to, "comment": comment}); err != nil {
			return err
		}
		if err := t.emit(Event{Type: EventReleaseAbandoned, DefinitionID: r.DefinitionID, ReleaseID: r.ID,
			Status: string(to), Actor: actor.String()}); err != nil {
			return err
		}
		open, err := t.Deployment.Query().
			Where(deployment.ReleaseID(r.ID), deployment.StatusNotIn(deployment.StatusSUCCEEDED,
				deployment.StatusPARTIALLY_SUCCEEDED, deployment.StatusFAILED, deployment.StatusREJECTED,
				deployment.StatusCANCELED)).
			Order(ent.Asc(deployment.FieldID)).IDs(t.ctx)
		if err != nil {
			return fmt.Errorf("reading open deployments: %w", err)
		}
		reason := "canceled: release abandoned by " + actor.String()
		for _, id := range open {
			dc, err := t.loadDeployment(id)
			if err != nil {
				return err
			}
			if err := t.cancelDeployment(actor, dc, reason); err != nil && CodeOf(err) != CodeConflict {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("abandoning release %d: %w", releaseID, err)
	}
	return rel.Unwrap(), nil
}

// EnvironmentDeploymentState is what an environment of a definition runs.
type EnvironmentDeploymentState struct {
	Environment string
	// Current is the release of the environment's last SUCCEEDED or
	// PARTIALLY_SUCCEEDED deployment.
	Current *ent.Release
	// Previous is the release deployed successfully before Current.
	Previous *ent.Release
	// Latest is the environment's latest deployment, whatever its status.
	Latest *ent.Deployment
}

// CurrentDeployments reports, for each environment of a definition's current
// revision, which release it runs, which it ran before and its latest
// deployment. A definition the actor may not read is NOT_FOUND.
func (e *Engine) CurrentDeployments(ctx context.Context, actor Actor, definitionID int) ([]*EnvironmentDeploymentState, error) {
	if err := e.RequireReadableDefinition(ctx, actor, definitionID); err != nil {
		return nil, err
	}
	_, snap, err := definitionSnapshotOf(ctx, e.client, definitionID)
	if err != nil {
		return nil, fmt.Errorf("reading current deployments of definition %d: %w", definitionID, err)
	}
	out := make([]*EnvironmentDeploymentState, 0, len(snap.Environments))
	for _, env := range snap.Environments {
		st := &EnvironmentDeploymentState{Environment: env.Name}
		ok, err := e.client.Deployment.Query().
			Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(env.Name),
				deployment.StatusIn(deployment.StatusSUCCEEDED, deployment.StatusPARTIALLY_SUCCEEDED)).
			Order(ent.Desc(deployment.FieldCompletedAt), ent.Desc(deployment.FieldID)).
			WithRelease().Limit(50).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading deployments of %s: %w", env.Name, err)
		}
		for _, d := range ok {
			switch {
			case st.Current == nil:
				st.Current = d.Edges.Release
			case d.ReleaseID != st.Current.ID:
				st.Previous = d.Edges.Release
			}
			if st.Previous != nil {
				break
			}
		}
		latest, err := e.client.Deployment.Query().
			Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(env.Name)).
			Order(ent.Desc(deployment.FieldID)).First(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, fmt.Errorf("reading the latest deployment of %s: %w", env.Name, err)
		}
		st.Latest = latest
		out = append(out, st)
	}
	return out, nil
}

// failedTargets names the deployment-group targets of the last deployment of rel to re that
// did not succeed (failed, lost, canceled, skipped or never started); none is INVALID_INPUT.
func (t *txn) failedTargets(rel *ent.Release, re *ent.ReleaseEnvironment) ([]string, error) {
	last, err := t.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Order(ent.Desc(deployment.FieldAttempt)).First(t.ctx)
	if ent.IsNotFound(err) {
		return nil, Invalid("failedTargetsOnly", "release %s was never deployed to %s", rel.Name, re.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading the last deployment: %w", err)
	}
	jobs, err := t.Job.Query().Where(job.DeploymentID(last.ID), job.TargetNEQ("")).All(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the targets of deployment %d: %w", last.ID, err)
	}
	ok := map[string]bool{}
	var names []string
	for _, j := range jobs {
		if j.Status == job.StatusSUCCEEDED || j.Status == job.StatusPARTIALLY_SUCCEEDED {
			ok[j.Target] = true
		}
	}
	for _, j := range jobs {
		if !ok[j.Target] && !slices.Contains(names, j.Target) {
			names = append(names, j.Target)
		}
	}
	if len(names) == 0 {
		return nil, Invalid("failedTargetsOnly", "the last deployment of %s to %s (attempt %d) has no target that failed", rel.Name, re.Name, last.Attempt)
	}
	slices.Sort(names)
	return names, nil
}

// queuedStatus is a deployment's QUEUED status (release.go reads queues without importing the
// deployment package).
const queuedStatus = deployment.StatusQUEUED
