package delivery

import (
	"context"
	"fmt"
	"slices"
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

// beginDeployment starts a deployment of rel to re: the environment moves to
// QUEUED (the guard against two deployments at once), the pre-deployment
// approvals open, and when they need nobody the deployment goes on to the
// queue at once. An automatic deployment (a trigger's, not a person's) of
// a release older than the one the environment runs is recorded and
// superseded at once; under LATEST_ONLY a new deployment supersedes the
// older releases' deployments that have not started their jobs.
//
// Freeze windows active on the environment (freezeCheck): a REFUSE window
// refuses a person's request (ErrFrozen) and cancels a trigger's deployment
// at once, with the reason; a WAIT window lets the deployment wait in the
// queue until it ends; overrideFreeze (ADMIN) goes through.
func (t *txn) beginDeployment(actor Actor, rel *ent.Release, re *ent.ReleaseEnvironment, requestedBy, reason string, automatic, overrideFreeze bool) (*ent.Deployment, error) {
	if err := releaseDeploys(rel); err != nil {
		return nil, err
	}
	env, ok := rel.Snapshot.Environment(re.Name)
	if !ok {
		return nil, fmt.Errorf("release %d has no environment %q in its snapshot", rel.ID, re.Name)
	}
	if _, err := environmentMachine.apply(re.ID, re.Status, EnvironmentDeploy); err != nil {
		return nil, err
	}
	throughFreeze, frozenOut, err := t.freezeCheck(actor, rel.DefinitionID, re.Name, overrideFreeze, automatic)
	if err != nil {
		return nil, err
	}
	attempts, err := t.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Count(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("counting attempts: %w", err)
	}
	op, err := t.operationFor(rel, re, attempts)
	if err != nil {
		return nil, err
	}
	d, err := t.Deployment.Create().
		SetAttempt(attempts + 1).SetOperation(op).SetStatus(deployment.StatusPENDING_APPROVAL).
		SetRequestedBy(requestedBy).SetReason(reason).SetAutomatic(automatic).SetEnvironmentName(re.Name).
		SetFreezeOverride(throughFreeze).SetOnlyTargets(t.onlyTargets).
		SetReleaseID(rel.ID).SetReleaseEnvironmentID(re.ID).SetDefinitionID(rel.DefinitionID).
		SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("storing deployment: %w", err)
	}
	dc := &deployCtx{d: d, rel: rel, re: re, env: env}
	if err := t.moveEnvironment(actor, dc, EnvironmentDeploy); err != nil {
		return nil, err
	}
	after := map[string]any{
		"release": rel.Name, "environment": re.Name, "attempt": d.Attempt, "operation": op,
		"requestedBy": requestedBy, "reason": reason, "status": d.Status, "automatic": automatic,
	}
	// A person's request is audited; a trigger's deployment is not an audit row of its own:
	// the deployment row (automatic, requestedBy, reason, times) is its record.
	if !automatic {
		if err := t.audit(actor, "deployment.create", auditTargetDeployment, d.ID, nil, after); err != nil {
			return nil, err
		}
	}
	ev := dc.event(EventDeploymentStarted, actor)
	ev.Data = map[string]any{"operation": string(op), "attempt": d.Attempt}
	if err := t.emit(ev); err != nil {
		return nil, err
	}
	if frozenOut != "" {
		return dc.d, t.finishDeployment(actor, dc, DeploymentCancel, frozenOut)
	}
	if automatic {
		if ok, err := t.forwardOnly(actor, dc); err != nil || !ok {
			return dc.d, err
		}
	}
	if err := t.supersedeOlder(actor, dc); err != nil {
		return nil, err
	}
	if err := t.openPreStage(actor, dc); err != nil {
		return nil, err
	}
	return dc.d, nil
}

// operationFor names a new deployment: ROLLBACK when the release currently
// deployed to the environment is newer, REDEPLOY when this release was
// deployed there before, else DEPLOY.
func (t *txn) operationFor(rel *ent.Release, re *ent.ReleaseEnvironment, attempts int) (deployment.Operation, error) {
	return operationOf(t.ctx, t.Client(), rel, re, attempts)
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
	u := t.Deployment.UpdateOne(dc.d).Where(deployment.Version(dc.d.Version)).
		SetStatus(to).AddVersion(1).SetUpdatedAt(t.now)
	if statusReason != "" {
		u.SetStatusReason(statusReason)
	}
	if deploymentFinal(to) {
		u.SetCompletedAt(t.now)
	}
	if set != nil {
		set(u)
	}
	d, err := u.Save(t.ctx)
	if ent.IsNotFound(err) {
		return Conflict("deployment %d changed concurrently; read it again", dc.d.ID)
	}
	if err != nil {
		return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
	}
	dc.d = d
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
	from := dc.re.Status
	to, err := environmentMachine.apply(dc.re.ID, from, ev)
	if err != nil {
		return err
	}
	re, err := t.ReleaseEnvironment.UpdateOne(dc.re).Where(releaseenvironment.Version(dc.re.Version)).
		SetStatus(to).AddVersion(1).SetUpdatedAt(t.now).Save(t.ctx)
	if ent.IsNotFound(err) {
		return Conflict("environment %s of release %s changed concurrently; read it again", dc.re.Name, dc.rel.Name)
	}
	if err != nil {
		return fmt.Errorf("updating environment %s: %w", dc.re.Name, err)
	}
	dc.re = re
	// Not audited: an environment's status follows its deployments (auditedTransition).
	ev2 := dc.event(EventEnvironmentStatusChanged, actor)
	ev2.Status = string(to)
	return t.emit(ev2)
}

