package delivery

import (
	"fmt"
	"slices"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// The stages of a deployment, in the order they run. Each function moves the deployment on and
// calls out to the part that does the work of a stage:
//
//  1. beginDeployment: a deployment is created (by a trigger, a person or a schedule), its freeze
//     windows and forward-only rule checked (freeze.go, forward.go);
//  2. openPreStage: the pre-deployment stage, gates and approvals in the policy's order
//     (gates.go, approval.go); afterPreApproval and preStageDone when it passes;
//  3. enqueue: the queue policy admits the deployment or holds it (pumpQueue, deploy.go);
//  4. the phases run (phases.go: startPhase): a job per agent phase or per target, dispatched to
//     agents (dispatch.go), manual interventions between tasks (intervention.go);
//  5. finishJobDeployment: the jobs' results decide the deployment;
//  6. openPostStage: the post-deployment stage, again gates and approvals; afterPostApproval and
//     postStageDone when it passes;
//  7. finishDeployment: the final state, the environment's status, the queue pumped;
//     triggerDownstream: the environments that follow this one start.
//
// Cancel, abandon and time-outs end a deployment from any stage through finishDeployment
// (deploy.go: cancelDeployment; approval.go; gates.go; intervention.go).

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
func (t *txn) beginDeployment(actor Actor, rel *ent.Release, re *ent.ReleaseEnvironment, requestedBy, reason string, automatic, overrideFreeze bool) (_ *ent.Deployment, err error) {
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
	attempts := 0
	if !t.freshEnvs[re.ID] {
		if attempts, err = t.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Count(t.ctx); err != nil {
			return nil, fmt.Errorf("counting attempts: %w", err)
		}
	}
	op, err := t.operationFor(rel, re, attempts)
	if err != nil {
		return nil, err
	}
	var d *ent.Deployment
	held := t.holdDeployment(rel)
	if held != 0 {
		// Inserted later, as it is then, with the release's other new rows (held.go).
		d = newHeldDeployment(held, t.now, attempts+1, op, requestedBy, reason, automatic, throughFreeze,
			t.onlyTargets, re.Name, rel.DefinitionID, rel.ID, re.ID)
	} else if d, err = t.Deployment.Create().
		SetAttempt(attempts + 1).SetOperation(op).SetStatus(deployment.StatusPENDING_APPROVAL).
		SetRequestedBy(requestedBy).SetReason(reason).SetAutomatic(automatic).SetEnvironmentName(re.Name).
		SetFreezeOverride(throughFreeze).SetOnlyTargets(t.onlyTargets).
		SetReleaseID(rel.ID).SetReleaseEnvironmentID(re.ID).SetDefinitionID(rel.DefinitionID).
		SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx); err != nil {
		return nil, fmt.Errorf("storing deployment: %w", err)
	}
	dc := &deployCtx{d: d, rel: rel, re: re, env: env}
	if held != 0 {
		t.addHeldDeployment(dc)
	}
	if t.fresh == nil {
		t.fresh = map[int]*deployCtx{}
	}
	t.fresh[d.ID] = dc
	// The environment's PENDING_APPROVAL is written when the deployment stops there (or goes
	// on to another status: the queue, gates, its end) before this returns.
	if err := t.moveEnvironmentLater(actor, dc, EnvironmentDeploy); err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			err = t.writeEnvironment(dc)
		}
	}()
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

// openPreStage opens a new deployment's pre-deployment stage: its gates
// first when they come before the approvals, else its approvals.
func (t *txn) openPreStage(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PreGates, spec.GatesBeforeApprovals) {
		return t.startGates(actor, dc, approval.StagePRE)
	}
	return t.openApprovals(actor, dc, approval.StagePRE)
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
	var aps []*ent.Approval
	if t.fresh[dc.d.ID] == nil { // a deployment created in this transaction: nobody deferred it
		var err error
		aps, err = t.Approval.Query().
			Where(approval.DeploymentID(dc.d.ID), approval.StageEQ(approval.StagePRE), approval.DeferredUntilNotNil()).All(t.ctx)
		if err != nil {
			return fmt.Errorf("reading deferrals: %w", err)
		}
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
	if t.queuesFresh(dc) {
		return t.enqueueFresh(actor, dc)
	}
	if err := t.moveDeployment(actor, dc, DeploymentQueue, "", nil); err != nil {
		return err
	}
	if err := t.moveEnvironment(actor, dc, EnvironmentQueue); err != nil {
		return err
	}
	return t.pumpQueue(actor, dc.d.DefinitionID, dc.d.EnvironmentName)
}

