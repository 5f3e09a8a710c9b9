package delivery

import (
	"context"
	stdsql "database/sql"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/predicate"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// This file keeps releases moving forward through an environment: newer
// releases supersede older waiting ones under LATEST_ONLY, automatic
// deployments never land over a newer release, and a deployment holds its
// queue slot until it is final.

// busyStatuses are the statuses in which a deployment that has a job holds
// one of its environment's MaxParallel slots: from its job's creation until
// its post-deployment approval is decided.
var busyStatuses = []deployment.Status{
	deployment.StatusQUEUED, deployment.StatusIN_PROGRESS, deployment.StatusPENDING_POST_APPROVAL,
	deployment.StatusEVALUATING_POST_GATES,
}

// holdsSlot selects the deployments the queue gave their slot: a job or a
// manual intervention (its first phase) was created for them.
func holdsSlot() predicate.Deployment {
	return deployment.Or(deployment.HasJobs(), deployment.HasManualInterventions())
}

// busySlots counts the deployments of an environment that hold a queue
// slot: those with a job (or a manual intervention) that are not final. A deployment whose job
// succeeded stays busy while its post-deployment approval is pending, as
// Azure DevOps shows the stage in progress until then.
func (t *txn) busySlots(definitionID int, envName string) (int, error) {
	n, err := t.Deployment.Query().
		Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(envName),
			deployment.StatusIn(busyStatuses...), holdsSlot()).
		Count(t.ctx)
	if err != nil {
		return 0, fmt.Errorf("counting busy deployments: %w", err)
	}
	return n, nil
}

// newestLanded returns the newest release (by number) that the deployment's
// environment runs or is deploying, other than the deployment's own: the
// release of its latest SUCCEEDED or PARTIALLY_SUCCEEDED deployment (the one
// it runs now, even after a rollback), and those of deployments whose jobs
// were created and that are not final. Nil when there is none.
//
// It costs at most three statements whatever the environment's backlog, and
// the releases it returns hold only their id, number and name (no snapshot
// is read): the newest in-flight release is found by the database walking
// the definition's releases down the (definition_id, number) index until
// one has a deployment in flight here, which in a burst is the first.
func (t *txn) newestLanded(dc *deployCtx) (*ent.Release, error) {
	l, err := t.landedOf(dc.d.DefinitionID, dc.d.EnvironmentName, dc.rel.ID)
	if err != nil {
		return nil, err
	}
	newest := l.inFlight
	if l.current != nil && l.current.ID != dc.rel.ID && (newest == nil || l.current.Number >= newest.Number) {
		newest = l.current
	}
	return newest, nil
}

// landed is what an environment runs and deploys, as a transaction read it: the release of
// its current deployment (the latest SUCCEEDED or PARTIALLY_SUCCEEDED) and the newest release,
// other than the one being deployed, with a deployment in flight there (a job or a manual
// intervention, not final). The releases hold their id, number and name only.
type landed struct {
	gen               int // t.landed when read
	current, inFlight *ent.Release
}

// landedKey names what landedOf read: an environment of a definition, leaving out a release.
type landedKey struct {
	definition int
	env        string
	release    int
}

// landedOf reads an environment's landed releases (leaving out release relID) in one statement,
// or returns what the transaction read since nothing landed (t.landed): a new deployment's
// operation (operationFor) and its forward-only decisions (newestLanded) share one read, where
// they were three statements. A deployment of relID is left out with its release, so that
// the answer read before a deployment of relID is created holds after it.
func (t *txn) landedOf(defID int, env string, relID int) (landed, error) {
	if relID != 0 && relID == t.newestRelease {
		// The release this transaction numbered, above every other of its definition, under the
		// definition's lock: what any environment runs or deploys is older, which operationFor
		// and forwardOnly decide on as on nothing (DEPLOY; goes on).
		return landed{gen: t.landed}, nil
	}
	key := landedKey{defID, env, relID}
	if l, ok := t.landedMemo[key]; ok && l.gen == t.landed {
		return l, nil
	}
	l, err := readLanded(t.ctx, t, t.postgres(), defID, env, relID)
	if err != nil {
		return landed{}, err
	}
	l.gen = t.landed
	if t.landedMemo == nil {
		t.landedMemo = map[landedKey]landed{}
	}
	t.landedMemo[key] = l
	return l, nil
}

