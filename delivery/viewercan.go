package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/release"
)

// What the viewer may do now with a release, its environments, deployments
// and approvals, for clients to offer only the actions that will work. Each
// answer is the mutation's own check (the role, the permission lists and the
// state of what it acts on), made without writing: DeployEnvironment and
// deployRefusal, CancelDeployment and cancelPlan, AbandonRelease and
// releaseMachine, Approve/Reject and decideGuard, Reassign and
// reassignCheck. An ADMIN's audited override counts as allowed, as in
// ViewerCan. viewercan_test.go compares every answer with what the mutation
// then does, state by state.

// ReleaseViewerCan says what the viewer may do with a release now.
type ReleaseViewerCan struct {
	// Abandon: abandonRelease would end it.
	Abandon bool
}

// ReleaseEnvironmentViewerCan says what the viewer may do with one
// environment of a release now.
type ReleaseEnvironmentViewerCan struct {
	// Deploy, Redeploy, Rollback: deployEnvironment would start a deployment
	// now, and which operation it would be (at most one is true).
	Deploy, Redeploy, Rollback bool
	// Cancel: cancelDeployment of the environment's latest deployment would
	// be accepted.
	Cancel bool
	// Approve: the viewer may approve a pending approval of the latest
	// deployment now.
	Approve bool
}

// DeploymentViewerCan says what the viewer may do with a deployment now.
type DeploymentViewerCan struct {
	// Cancel: cancelDeployment would be accepted.
	Cancel bool
	// Approve: the viewer may approve one of its pending approvals now.
	Approve bool
}

// ApprovalViewerCan says what the viewer may do with an approval now.
type ApprovalViewerCan struct {
	Approve, Reject, Reassign bool
}