// afterPreApproval moves a deployment whose pre-deployment approvals
// completed on: to its gates when they follow the approvals, else to what
// follows the stage (preStageDone).
func (t *txn) afterPreApproval(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PreGates, spec.GatesAfterApprovals) {
		return t.startGates(actor, dc, approval.StagePRE)
	}
	return t.preStageDone(actor, dc)
}

// preStageDone moves a deployment whose pre-deployment stage (approvals and
// gates) completed on: to SCHEDULED when an approver deferred it to a future
// time, else into the environment's queue.
func (t *txn) preStageDone(actor Actor, dc *deployCtx) error {
	aps, err := t.Approval.Query().
		Where(approval.DeploymentID(dc.d.ID), approval.StageEQ(approval.StagePRE), approval.DeferredUntilNotNil()).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading deferrals: %w", err)
	}
	var until time.Time
	for _, a := range aps {
		if a.DeferredUntil.After(until) {
			until = *a.DeferredUntil
		}
	}
	if until.After(t.now) {
		if err := t.moveDeployment(actor, dc, DeploymentDefer, "", func(u *ent.DeploymentUpdateOne) { u.SetDeferredUntil(until) }); err != nil {
			return err
		}
		if err := t.moveEnvironment(actor, dc, EnvironmentSchedule); err != nil {
			return err
		}
		return t.createTimer(timerDeferredDeployment, dc.d.ID, until, "")
	}
	return t.enqueue(actor, dc)
}

// enqueue puts an approved deployment into its environment's queue and lets
// the queue policy decide whether its job is created now. An automatic
// deployment that would step backwards is superseded instead.
func (t *txn) enqueue(actor Actor, dc *deployCtx) error {
	if ok, err := t.forwardOnly(actor, dc); err != nil || !ok {
		return err
	}
	if err := t.moveDeployment(actor, dc, DeploymentQueue, "", nil); err != nil {
		return err
	}
	if err := t.moveEnvironment(actor, dc, EnvironmentQueue); err != nil {
		return err
	}
	return t.pumpQueue(actor, dc.d.DefinitionID, dc.d.EnvironmentName)
}