// landedQuery is readLanded's statement: two ordered reads, each by an index (deployments by
// definition, environment and status; releases by definition and number), in one round trip.
const landedQuery = `SELECT 0 AS kind, id, number, name FROM (
	SELECT r.id, r.number, r.name FROM deployments AS d JOIN releases AS r ON r.id = d.release_id
	WHERE d.definition_id = ?1 AND d.environment_name = ?2 AND d.status IN ('SUCCEEDED', 'PARTIALLY_SUCCEEDED')
	ORDER BY d.completed_at DESC, d.id DESC LIMIT 1) AS cur
UNION ALL
SELECT 1 AS kind, id, number, name FROM (
	SELECT r.id, r.number, r.name FROM releases AS r
	WHERE r.definition_id = ?1 AND r.id <> ?3 AND EXISTS (
		SELECT 1 FROM deployments AS d WHERE d.release_id = r.id AND d.environment_name = ?2
		AND d.status IN ('QUEUED', 'IN_PROGRESS', 'PENDING_POST_APPROVAL', 'EVALUATING_POST_GATES')
		AND (EXISTS (SELECT 1 FROM jobs AS j WHERE j.deployment_id = d.id)
			OR EXISTS (SELECT 1 FROM manual_interventions AS m WHERE m.deployment_id = d.id)))
	ORDER BY r.number DESC LIMIT 1) AS flight`

// landedQueryPostgres is landedQuery with PostgreSQL's placeholders.
var landedQueryPostgres = strings.NewReplacer("?1", "$1", "?2", "$2", "?3", "$3").Replace(landedQuery)

// readLanded runs landedQuery.
func readLanded(ctx context.Context, tx interface {
	QueryContext(context.Context, string, ...any) (*stdsql.Rows, error)
}, postgres bool, defID int, env string, relID int) (landed, error) {
	q := landedQuery
	if postgres {
		q = landedQueryPostgres
	}
	rows, err := tx.QueryContext(ctx, q, defID, env, relID)
	if err != nil {
		return landed{}, fmt.Errorf("reading the releases %s runs and deploys: %w", env, err)
	}
	defer rows.Close()
	var l landed
	for rows.Next() {
		var kind int
		r := &ent.Release{}
		if err := rows.Scan(&kind, &r.ID, &r.Number, &r.Name); err != nil {
			return landed{}, fmt.Errorf("reading the releases %s runs and deploys: %w", env, err)
		}
		if kind == 0 {
			l.current = r
		} else {
			l.inFlight = r
		}
	}
	if err := rows.Err(); err != nil {
		return landed{}, fmt.Errorf("reading the releases %s runs and deploys: %w", env, err)
	}
	return l, nil
}

// newestLanded is (*txn).newestLanded for any client: of environment env of
// definition defID, leaving out release relID and deployment depID (0: none).
func newestLanded(ctx context.Context, c *ent.Client, defID int, env string, relID, depID int) (*ent.Release, error) {
	var newest *ent.Release
	current, err := c.Deployment.Query().
		Where(deployment.DefinitionID(defID), deployment.EnvironmentName(env),
			deployment.StatusIn(deployment.StatusSUCCEEDED, deployment.StatusPARTIALLY_SUCCEEDED)).
		Order(ent.Desc(deployment.FieldCompletedAt), ent.Desc(deployment.FieldID)).
		Select(deployment.FieldReleaseID).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading the current deployment: %w", err)
	case current.ReleaseID != relID:
		newest, err = c.Release.Query().Where(release.ID(current.ReleaseID)).
			Select(release.FieldID, release.FieldNumber, release.FieldName).Only(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the current release: %w", err)
		}
	}
	inFlight, err := c.Release.Query().
		Where(release.DefinitionID(defID), release.IDNEQ(relID),
			release.HasDeploymentsWith(deployment.EnvironmentName(env),
				deployment.StatusIn(busyStatuses...), holdsSlot(), deployment.IDNEQ(depID))).
		Order(ent.Desc(release.FieldNumber)).
		Select(release.FieldID, release.FieldNumber, release.FieldName).First(ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading deployments in flight: %w", err)
	case newest == nil || inFlight.Number > newest.Number:
		newest = inFlight
	}
	return newest, nil
}

