package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// This file holds deployment phases and manual interventions (see doc.go,
// "Phases and manual interventions"): an environment's tasks split at their
// manual interventions into agent phases (a job each) and server phases (a
// ManualIntervention each), run in order within one deployment.

// timerInterventionTimeout resumes or rejects a manual intervention nobody
// acted on in time (target: manual intervention).
const timerInterventionTimeout = "intervention.timeout"

// The manual intervention events for bots and dashboards.
const (
	// EventInterventionPending: a deployment waits for a person at a
	// manual intervention (ApprovalID unset; Data: interventionId, task,
	// instructions, approvers, timeoutAt, onTimeout).
	EventInterventionPending = "intervention.pending"
	// EventInterventionDecided: a manual intervention was resumed, rejected
	// or canceled (Status; Data: interventionId, task, comment, timedOut).
	EventInterventionDecided = "intervention.decided"
)

// NotificationKindInterventionPending is the kind of the e-mail that asks an
// approver of a manual intervention to act on it.
const NotificationKindInterventionPending = "intervention.pending"

// interventionActor is the actor that opens manual interventions and starts
// the phases after them.
var interventionActor = SystemActor("server")

// logHighWater is the last sequence number of a deployment's log so far:
// that of its latest job (a job's lines are all stored when it finishes).
func (t *txn) logHighWater(deploymentID int) (int64, error) {
	j, err := t.currentJob(deploymentID)
	if err != nil || j == nil {
		return 0, err
	}
	return j.LogSeq, nil
}

// currentJob is the job of a deployment's latest agent phase, nil when it
// has none yet. The jobs of deployment-group targets are not agent phases'.
func (t *txn) currentJob(deploymentID int) (*ent.Job, error) {
	j, err := t.Job.Query().Where(job.DeploymentID(deploymentID), job.Target("")).Order(ent.Desc(job.FieldPhase)).First(t.ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the job of deployment %d: %w", deploymentID, err)
	}
	return j, nil
}

// interventionTimeout is how long an intervention task waits.
func interventionTimeout(task spec.Task) time.Duration {
	m := task.TimeoutMinutes
	if m <= 0 {
		m = spec.DefaultInterventionTimeoutMinutes
	}
	return time.Duration(m) * time.Minute
}

// openIntervention opens the manual intervention of phase k: the deployment
// waits (IN_PROGRESS, holding its queue slot) until someone resumes or
// rejects it or its timeout acts. Approvers are notified by e-mail; bots by
// EventInterventionPending.
func (t *txn) openIntervention(actor Actor, dc *deployCtx, k int, task spec.Task) error {
	if dc.d.Status == deployment.StatusQUEUED {
		// The intervention comes first: the deployment starts without an agent.
		if err := t.startWithoutAgent(dc); err != nil {
			return err
		}
	}
	vars, secrets, err := t.e.textVariables(dc.rel, dc.d)
	if err != nil {
		// A secret that cannot be opened leaves its reference as written.
		t.e.log.Warn("manual intervention: variables", "deployment", dc.d.ID, "err", err)
	}
	// Instructions are for people: an unknown name stays as written rather
	// than stopping the deployment.
	expanded, _ := expandVariables(task.Instructions, vars)
	instructions := maskSecrets(expanded, secrets)
	onTimeout := manualintervention.OnTimeoutREJECT
	if task.OnTimeout == spec.InterventionResume {
		onTimeout = manualintervention.OnTimeoutRESUME
	}
	due := t.now.Add(interventionTimeout(task))
	mi, err := t.ManualIntervention.Create().
		SetDeploymentID(dc.d.ID).SetReleaseID(dc.rel.ID).SetPhase(k).SetTaskName(task.Name).
		SetInstructions(instructions).SetApprovers(task.Approvers).SetOnTimeout(onTimeout).
		SetTimeoutAt(due).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
	if err != nil {
		return fmt.Errorf("storing manual intervention: %w", err)
	}
	if err := t.audit(actor, "intervention.open", auditTargetIntervention, mi.ID, nil, map[string]any{
		"deployment": dc.d.ID, "task": task.Name, "status": mi.Status, "timeoutAt": due.UTC().Format(time.RFC3339),
	}); err != nil {
		return err
	}
	if err := t.createTimer(timerInterventionTimeout, mi.ID, due, ""); err != nil {
		return err
	}
	if err := t.queueInterventionNotifications(dc, mi); err != nil {
		return err
	}
	if err := t.moveEnvironment(interventionActor, dc, EnvironmentAwaitIntervention); err != nil {
		return err
	}
	ev := dc.event(EventInterventionPending, actor)
	ev.Data = map[string]any{
		"interventionId": mi.ID, "task": mi.TaskName, "instructions": mi.Instructions,
		"approvers": describePrincipals(mi.Approvers), "timeoutAt": due.UTC().Format(time.RFC3339),
		"onTimeout": string(onTimeout),
	}
	return t.emit(ev)
}