// may reports whether the principal holds perm on definition defID (env "":
// the definition itself), as authorize decides it: a definition it may not
// read, or one that is gone, allows nothing. The definition's permissions are
// read once per principal (a principal lives for one request).
func (p *Principal) may(ctx context.Context, c *ent.Client, defID int, env string, perm Permission) (bool, error) {
	if p.actor.System {
		return true, nil
	}
	p.mu.Lock()
	g, ok := p.guards[defID]
	p.mu.Unlock()
	if !ok {
		var err error
		g, err = readDefinitionGuard(ctx, c, defID)
		if CodeOf(err) == CodeNotFound {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		p.mu.Lock()
		if p.guards == nil {
			p.guards = map[int]*definitionGuard{}
		}
		p.guards[defID] = g
		p.mu.Unlock()
	}
	if !p.reads(g.readers) {
		return false, nil
	}
	v, _, _ := g.judge(p, perm, env)
	return v != denied, nil
}

// refused turns a check's error into an answer: a refusal (any error the
// engine gives a client) is false; a server fault is returned.
func refused(err error) (bool, error) {
	if err == nil {
		return false, nil
	}
	if ServerFault(err) {
		return true, err
	}
	return true, nil
}

// deployRefusal is why a person's request to deploy rel to re would be
// refused by what they are now (nil: it would start): the environment not
// in the release, a release that cannot deploy (refusedInRelease), a
// release no longer ACTIVE, a deployment of it to re not finished, a freeze
// window that refuses new deployments (unless overrideFreeze, which
// DeployEnvironment checks is an ADMIN's). beginDeployment checks the state
// again in its transaction.
func deployRefusal(ctx context.Context, c *ent.Client, now time.Time, rel *ent.Release, re *ent.ReleaseEnvironment, overrideFreeze bool) error {
	if _, ok := rel.Snapshot.Environment(re.Name); !ok {
		return Invalid("environment", "release %s has no environment %q (it has %s)", rel.Name, re.Name, envNames(&rel.Snapshot))
	}
	if err := refusedInRelease(rel, re.Name); err != nil {
		return err
	}
	if err := releaseDeploys(rel); err != nil {
		return err
	}
	if _, err := environmentMachine.apply(re.ID, re.Status, EnvironmentDeploy); err != nil {
		return err
	}
	if overrideFreeze {
		return nil
	}
	f, err := frozenAt(ctx, c, rel.DefinitionID, re.Name, now)
	if err != nil || f == nil || f.refuse == nil {
		return err
	}
	return freezeRefusal(f, re.Name)
}

// releaseDeploys refuses a release that no longer deploys.
func releaseDeploys(rel *ent.Release) error {
	if rel.Status != release.StatusACTIVE {
		return Conflict("release %s is %s: nothing more deploys from it", rel.Name, rel.Status)
	}
	return nil
}

// cancelPlan reads what canceling d involves: its jobs not final, and those
// of them an agent holds. A finished deployment is refused (a
// *TransitionError), and so is one whose held jobs all have their cancel
// requested already (CONFLICT: the agents have not reported yet).
func cancelPlan(ctx context.Context, c *ent.Client, d *ent.Deployment) (open, held []*ent.Job, err error) {
	if deploymentFinal(d.Status) {
		_, err := deploymentMachine.apply(d.ID, d.Status, DeploymentCancel)
		return nil, nil, err
	}
	open, err = c.Job.Query().Where(job.DeploymentID(d.ID), job.StatusIn(job.StatusQUEUED, job.StatusASSIGNED, job.StatusRUNNING)).
		Order(ent.Asc(job.FieldID)).All(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the jobs of deployment %d: %w", d.ID, err)
	}
	requested := true
	for _, j := range open {
		if j.Status != job.StatusQUEUED {
			held = append(held, j)
			requested = requested && j.CancelRequested
		}
	}
	if len(held) > 0 && requested {
		return nil, nil, Conflict("deployment %d: cancel already requested; waiting for the agent to report", d.ID)
	}
	return open, held, nil
}

// ReleaseViewerCan answers what p may do with rel now.
func (e *Engine) ReleaseViewerCan(ctx context.Context, p *Principal, rel *ent.Release) (ReleaseViewerCan, error) {
	var out ReleaseViewerCan
	ok, err := p.may(ctx, e.client, rel.DefinitionID, "", PermManageDeployments)
	if err != nil || !ok {
		return out, err
	}
	out.Abandon = releaseMachine.allows(rel.Status, ReleaseAbandon)
	return out, nil
}

// ReleaseEnvironmentViewerCan answers what p may do with re (an environment
// of a release) now.
func (e *Engine) ReleaseEnvironmentViewerCan(ctx context.Context, p *Principal, re *ent.ReleaseEnvironment) (ReleaseEnvironmentViewerCan, error) {
	var out ReleaseEnvironmentViewerCan
	rel, err := e.client.Release.Get(ctx, re.ReleaseID)
	if err != nil {
		return out, fmt.Errorf("reading release %d: %w", re.ReleaseID, err)
	}
	manage, err := p.may(ctx, e.client, rel.DefinitionID, re.Name, PermManageDeployments)
	if err != nil {
		return out, err
	}
	latest, err := e.client.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).
		Order(ent.Desc(deployment.FieldAttempt), ent.Desc(deployment.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		latest, err = nil, nil
	}
	if err != nil {
		return out, fmt.Errorf("reading the latest deployment of release environment %d: %w", re.ID, err)
	}
	if manage {
		no, err := refused(deployRefusal(ctx, e.client, e.clock.Now(), rel, re, false))
		if err != nil {
			return out, err
		}
		if !no {
			attempts, err := e.client.Deployment.Query().Where(deployment.ReleaseEnvironmentID(re.ID)).Count(ctx)
			if err != nil {
				return out, fmt.Errorf("counting attempts: %w", err)
			}
			op, err := operationOf(ctx, e.client, rel, re, attempts)
			if err != nil {
				return out, err
			}
			out.Deploy, out.Redeploy, out.Rollback = op == deployment.OperationDEPLOY, op == deployment.OperationREDEPLOY, op == deployment.OperationROLLBACK
		}
	}
	if latest == nil {
		return out, nil
	}
	d, err := e.deploymentViewerCan(ctx, p, latest, manage)
	out.Cancel, out.Approve = d.Cancel, d.Approve
	return out, err
}

// DeploymentViewerCan answers what p may do with d now.
func (e *Engine) DeploymentViewerCan(ctx context.Context, p *Principal, d *ent.Deployment) (DeploymentViewerCan, error) {
	manage, err := p.may(ctx, e.client, d.DefinitionID, d.EnvironmentName, PermManageDeployments)
	if err != nil {
		return DeploymentViewerCan{}, err
	}
	return e.deploymentViewerCan(ctx, p, d, manage)
}

func (e *Engine) deploymentViewerCan(ctx context.Context, p *Principal, d *ent.Deployment, manage bool) (DeploymentViewerCan, error) {
	var out DeploymentViewerCan
	if manage {
		_, _, err := cancelPlan(ctx, e.client, d)
		no, err := refused(err)
		if err != nil {
			return out, err
		}
		out.Cancel = !no
	}
	if deploymentFinal(d.Status) {
		return out, nil // its approvals are decided or canceled
	}
	pending, err := e.client.Approval.Query().Where(approval.DeploymentID(d.ID), approval.StatusEQ(approval.StatusPENDING)).
		Order(ent.Asc(approval.FieldID)).All(ctx)
	if err != nil || len(pending) == 0 {
		if err != nil {
			err = fmt.Errorf("reading the approvals of deployment %d: %w", d.ID, err)
		}
		return out, err
	}
	dc, err := deployCtxOf(ctx, e.client, d)
	if err != nil {
		return out, err
	}
	for _, a := range pending {
		no, err := refused(e.decideCheck(ctx, p.actor, dc, a, ApprovalApprove))
		if err != nil {
			return out, err
		}
		if !no {
			out.Approve = true
			break
		}
	}
	return out, nil
}

// ApprovalViewerCan answers what p may do with approval a now.
func (e *Engine) ApprovalViewerCan(ctx context.Context, p *Principal, a *ent.Approval) (ApprovalViewerCan, error) {
	var out ApprovalViewerCan
	if len(approvalMachine.next[a.Status]) == 0 {
		return out, nil // decided: decideGuard's first check refuses every action
	}
	d, err := e.client.Deployment.Get(ctx, a.DeploymentID)
	if err != nil {
		return out, fmt.Errorf("reading deployment %d: %w", a.DeploymentID, err)
	}
	dc, err := deployCtxOf(ctx, e.client, d)
	if err != nil {
		return out, err
	}
	for _, c := range []struct {
		ev  ApprovalEvent
		can *bool
	}{{ApprovalApprove, &out.Approve}, {ApprovalReject, &out.Reject}} {
		no, err := refused(e.decideCheck(ctx, p.actor, dc, a, c.ev))
		if err != nil {
			return out, err
		}
		*c.can = !no
	}
	err = requireReadableApproval(ctx, e.client, p.actor, dc, a)
	if err == nil {
		_, err = reassignCheck(ctx, e.client, p.actor, dc, a)
	}
	no, err := refused(err)
	out.Reassign = !no
	return out, err
}

// decideCheck is the check Approve and Reject make before deciding a.
func (e *Engine) decideCheck(ctx context.Context, actor Actor, dc *deployCtx, a *ent.Approval, ev ApprovalEvent) error {
	if err := requireReadableApproval(ctx, e.client, actor, dc, a); err != nil {
		return err
	}
	return decideGuard(ctx, e.client, actor, dc, a, ev)
}