// queuesFresh reports whether enqueue may write dc's move to QUEUED with the queue's first read
// (enqueueFresh): on PostgreSQL, for a deployment of the release this transaction numbered above
// every other (so it comes last in the queue's order), created by it while its environments are
// triggered, whose environment's queue policy is at hand and is not LATEST_ONLY (so the pump's
// first read of the deployments is that of the waiting ones).
func (t *txn) queuesFresh(dc *deployCtx) bool {
	if !t.postgres() || !t.batchFresh || t.fresh[dc.d.ID] != dc || t.newestRelease == 0 || dc.rel.ID != t.newestRelease {
		return false
	}
	if t.releaseSnap == nil || t.releaseSnapDef != dc.d.DefinitionID {
		return false
	}
	env, ok := t.releaseSnap.Environment(dc.d.EnvironmentName)
	return ok && env.Queue.Mode != spec.QueueLatestOnly
}

// enqueueFresh is enqueue's move to QUEUED whose row is written by the queue's first read of its
// waiting deployments (pumpQueueHeld): one statement instead of two. Its audit row (when the
// transition is audited) and status event are the same, in the same order.
func (t *txn) enqueueFresh(actor Actor, dc *deployCtx) error {
	from := dc.d.Status
	to, err := deploymentMachine.apply(dc.d.ID, from, DeploymentQueue)
	if err != nil {
		return err
	}
	// A held deployment (held.go) is inserted with its move: nothing to write here.
	held := &heldQueue{dc: dc, version: dc.d.Version, inserted: t.heldDeployment(dc.d.ID)}
	next := *dc.d
	next.Status, next.Version, next.UpdatedAt = to, dc.d.Version+1, t.now
	dc.d = &next
	if err := t.movedDeployment(actor, dc, DeploymentQueue, from, to, ""); err != nil {
		return err
	}
	if err := t.moveEnvironment(actor, dc, EnvironmentQueue); err != nil {
		return err
	}
	return t.pumpQueueHeld(actor, dc.d.DefinitionID, dc.d.EnvironmentName, held)
}

// finishJobDeployment moves the deployment of a finished job on: a target's job to its
// deployment-group step (targetJobEnded); an agent phase's success to the next step, its
// failure to the steps that run after a failure (phaseFailed).
func (t *txn) finishJobDeployment(actor Actor, dc *deployCtx, j *ent.Job, canceled bool, reason string) error {
	if j.Target != "" {
		// A person's cancel requested it (the deployment's status reason says so); a job
		// timeout also requests a cancel, which fails only that target.
		return t.targetJobEnded(actor, dc, j, canceled && dc.d.StatusReason != "" && !deploymentFinal(dc.d.Status))
	}
	if canceled {
		why := dc.d.StatusReason
		if why == "" {
			why = "canceled"
		}
		if j.Status != job.StatusCANCELED {
			why += fmt.Sprintf(" (the job had ended %s)", j.Status)
		}
		return t.finishDeployment(actor, dc, DeploymentCancel, why)
	}
	switch j.Status {
	case job.StatusSUCCEEDED, job.StatusPARTIALLY_SUCCEEDED:
		// The next phase (a manual intervention, or the job after one), or
		// the post-deployment stage after the last.
		return t.startPhase(actor, dc, j.Phase+1)
	case job.StatusCANCELED:
		return t.finishDeployment(actor, dc, DeploymentCancel, prefixed("canceled", reason))
	case job.StatusLOST:
		return t.phaseFailed(actor, dc, j.Phase, prefixed("agent lost", reason))
	default:
		return t.phaseFailed(actor, dc, j.Phase, prefixed("failed", reason))
	}
}

// openPostStage opens the post-deployment stage of a deployment whose job
// succeeded, in the same way.
func (t *txn) openPostStage(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PostGates, spec.GatesBeforeApprovals) {
		return t.startGates(actor, dc, approval.StagePOST)
	}
	return t.openApprovals(actor, dc, approval.StagePOST)
}

// afterPostApproval moves a deployment whose post-deployment approvals
// completed on: to its post-deployment gates when they follow the
// approvals, else to its end (postStageDone).
func (t *txn) afterPostApproval(actor Actor, dc *deployCtx) error {
	if gatesAfter(dc.env.PostGates, spec.GatesAfterApprovals) {
		return t.startGates(actor, dc, approval.StagePOST)
	}
	return t.postStageDone(actor, dc)
}

// postStageDone ends a deployment whose post-deployment stage completed:
// PARTIALLY_SUCCEEDED when one of its jobs partially succeeded or a target
// failed (within its phase's threshold) or was skipped, else SUCCEEDED.
func (t *txn) postStageDone(actor Actor, dc *deployCtx) error {
	partial, err := t.Job.Query().
		Where(job.DeploymentID(dc.d.ID), job.Or(job.StatusEQ(job.StatusPARTIALLY_SUCCEEDED),
			// Targets that failed within the phase's threshold, or were skipped.
			job.And(job.TargetNEQ(""), job.StatusIn(job.StatusFAILED, job.StatusLOST, job.StatusCANCELED, job.StatusSKIPPED)))).Exist(t.ctx)
	if err != nil {
		return fmt.Errorf("reading jobs of deployment %d: %w", dc.d.ID, err)
	}
	if partial {
		return t.finishDeployment(actor, dc, DeploymentSucceedPartially, "")
	}
	return t.finishDeployment(actor, dc, DeploymentSucceed, "")
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