// forwardOnly decides whether a deployment may go on (to the queue or to
// its job) without stepping backwards. When the environment runs or is
// deploying a newer release, an automatic deployment is superseded
// (CANCELED, with the reason) and forwardOnly reports false; a person's
// deployment goes on as a ROLLBACK, recorded as such if it was not one
// when requested. Only a person's explicit deployEnvironment goes back.
func (t *txn) forwardOnly(actor Actor, dc *deployCtx) (bool, error) {
	if gen, ok := t.forwardOK[dc.d.ID]; ok && gen == t.landed {
		return true, nil // decided in this transaction, and nothing landed since
	}
	newer, err := t.newestLanded(dc)
	if err != nil {
		return false, err
	}
	if newer == nil || newer.Number < dc.rel.Number {
		if t.forwardOK == nil {
			t.forwardOK = map[int]int{}
		}
		t.forwardOK[dc.d.ID] = t.landed
		return true, nil
	}
	if dc.d.Automatic {
		why := fmt.Sprintf("canceled: %s is older than release %s, which %s runs or is deploying; an automatic deployment never goes back (deploy the release explicitly to roll back)",
			dc.rel.Name, newer.Name, dc.d.EnvironmentName)
		return false, t.supersede(actor, dc, why)
	}
	if newer.Number > dc.rel.Number && dc.d.Operation != deployment.OperationROLLBACK {
		from := dc.d.Operation
		d, err := t.Deployment.UpdateOne(dc.d).Where(deployment.Version(dc.d.Version)).
			SetOperation(deployment.OperationROLLBACK).AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
		if ent.IsNotFound(err) {
			return false, Conflict("deployment %d changed concurrently; read it again", dc.d.ID)
		}
		if err != nil {
			return false, fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
		dc.d = d
		if err := t.audit(actor, "deployment.operation", auditTargetDeployment, d.ID, map[string]any{"operation": from},
			map[string]any{"operation": d.Operation, "over": newer.Name}); err != nil {
			return false, err
		}
	}
	return true, nil
}

// supersede cancels a deployment that has not started its job (pending
// approval, scheduled, waiting, or with a job no agent holds yet): the job is
// canceled, and finishDeployment cancels its approvals (approvers get the
// approval.decided event with status CANCELED and the reason) and retires its
// deferral, so a deferral that comes due does nothing.
func (t *txn) supersede(actor Actor, dc *deployCtx, why string) error {
	open, err := t.Job.Query().Where(job.DeploymentID(dc.d.ID), job.StatusIn(job.StatusQUEUED, job.StatusASSIGNED, job.StatusRUNNING)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading the jobs of deployment %d: %w", dc.d.ID, err)
	}
	for _, j := range open {
		if j.Status != job.StatusQUEUED {
			return Conflict("deployment %d: its job is %s and cannot be superseded", dc.d.ID, j.Status)
		}
	}
	for _, j := range open {
		if _, err := t.moveJob(actor, dc, j, JobCancel, why, nil); err != nil {
			return err
		}
	}
	return t.finishDeployment(actor, dc, DeploymentSupersede, why)
}

// supersedeOlder applies LATEST_ONLY when a newer release's deployment of
// an environment is requested: every deployment of an older release to the
// environment that has not started its job (pending pre-deployment
// approval, scheduled, waiting, or queued for an agent) is superseded, with
// a reason naming the newer release.
func (t *txn) supersedeOlder(actor Actor, dc *deployCtx) error {
	policy := t.queuePolicy(dc.d.DefinitionID, dc.d.EnvironmentName, dc.rel)
	if policy.Mode != spec.QueueLatestOnly {
		return nil
	}
	older, err := t.Deployment.Query().
		Where(deployment.DefinitionID(dc.d.DefinitionID), deployment.EnvironmentName(dc.d.EnvironmentName),
			deployment.StatusIn(deployment.StatusPENDING_APPROVAL, deployment.StatusEVALUATING_GATES, deployment.StatusSCHEDULED, deployment.StatusQUEUED),
			deployment.HasReleaseWith(release.NumberLT(dc.rel.Number)),
			deployment.Or(deployment.Not(holdsSlot()), deployment.HasJobsWith(job.Phase(0), job.StatusEQ(job.StatusQUEUED)))).
		Order(ent.Asc(deployment.FieldID)).IDs(t.ctx)
	if err != nil {
		return fmt.Errorf("reading older deployments: %w", err)
	}
	for _, id := range older {
		odc, err := t.loadDeployment(id)
		if err != nil {
			return err
		}
		if err := t.supersede(actor, odc, "canceled: superseded by release "+dc.rel.Name); err != nil {
			return err
		}
	}
	return nil
}