// moveIntervention applies ev to a manual intervention, audits it as
// "intervention.<ev>", retires its timeout and emits EventInterventionDecided.
func (t *txn) moveIntervention(actor Actor, dc *deployCtx, mi *ent.ManualIntervention, ev InterventionEvent, comment string, timedOut bool) (*ent.ManualIntervention, error) {
	from := mi.Status
	to, err := interventionMachine.apply(mi.ID, from, ev)
	if err != nil {
		return nil, err
	}
	u := t.ManualIntervention.UpdateOne(mi).Where(manualintervention.Version(mi.Version)).
		SetStatus(to).AddVersion(1).SetDecidedAt(t.now).SetUpdatedAt(t.now).SetComment(comment)
	if !actor.System {
		u.SetDecidedBy(actor.Username)
		if actor.Via != "" {
			u.SetDecidedVia(actor.Via)
		}
	}
	nmi, err := u.Save(t.ctx)
	if ent.IsNotFound(err) {
		return nil, Conflict("manual intervention %d changed concurrently; read it again", mi.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("updating manual intervention %d: %w", mi.ID, err)
	}
	if err := t.audit(actor, "intervention."+string(ev), auditTargetIntervention, mi.ID,
		map[string]any{"status": from}, map[string]any{"status": to, "comment": comment, "timedOut": timedOut}); err != nil {
		return nil, err
	}
	if err := t.retireTimers(timerInterventionTimeout, mi.ID); err != nil {
		return nil, err
	}
	e := dc.event(EventInterventionDecided, actor)
	e.Status = string(to)
	e.Data = map[string]any{"interventionId": mi.ID, "task": mi.TaskName, "comment": comment, "timedOut": timedOut}
	return nmi, t.emit(e)
}

// continueAfter moves the deployment on from a decided intervention: the
// next phase after a resume, the deployment's end after a reject.
func (t *txn) continueAfter(actor Actor, dc *deployCtx, mi *ent.ManualIntervention, why string, timedOut bool) error {
	if mi.Status == manualintervention.StatusRESUMED {
		if err := t.moveEnvironment(interventionActor, dc, EnvironmentResumeIntervention); err != nil {
			return err
		}
		return t.startPhase(interventionActor, dc, mi.Phase+1)
	}
	ev := DeploymentReject
	if timedOut {
		ev = DeploymentTimeOut
	}
	return t.finishDeployment(actor, dc, ev, why)
}

// ResumeManualIntervention resumes a pending manual intervention: the
// deployment goes on with the tasks after it. Only its approvers may act
// (or, when it names none, whoever may manage the environment's
// deployments); a decided one is a CONFLICT, one the actor may not read
// NOT_FOUND.
func (e *Engine) ResumeManualIntervention(ctx context.Context, actor Actor, id int, comment string) (*ent.ManualIntervention, error) {
	return e.decideIntervention(ctx, actor, id, comment, InterventionResume)
}

// RejectManualIntervention rejects a pending manual intervention: the
// deployment and its environment are REJECTED. Who may act is as for
// ResumeManualIntervention.
func (e *Engine) RejectManualIntervention(ctx context.Context, actor Actor, id int, comment string) (*ent.ManualIntervention, error) {
	return e.decideIntervention(ctx, actor, id, comment, InterventionReject)
}

func (e *Engine) decideIntervention(ctx context.Context, actor Actor, id int, comment string, ev InterventionEvent) (*ent.ManualIntervention, error) {
	doing := "resuming"
	if ev == InterventionReject {
		doing = "rejecting"
	}
	if err := actor.Require(RoleViewer, doing+" a manual intervention"); err != nil {
		return nil, err
	}
	if err := checkActionComment("comment", comment); err != nil {
		return nil, err
	}
	var out *ent.ManualIntervention
	err := e.inTx(ctx, func(t *txn) error {
		mi, dc, err := t.loadIntervention(id)
		if err != nil {
			return err
		}
		if err := t.interventionGuard(actor, dc, mi, ev, doing); err != nil {
			return err
		}
		out, err = t.moveIntervention(actor, dc, mi, ev, comment, false)
		if err != nil {
			return err
		}
		why := fmt.Sprintf("rejected by %s at manual intervention %s", actor.String(), mi.TaskName)
		if comment != "" {
			why += ": " + comment
		}
		return t.continueAfter(actor, dc, out, why, false)
	})
	if err != nil {
		return nil, fmt.Errorf("%s manual intervention %d: %w", doing, id, err)
	}
	return out.Unwrap(), nil
}

// interventionGuard is the one check before a person acts on a manual
// intervention: readable (else NOT_FOUND), PENDING (else a
// *TransitionError), and the actor one of its approvers or, when it names
// none, allowed to manage the environment's deployments (else FORBIDDEN).
func (t *txn) interventionGuard(actor Actor, dc *deployCtx, mi *ent.ManualIntervention, ev InterventionEvent, doing string) error {
	hidden := NotFound("manual intervention", mi.ID)
	if ok, err := canReadDefinition(t.ctx, t.Client(), actor, dc.d.DefinitionID); err != nil {
		return err
	} else if !ok {
		return hidden
	}
	if _, err := interventionMachine.apply(mi.ID, mi.Status, ev); err != nil {
		return err
	}
	if len(mi.Approvers) == 0 {
		return t.authorize(actor, dc.d.DefinitionID, dc.re.Name, PermManageDeployments,
			fmt.Sprintf("%s manual intervention %s of %s in %s", doing, mi.TaskName, dc.rel.Name, dc.re.Name), hidden)
	}
	p, err := principalOf(t.ctx, t.Client(), actor)
	if err != nil {
		return err
	}
	if !p.listed(mi.Approvers) {
		return Forbidden("%s may not act on manual intervention %s of %s in %s: it is for %s",
			actor.Username, mi.TaskName, dc.rel.Name, dc.re.Name, describePrincipals(mi.Approvers))
	}
	return nil
}

// loadIntervention reads a manual intervention (locked on PostgreSQL) and
// its deployment.
func (t *txn) loadIntervention(id int) (*ent.ManualIntervention, *deployCtx, error) {
	q := t.ManualIntervention.Query().Where(manualintervention.ID(id))
	if t.postgres() {
		q = q.ForUpdate()
	}
	mi, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("manual intervention", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading manual intervention %d: %w", id, err)
	}
	dc, err := t.loadDeployment(mi.DeploymentID)
	if err != nil {
		return nil, nil, err
	}
	return mi, dc, nil
}

// timeOutIntervention acts for nobody on a manual intervention that waited
// past its timeout: it resumes or rejects it, as its task said.
func (t *txn) timeOutIntervention(id int) error {
	mi, dc, err := t.loadIntervention(id)
	if err != nil {
		return err
	}
	if mi.Status != manualintervention.StatusPENDING {
		return nil
	}
	ev := InterventionReject
	if mi.OnTimeout == manualintervention.OnTimeoutRESUME {
		ev = InterventionResume
	}
	minutes := int(mi.TimeoutAt.Sub(mi.CreatedAt).Round(time.Minute) / time.Minute)
	why := fmt.Sprintf("manual intervention %s timed out after %d minutes", mi.TaskName, minutes)
	mi, err = t.moveIntervention(timerActor, dc, mi, ev, why, true)
	if err != nil {
		return err
	}
	return t.continueAfter(timerActor, dc, mi, "rejected: "+why, true)
}

// cancelInterventions cancels a deployment's pending manual intervention
// (the deployment ended another way).
func (t *txn) cancelInterventions(actor Actor, dc *deployCtx, note string) error {
	pending, err := t.ManualIntervention.Query().
		Where(manualintervention.DeploymentID(dc.d.ID), manualintervention.StatusEQ(manualintervention.StatusPENDING)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading pending manual interventions: %w", err)
	}
	for _, mi := range pending {
		if _, err := t.moveIntervention(actor, dc, mi, InterventionCancel, truncateText(note, maxActionComment), false); err != nil {
			return err
		}
	}
	return nil
}

// PendingInterventionsFor lists the pending manual interventions actor may
// act on now, oldest first: those naming the actor (or a group of theirs),
// and those naming nobody in environments whose deployments the actor may
// manage. Definitions the actor may not read are left out.
func (e *Engine) PendingInterventionsFor(ctx context.Context, actor Actor) ([]*ent.ManualIntervention, error) {
	pending, err := e.client.ManualIntervention.Query().
		Where(manualintervention.StatusEQ(manualintervention.StatusPENDING)).
		Order(ent.Asc(manualintervention.FieldID)).Limit(500).WithDeployment().All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading pending manual interventions: %w", err)
	}
	p, err := principalOf(ctx, e.client, actor)
	if err != nil {
		return nil, err
	}
	// Each definition's readers and each environment's permission are read once.
	readable := map[int]bool{}
	type envKey struct {
		def int
		env string
	}
	manages := map[envKey]bool{}
	out := []*ent.ManualIntervention{}
	for _, mi := range pending {
		d := mi.Edges.Deployment
		ok, seen := readable[d.DefinitionID]
		if !seen {
			if ok, err = canReadDefinition(ctx, e.client, actor, d.DefinitionID); err != nil {
				return nil, err
			}
			readable[d.DefinitionID] = ok
		}
		if !ok {
			continue
		}
		if len(mi.Approvers) > 0 {
			if p.listed(mi.Approvers) {
				out = append(out, mi)
			}
			continue
		}
		k := envKey{d.DefinitionID, d.EnvironmentName}
		may, seen := manages[k]
		if !seen {
			_, err := checkAccess(ctx, e.client, actor, k.def, k.env, PermManageDeployments, "", NotFound("definition", k.def))
			if err != nil && ServerFault(err) {
				return nil, err
			}
			may = err == nil
			manages[k] = may
		}
		if may {
			out = append(out, mi)
		}
	}
	return out, nil
}

// CurrentJobs returns, for each of the deployments, the job of its latest
// agent phase (deployments without a job yet are absent). Reads in ctx's read
// scope leave out the hidden ones.
func (e *Engine) CurrentJobs(ctx context.Context, deploymentIDs []int) (map[int]*ent.Job, error) {
	out := make(map[int]*ent.Job, len(deploymentIDs))
	for chunk := range slices.Chunk(deploymentIDs, idChunk) {
		jobs, err := e.client.Job.Query().Where(job.DeploymentIDIn(chunk...), job.Target("")).Order(ent.Asc(job.FieldPhase)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the jobs of deployments: %w", err)
		}
		for _, j := range jobs {
			out[j.DeploymentID] = j // the latest phase comes last
		}
	}
	return out, nil
}