// queuePolicy returns the queue policy of an environment from the
// definition's current revision (so that a change applies to the releases
// already waiting), or from the newest release that has it.
func (t *txn) queuePolicy(definitionID int, envName string, fallback *ent.Release) spec.QueuePolicy {
	if _, snap, err := t.definitionSnapshot(definitionID); err == nil {
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
	waiting := func() *ent.DeploymentQuery {
		return t.Deployment.Query().
			Where(deployment.DefinitionID(definitionID), deployment.EnvironmentName(envName),
				deployment.StatusEQ(deployment.StatusQUEUED), deployment.Not(holdsSlot()))
	}
	newest, err := waiting().
		Order(deployment.ByReleaseField(release.FieldNumber, sql.OrderDesc()), deployment.ByID(sql.OrderDesc())).
		Select(deployment.FieldID, deployment.FieldReleaseID).First(t.ctx)
	if ent.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading waiting deployments: %w", err)
	}
	policy, err := t.queuePolicyFor(definitionID, envName, newest.ReleaseID)
	if err != nil {
		return err
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
	if f, err := frozenAt(t.ctx, t.Client(), definitionID, envName, t.now); err != nil {
		return err
	} else if f != nil {
		candidates = candidates.Where(deployment.FreezeOverride(true))
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
		ids, err := candidates.Clone().
			Order(deployment.ByReleaseField(release.FieldNumber), deployment.ByID()).Limit(page).IDs(t.ctx)
		if err != nil {
			return fmt.Errorf("reading waiting deployments: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		for _, id := range ids {
			if seen[id] {
				return nil // it neither started nor left the queue: nothing more to do
			}
			seen[id] = true
			dc, err := t.loadDeployment(id)
			if err != nil {
				return err
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
	if _, snap, err := t.definitionSnapshot(definitionID); err == nil {
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
	j, err := t.Job.Create().
		SetDeploymentID(dc.d.ID).SetPhase(k).SetLogBase(logBase).SetLogSeq(logBase).SetPool(pool).
		SetDemands(jobDemands(js)).SetSpec(js).
		SetStatus(job.StatusQUEUED).SetQueuedAt(queuedAt).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
	if err != nil {
		return fmt.Errorf("storing job: %w", err)
	}
	if k == 0 || dc.d.QueuedAt == nil {
		d, err := t.Deployment.UpdateOne(dc.d).SetQueuedAt(queuedAt).AddVersion(1).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("updating deployment %d: %w", dc.d.ID, err)
		}
		dc.d = d
	}
	// Not audited: the job row (queued_at, demands) is its record (auditedTransition).
	ev := dc.event(EventJobQueued, actor)
	ev.JobID = j.ID
	ev.Status = string(j.Status)
	return t.emit(ev)
}

// finishDeployment ends a deployment with ev (succeed, succeedPartially,
// fail, reject, timeOut, cancel, supersede): its release environment follows,
// pending approvals are canceled (with the status reason), timers retired,
// the queue slot it held (if it had a job) goes to the next waiting
// deployment, and on success the environments waiting on this one are
// triggered.
func (t *txn) finishDeployment(actor Actor, dc *deployCtx, ev DeploymentEvent, statusReason string) error {
	heldSlot, err := t.Deployment.Query().Where(deployment.ID(dc.d.ID), holdsSlot()).Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("reading job of deployment %d: %w", dc.d.ID, err)
	}
	if err := t.moveDeployment(actor, dc, ev, statusReason, nil); err != nil {
		return err
	}
	if err := t.moveEnvironment(actor, dc, environmentEventFor[ev]); err != nil {
		return err
	}
	pending, err := t.Approval.Query().
		Where(approval.DeploymentID(dc.d.ID), approval.StatusEQ(approval.StatusPENDING)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading pending approvals: %w", err)
	}
	cancelNote := "canceled: deployment " + string(dc.d.Status)
	if statusReason != "" {
		cancelNote += " (" + statusReason + ")"
	}
	for _, a := range pending {
		if _, err := t.moveApproval(actor, dc, a, ApprovalCancel, truncateText(cancelNote, maxActionComment), nil); err != nil {
			return err
		}
	}
	if err := t.retireTimers(timerDeferredDeployment, dc.d.ID); err != nil {
		return err
	}
	if err := t.retireTimers(timerGates, dc.d.ID); err != nil {
		return err
	}
	if err := t.cancelInterventions(actor, dc, cancelNote); err != nil {
		return err
	}
	fin := dc.event(EventDeploymentFinished, actor)
	fin.Data = map[string]any{"statusReason": statusReason}
	if err := t.emit(fin); err != nil {
		return err
	}
	if heldSlot {
		if err := t.pumpQueue(actor, dc.d.DefinitionID, dc.d.EnvironmentName); err != nil {
			return err
		}
	}
	if dc.d.Status == deployment.StatusSUCCEEDED || dc.d.Status == deployment.StatusPARTIALLY_SUCCEEDED {
		return t.triggerDownstream(actor, dc)
	}
	return nil
}

// triggerDownstream starts the environments of the release whose
// AFTER_ENVIRONMENTS condition the finished deployment completed: every
// listed environment SUCCEEDED (or PARTIALLY_SUCCEEDED when allowed), the
// environment not manual for this release and never deployed for it before.
func (t *txn) triggerDownstream(actor Actor, dc *deployCtx) error {
	rel, err := t.Release.Get(t.ctx, dc.rel.ID)
	if err != nil {
		return fmt.Errorf("reading release %d: %w", dc.rel.ID, err)
	}
	if rel.Status != release.StatusACTIVE {
		return nil
	}
	envs, err := t.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID)).
		Order(ent.Asc(releaseenvironment.FieldRank)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading environments: %w", err)
	}
	status := map[string]releaseenvironment.Status{}
	for _, re := range envs {
		status[re.Name] = re.Status
	}
	for _, re := range envs {
		env, ok := rel.Snapshot.Environment(re.Name)
		if !ok || env.Trigger.Kind != spec.TriggerAfterEnvironments || re.Manual ||
			!slices.Contains(env.Trigger.Environments, dc.re.Name) || len(env.Trigger.Environments) == 0 {
			continue
		}
		met := true
		for _, up := range env.Trigger.Environments {
			s := status[up]
			met = met && (s == releaseenvironment.StatusSUCCEEDED ||
				(s == releaseenvironment.StatusPARTIALLY_SUCCEEDED && env.Trigger.AllowPartiallySucceeded))
		}
		if !met {
			continue
		}
		deployed, err := t.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Exist(t.ctx)
		if err != nil {
			return fmt.Errorf("reading deployments of %s: %w", re.Name, err)
		}
		if deployed {
			continue
		}
		reason := fmt.Sprintf("triggered: %s %s", joinNames(env.Trigger.Environments), "succeeded")
		if _, err := t.beginDeployment(actor, rel, re, rel.CreatedBy, reason, true, false); err != nil {
			return fmt.Errorf("triggering %s: %w", re.Name, err)
		}
	}
	return nil
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
