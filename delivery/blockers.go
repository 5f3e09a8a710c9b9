package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/gatesample"
	"github.com/cairnhq/cairn/ent/job"
	"github.com/cairnhq/cairn/ent/manualintervention"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/timer"
)

// This file answers "why is this release not in that environment yet?": a
// read over the state the engine keeps (approvals, gate samples, freeze
// windows, the queue, jobs, manual interventions, the forward-only rule and
// the environment's trigger), giving the blockers in the order the
// deployment meets them, each with what the viewer may do about it, judged
// by the same rules the mutations apply. It writes nothing.

// BlockerKind names what holds a release back from an environment.
type BlockerKind string

// The blocker kinds, in the order a deployment meets them.
const (
	// BlockerReleaseInactive: the release is a draft or abandoned.
	BlockerReleaseInactive BlockerKind = "RELEASE_INACTIVE"
	// BlockerTriggerNotMet: nothing started a deployment yet: the
	// environment is deployed by hand (MANUAL trigger, or left manual for
	// this release), or waits for environments that have not succeeded.
	BlockerTriggerNotMet BlockerKind = "TRIGGER_NOT_MET"
	// BlockerUpstreamFailed: an environment the trigger waits for failed,
	// was rejected or canceled: the trigger will not fire by itself.
	BlockerUpstreamFailed BlockerKind = "UPSTREAM_FAILED"
	// BlockerForwardOnly: the environment runs (or is deploying) a newer
	// release, and an automatic deployment never goes back.
	BlockerForwardOnly BlockerKind = "FORWARD_ONLY"
	// BlockerPendingApproval: pre- or post-deployment approvals wait.
	BlockerPendingApproval BlockerKind = "PENDING_APPROVAL"
	// BlockerGates: gates are sampled until they pass or time out.
	BlockerGates BlockerKind = "GATES"
	// BlockerDeferred: an approver deferred the deployment to a time.
	BlockerDeferred BlockerKind = "DEFERRED"
	// BlockerFrozen: freeze windows are active on the environment.
	BlockerFrozen BlockerKind = "FROZEN"
	// BlockerQueue: the deployment waits for one of the environment's
	// queue slots (maxParallel).
	BlockerQueue BlockerKind = "QUEUE"
	// BlockerWaitingForAgent: the job waits for an agent (its waiting
	// reason says why none takes it).
	BlockerWaitingForAgent BlockerKind = "WAITING_FOR_AGENT"
	// BlockerManualIntervention: a manual intervention waits for a person.
	BlockerManualIntervention BlockerKind = "MANUAL_INTERVENTION"
	// BlockerRunning: an agent is running the deployment now.
	BlockerRunning BlockerKind = "RUNNING"
	// BlockerDeploymentEnded: the last attempt failed, was rejected or
	// canceled.
	BlockerDeploymentEnded BlockerKind = "DEPLOYMENT_ENDED"
)

// BlockerAction is something the viewer may do about a blocker now.
type BlockerAction string

// The blocker actions; each is offered only when its mutation's checks
// would pass for the viewer.
const (
	ActionDeploy              BlockerAction = "DEPLOY"
	ActionDeployThroughFreeze BlockerAction = "DEPLOY_THROUGH_FREEZE"
	ActionApprove             BlockerAction = "APPROVE"
	ActionReject              BlockerAction = "REJECT"
	ActionReassign            BlockerAction = "REASSIGN"
	ActionIgnoreGates         BlockerAction = "IGNORE_GATES"
	ActionResumeIntervention  BlockerAction = "RESUME_INTERVENTION"
	ActionRejectIntervention  BlockerAction = "REJECT_INTERVENTION"
	ActionCancelDeployment    BlockerAction = "CANCEL_DEPLOYMENT"
)

// Blocker is one reason a release is not in an environment yet.
type Blocker struct {
	Kind    BlockerKind
	Message string
	// Since is when the blocker began (when known); Until when it ends by
	// itself (a freeze window's end, a deferral, a timeout).
	Since *time.Time
	Until *time.Time
	// Stage is PRE or POST for approvals and gates.
	Stage *approval.Stage
	// WhoCanAct names who may lift the blocker ("user alice", "group ops",
	// "every EDITOR", "ADMINs").
	WhoCanAct []string
	// ViewerActions are what the viewer may do now.
	ViewerActions []BlockerAction
	// Deployment is the deployment concerned, if any.
	Deployment *ent.Deployment
	// Approvals are the pending approvals (PENDING_APPROVAL).
	Approvals []BlockerApproval
	// GateSampleCount, LastSample and LastFailingSample describe the
	// stage's gate samples (GATES).
	GateSampleCount   int
	LastSample        *ent.GateSample
	LastFailingSample *ent.GateSample
	// FreezeWindows are the active windows (FROZEN).
	FreezeWindows []*ent.FreezeWindow
	// QueuePosition (1: next), QueueAhead (first few waiting before),
	// QueueRunning (holding the slots) and MaxParallel describe the queue
	// (QUEUE).
	QueuePosition *int
	QueueAhead    []QueuedDeployment
	QueueRunning  []QueuedDeployment
	MaxParallel   *int
	// Job is the job waiting for an agent or running.
	Job *ent.Job
	// Intervention is the pending manual intervention.
	Intervention *ent.ManualIntervention
	// Environments are the upstream environments concerned.
	Environments []string
	// NewerRelease is the newer release the environment runs (FORWARD_ONLY).
	NewerRelease *ReleaseRef
}

// BlockerApproval is a pending approval and what the viewer may do with it.
type BlockerApproval struct {
	Approval          *ent.Approval
	ViewerCanDecide   bool
	ViewerCanReassign bool
}

// QueuedDeployment is a deployment in an environment's queue, with its
// release's name.
type QueuedDeployment struct {
	Deployment  *ent.Deployment
	ReleaseID   int
	ReleaseName string
}

// ReleaseRef names a release.
type ReleaseRef struct {
	ID     int
	Name   string
	Number int
}

// EnvironmentBlockers answers WhyNotDeployed.
type EnvironmentBlockers struct {
	ReleaseID   int
	ReleaseName string
	Environment string
	Status      releaseenvironment.Status
	// Deployed is set when the environment's status is SUCCEEDED or
	// PARTIALLY_SUCCEEDED: nothing blocks it.
	Deployed bool
	Blockers []*Blocker
}

// maxBlockerList bounds the deployments a queue blocker lists.
const maxBlockerList = 5

// WhyNotDeployed says why release releaseID is not (yet) deployed to its
// environment env: the blockers in the order the deployment meets them,
// none when the environment is deployed. A release the actor may not read
// is NOT_FOUND, like an unknown one; an environment the release does not
// have is INVALID_INPUT naming those it has. It costs a bounded number of
// statements, whatever the environment's history or queue.
func (e *Engine) WhyNotDeployed(ctx context.Context, actor Actor, releaseID int, env string) (*EnvironmentBlockers, error) {
	if err := actor.Require(RoleViewer, "reading why a release is not deployed"); err != nil {
		return nil, err
	}
	switch {
	case strings.TrimSpace(env) == "":
		return nil, Invalid("environment", "name an environment of the release")
	case len(env) > 200 || hasControl(env):
		return nil, Invalid("environment", "is not an environment name (at most 200 bytes without control characters)")
	}
	w := &why{e: e, ctx: ctx, c: e.client, actor: actor, now: e.clock.Now()}
	out, err := w.run(releaseID, env)
	if err != nil {
		return nil, fmt.Errorf("reading why release %d is not in %q: %w", releaseID, env, err)
	}
	return out, nil
}

// why holds what WhyNotDeployed has read.
type why struct {
	e     *Engine
	ctx   context.Context
	c     *ent.Client
	actor Actor
	now   time.Time

	p     *Principal
	guard *definitionGuard
	rel   *ent.Release
	re    *ent.ReleaseEnvironment
	env   *spec.EnvironmentSpec
	d     *ent.Deployment // latest deployment, nil when none
	fr    *frozen
}

func (w *why) run(releaseID int, envName string) (*EnvironmentBlockers, error) {
	hidden := NotFound("release", releaseID)
	rel, err := w.c.Release.Get(w.ctx, releaseID)
	if ent.IsNotFound(err) {
		return nil, hidden
	}
	if err != nil {
		return nil, fmt.Errorf("reading release %d: %w", releaseID, err)
	}
	w.rel = rel
	// The checks of the mutations (checkAccess): the definition's readers
	// first, then each action's permission list.
	if w.guard, err = readDefinitionGuard(w.ctx, w.c, rel.DefinitionID); err != nil {
		if CodeOf(err) == CodeNotFound {
			return nil, hidden
		}
		return nil, err
	}
	if w.p, err = principalOf(w.ctx, w.c, w.actor); err != nil {
		return nil, err
	}
	if !w.p.reads(w.guard.readers) {
		return nil, hidden
	}
	env, ok := rel.Snapshot.Environment(envName)
	if !ok {
		return nil, Invalid("environment", "release %s has no environment %q (it has %s)", rel.Name, envName, envNames(&rel.Snapshot))
	}
	w.env = env
	envs, err := w.c.ReleaseEnvironment.Query().Where(releaseenvironment.ReleaseID(rel.ID)).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the release's environments: %w", err)
	}
	status := map[string]*ent.ReleaseEnvironment{}
	for _, re := range envs {
		status[re.Name] = re
	}
	if w.re = status[envName]; w.re == nil {
		return nil, Invalid("environment", "release %s has no environment %q", rel.Name, envName)
	}
	out := &EnvironmentBlockers{ReleaseID: rel.ID, ReleaseName: rel.Name, Environment: envName, Status: w.re.Status}
	if w.re.Status == releaseenvironment.StatusSUCCEEDED || w.re.Status == releaseenvironment.StatusPARTIALLY_SUCCEEDED {
		out.Deployed = true
		out.Blockers = []*Blocker{}
		return out, nil
	}
	if rel.Status != release.StatusACTIVE {
		b := &Blocker{Kind: BlockerReleaseInactive, WhoCanAct: []string{}, ViewerActions: []BlockerAction{},
			Message: fmt.Sprintf("release %s is abandoned: nothing more deploys from it", rel.Name)}
		if rel.Status == release.StatusDRAFT {
			b.Message = fmt.Sprintf("release %s is a draft: it deploys nothing until it is started", rel.Name)
			b.WhoCanAct = w.holders(PermCreateReleases, "")
		}
		out.Blockers = []*Blocker{b}
		return out, nil
	}
	d, err := w.c.Deployment.Query().Where(deployment.ReleaseEnvironmentID(w.re.ID)).
		Order(ent.Desc(deployment.FieldAttempt)).First(w.ctx)
	switch {
	case ent.IsNotFound(err):
	case err != nil:
		return nil, fmt.Errorf("reading the latest deployment: %w", err)
	default:
		w.d = d
	}
	if w.fr, err = frozenAt(w.ctx, w.c, rel.DefinitionID, envName, w.now); err != nil {
		return nil, err
	}
	var bs []*Blocker
	if w.d == nil {
		bs, err = w.notStarted(status)
	} else {
		bs, err = w.started()
	}
	if err != nil {
		return nil, err
	}
	for _, b := range bs {
		if b.ViewerActions == nil {
			b.ViewerActions = []BlockerAction{}
		}
		if b.WhoCanAct == nil {
			b.WhoCanAct = []string{}
		}
	}
	out.Blockers = bs
	return out, nil
}

// may reports whether the viewer holds perm on the environment, as
// authorize would judge it (an ADMIN's override counts).
func (w *why) may(perm Permission) bool {
	v, _, _ := w.guard.judge(w.p, perm, w.re.Name)
	return v != denied
}

// holders describes who holds perm on the environment.
func (w *why) holders(perm Permission, env string) []string {
	var envPerms *spec.EnvironmentPermissions
	if ep, ok := w.guard.envs[env]; ok && env != "" {
		envPerms = &ep
	}
	list, _ := listFor(&w.guard.perms, envPerms, perm)
	switch {
	case len(list) == 0 && perm.openByDefault():
		return []string{"every EDITOR"}
	case len(list) == 0:
		return []string{"ADMINs"}
	}
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = strings.ToLower(string(a.Kind)) + " " + a.Name
	}
	return out
}

// deployActions are what DeployEnvironment would let the viewer do now:
// deploy (EDITOR, manageDeployments, and deployRefusal's checks, as
// viewerCan makes them) and, for an ADMIN under a freeze, deploy through it.
func (w *why) deployActions() []BlockerAction {
	if !w.actor.Role.AtLeast(RoleEditor) || !w.may(PermManageDeployments) {
		return nil
	}
	var out []BlockerAction
	if deployRefusal(w.ctx, w.c, w.now, w.rel, w.re, false) == nil {
		out = append(out, ActionDeploy)
	}
	if w.fr != nil && w.actor.Role == RoleAdmin && deployRefusal(w.ctx, w.c, w.now, w.rel, w.re, true) == nil {
		out = append(out, ActionDeployThroughFreeze)
	}
	return out
}

// cancelAction is CANCEL_DEPLOYMENT when CancelDeployment would accept it
// from the viewer (EDITOR, manageDeployments, and cancelPlan's checks, as
// viewerCan makes them). cancelPending tells whether a cancel was already
// requested of its agents (cancelPlan would refuse it too).
func (w *why) cancelAction(cancelPending bool) []BlockerAction {
	if w.d == nil || deploymentFinal(w.d.Status) || cancelPending ||
		!w.actor.Role.AtLeast(RoleEditor) || !w.may(PermManageDeployments) {
		return nil
	}
	if _, _, err := cancelPlan(w.ctx, w.c, w.d); err != nil {
		return nil
	}
	return []BlockerAction{ActionCancelDeployment}
}

// notStarted explains an environment the release never deployed to.
func (w *why) notStarted(status map[string]*ent.ReleaseEnvironment) ([]*Blocker, error) {
	var bs []*Blocker
	deployers := w.holders(PermManageDeployments, w.re.Name)
	trig := w.env.Trigger
	switch {
	case w.re.Manual || slices.Contains(w.rel.ManualEnvironments, w.re.Name):
		bs = append(bs, &Blocker{Kind: BlockerTriggerNotMet, Since: &w.rel.CreatedAt, WhoCanAct: deployers, ViewerActions: w.deployActions(),
			Message: fmt.Sprintf("%s was left to a person for release %s, and nobody has deployed it yet", w.re.Name, w.rel.Name)})
	case trig.Kind == spec.TriggerManual:
		bs = append(bs, &Blocker{Kind: BlockerTriggerNotMet, Since: &w.rel.CreatedAt, WhoCanAct: deployers, ViewerActions: w.deployActions(),
			Message: fmt.Sprintf("%s is deployed by hand (trigger MANUAL), and nobody has deployed %s to it yet", w.re.Name, w.rel.Name)})
	case trig.Kind == spec.TriggerAfterEnvironments:
		var failed, waiting, partial []string
		for _, up := range trig.Environments {
			re := status[up]
			if re == nil {
				waiting = append(waiting, up+" (not in this release)")
				continue
			}
			switch re.Status {
			case releaseenvironment.StatusSUCCEEDED:
			case releaseenvironment.StatusPARTIALLY_SUCCEEDED:
				if !trig.AllowPartiallySucceeded {
					partial = append(partial, up)
				}
			case releaseenvironment.StatusFAILED, releaseenvironment.StatusREJECTED, releaseenvironment.StatusCANCELED:
				failed = append(failed, fmt.Sprintf("%s (%s)", up, re.Status))
			default:
				waiting = append(waiting, fmt.Sprintf("%s (%s)", up, re.Status))
			}
		}
		if len(failed) > 0 || len(partial) > 0 {
			msg := fmt.Sprintf("%s deploys after %s succeeded", w.re.Name, joinNames(trig.Environments))
			if len(failed) > 0 {
				msg += "; " + joinNames(failed) + " did not, so it will not start by itself"
			}
			if len(partial) > 0 {
				msg += "; " + joinNames(partial) + " only partially succeeded, which its trigger does not accept"
			}
			bs = append(bs, &Blocker{Kind: BlockerUpstreamFailed, Message: msg, WhoCanAct: deployers, ViewerActions: w.deployActions(),
				Environments: upstreamNames(trig.Environments, status, true)})
		}
		if len(waiting) > 0 {
			bs = append(bs, &Blocker{Kind: BlockerTriggerNotMet, WhoCanAct: deployers, ViewerActions: w.deployActions(),
				Message:      fmt.Sprintf("%s deploys after %s succeeded; it waits for %s", w.re.Name, joinNames(trig.Environments), joinNames(waiting)),
				Environments: upstreamNames(trig.Environments, status, false)})
		}
		if len(bs) == 0 {
			bs = append(bs, &Blocker{Kind: BlockerTriggerNotMet, WhoCanAct: deployers, ViewerActions: w.deployActions(),
				Message: fmt.Sprintf("%s succeeded, but nothing started a deployment of %s to %s", joinNames(trig.Environments), w.rel.Name, w.re.Name)})
		}
	default:
		bs = append(bs, &Blocker{Kind: BlockerTriggerNotMet, Since: &w.rel.CreatedAt, WhoCanAct: deployers, ViewerActions: w.deployActions(),
			Message: fmt.Sprintf("%s deploys when a release is created, but no deployment of %s to it was started", w.re.Name, w.rel.Name)})
	}
	if !w.re.Manual && trig.Kind != spec.TriggerManual && !slices.Contains(w.rel.ManualEnvironments, w.re.Name) {
		// Its trigger's deployment would be automatic: forward only.
		fwd, err := w.forwardOnly(false)
		if err != nil {
			return nil, err
		}
		if fwd != nil {
			bs = append(bs, fwd)
		}
	}
	if f := w.frozenBlocker(); f != nil {
		bs = append(bs, f)
	}
	return bs, nil
}

// upstreamNames are the trigger's environments that failed (failed) or
// have not succeeded yet (!failed).
func upstreamNames(names []string, status map[string]*ent.ReleaseEnvironment, failed bool) []string {
	out := []string{}
	for _, n := range names {
		re := status[n]
		bad := re != nil && (re.Status == releaseenvironment.StatusFAILED || re.Status == releaseenvironment.StatusREJECTED ||
			re.Status == releaseenvironment.StatusCANCELED || re.Status == releaseenvironment.StatusPARTIALLY_SUCCEEDED)
		done := re != nil && re.Status == releaseenvironment.StatusSUCCEEDED
		if failed && bad || !failed && !bad && !done {
			out = append(out, n)
		}
	}
	return out
}

// forwardOnly is the FORWARD_ONLY blocker when the environment runs or is
// deploying a newer release: an automatic deployment of this one would be
// superseded (or was, canceled true). A person's deployment goes through as
// a rollback, so the blocker names no blocked deployment of theirs.
func (w *why) forwardOnly(canceled bool) (*Blocker, error) {
	depID := 0
	if w.d != nil {
		depID = w.d.ID
	}
	newer, err := newestLanded(w.ctx, w.c, w.rel.DefinitionID, w.re.Name, w.rel.ID, depID)
	if err != nil || newer == nil || newer.Number <= w.rel.Number {
		return nil, err
	}
	msg := fmt.Sprintf("%s runs or is deploying %s, which is newer than %s: an automatic deployment never goes back; deploy %s explicitly to roll back",
		w.re.Name, newer.Name, w.rel.Name, w.rel.Name)
	if canceled {
		msg = fmt.Sprintf("the automatic deployment of %s to %s was canceled because %s, which is newer, runs or is deploying there; deploy %s explicitly to roll back",
			w.rel.Name, w.re.Name, newer.Name, w.rel.Name)
	}
	return &Blocker{Kind: BlockerForwardOnly, Message: msg, Deployment: w.d,
		WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.deployActions(),
		NewerRelease: &ReleaseRef{ID: newer.ID, Name: newer.Name, Number: newer.Number}}, nil
}

// frozenBlocker is the FROZEN blocker when windows are active on the
// environment.
func (w *why) frozenBlocker() *Blocker {
	f := w.fr
	if f == nil {
		return nil
	}
	names := make([]string, len(f.windows))
	global := false
	for i, fw := range f.windows {
		names[i] = fmt.Sprintf("%q", fw.Name)
		if fw.Reason != "" {
			names[i] += " (" + fw.Reason + ")"
		}
		global = global || fw.DefinitionID == nil
	}
	what := "deployments wait until it ends"
	if f.refuse != nil {
		what = "new deployment requests are refused, and waiting deployments wait, until it ends"
	}
	until := f.until
	who := []string{"ADMINs"}
	if !global {
		who = w.holders(PermEditDefinition, w.re.Name)
	}
	var actions []BlockerAction
	if w.d == nil || deploymentFinal(w.d.Status) {
		actions = w.deployActions()
	}
	return &Blocker{Kind: BlockerFrozen, Until: &until, FreezeWindows: f.windows, WhoCanAct: who, ViewerActions: actions,
		Message: fmt.Sprintf("%s is frozen by %s until %s: %s", w.re.Name, strings.Join(names, ", "), until.UTC().Format(time.RFC3339), what)}
}

// started explains an environment with a deployment of the release.
func (w *why) started() ([]*Blocker, error) {
	d := w.d
	switch d.Status {
	case deployment.StatusFAILED, deployment.StatusREJECTED, deployment.StatusCANCELED:
		return w.ended()
	case deployment.StatusPENDING_APPROVAL:
		return w.pipeline(approval.StagePRE, w.approvals)
	case deployment.StatusPENDING_POST_APPROVAL:
		return w.pipeline(approval.StagePOST, w.approvals)
	case deployment.StatusEVALUATING_GATES:
		return w.pipeline(approval.StagePRE, w.gates)
	case deployment.StatusEVALUATING_POST_GATES:
		return w.pipeline(approval.StagePOST, w.gates)
	case deployment.StatusSCHEDULED:
		return w.pipeline(approval.StagePRE, w.deferred)
	case deployment.StatusQUEUED, deployment.StatusIN_PROGRESS:
		return w.running()
	}
	// SUCCEEDED or PARTIALLY_SUCCEEDED while the environment says otherwise:
	// a moment between two writes.
	return []*Blocker{}, nil
}

// pipeline is the blocker of the deployment's current stage, then, before
// the queue, what it meets later: the forward-only rule for an automatic
// deployment and the active freeze windows.
func (w *why) pipeline(stage approval.Stage, current func(approval.Stage) (*Blocker, error)) ([]*Blocker, error) {
	b, err := current(stage)
	if err != nil {
		return nil, err
	}
	bs := []*Blocker{b}
	if stage == approval.StagePRE {
		if w.d.Automatic {
			fwd, err := w.forwardOnly(false)
			if err != nil {
				return nil, err
			}
			if fwd != nil {
				bs = append(bs, fwd)
			}
		}
		if f := w.frozenBlocker(); f != nil && !w.d.FreezeOverride {
			bs = append(bs, f)
		}
	}
	return bs, nil
}

// dc is the deployment's context as the approval rules read it.
func (w *why) dc() *deployCtx {
	return &deployCtx{d: w.d, rel: w.rel, re: w.re, env: w.env}
}

// approvals is the PENDING_APPROVAL blocker of a stage, each pending
// approval with whether the viewer may decide or reassign it (decideRules,
// reassignGuard's rules).
func (w *why) approvals(stage approval.Stage) (*Blocker, error) {
	aps, err := w.c.Approval.Query().Where(approval.DeploymentID(w.d.ID), approval.StageEQ(stage)).
		Order(ent.Asc(approval.FieldRank), ent.Asc(approval.FieldID)).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading approvals: %w", err)
	}
	dc := w.dc()
	policy := dc.policy(stage)
	b := &Blocker{Kind: BlockerPendingApproval, Stage: &stage, Deployment: w.d, Approvals: []BlockerApproval{}}
	manage := w.may(PermManageApprovals) && w.actor.Role.AtLeast(RoleEditor)
	var who []string
	for _, a := range aps {
		if a.Status != approval.StatusPENDING {
			continue
		}
		approver := w.approves(a)
		decide := decideRules(w.actor, approver, dc, a, aps, ApprovalApprove) == nil
		reassign := decideRules(w.actor, approver, dc, a, aps, ApprovalReassign) == nil || manage
		b.Approvals = append(b.Approvals, BlockerApproval{Approval: a, ViewerCanDecide: decide, ViewerCanReassign: reassign})
		who = append(who, kindName(a)+" "+a.Approver)
		if b.Since == nil || a.CreatedAt.Before(*b.Since) {
			b.Since = &a.CreatedAt
		}
		if a.DueAt != nil && (b.Until == nil || a.DueAt.Before(*b.Until)) {
			b.Until = a.DueAt
		}
		if decide && !slices.Contains(b.ViewerActions, ActionApprove) {
			b.ViewerActions = append(b.ViewerActions, ActionApprove, ActionReject)
		}
		if reassign && !slices.Contains(b.ViewerActions, ActionReassign) {
			b.ViewerActions = append(b.ViewerActions, ActionReassign)
		}
	}
	b.WhoCanAct = who
	b.ViewerActions = append(b.ViewerActions, w.cancelAction(false)...)
	b.Message = fmt.Sprintf("the %s approval of %s waits for %s", stageName(stage), w.re.Name, joinNames(who))
	if len(who) > 1 {
		switch mode(policy) {
		case spec.ApprovalAnyOne:
			b.Message += fmt.Sprintf(" (%d of them must approve)", min(max(policy.RequiredCount, 1), len(who)))
		case spec.ApprovalSequential:
			b.Message += " (each in turn)"
		default:
			b.Message += " (each must approve)"
		}
	}
	if len(who) == 0 {
		b.Message = fmt.Sprintf("the %s approval of %s is being decided", stageName(stage), w.re.Name)
	}
	if b.Until != nil {
		b.Message += fmt.Sprintf("; it times out at %s", b.Until.UTC().Format(time.RFC3339))
	}
	return b, nil
}

// approves reports whether the viewer is a's approver or in its group
// (isApprover, from the groups read once).
func (w *why) approves(a *ent.Approval) bool {
	if a.Automated || a.ApproverKind == nil || w.actor.System {
		return false
	}
	return w.p.listed([]spec.Approver{{Kind: spec.ApproverKind(*a.ApproverKind), Name: a.Approver}})
}

// gates is the GATES blocker of a stage: its samples so far, the last and
// the last failing one, and when the gates time out.
func (w *why) gates(stage approval.Stage) (*Blocker, error) {
	samples := func() *ent.GateSampleQuery {
		return w.c.GateSample.Query().Where(gatesample.DeploymentID(w.d.ID), gatesample.StageEQ(gatesample.Stage(stage)))
	}
	b := &Blocker{Kind: BlockerGates, Stage: &stage, Deployment: w.d}
	var err error
	if b.GateSampleCount, err = samples().Count(w.ctx); err != nil {
		return nil, fmt.Errorf("counting gate samples: %w", err)
	}
	if b.GateSampleCount > 0 {
		if b.LastSample, err = samples().Order(ent.Desc(gatesample.FieldNumber)).First(w.ctx); err != nil {
			return nil, fmt.Errorf("reading the last gate sample: %w", err)
		}
		if !b.LastSample.Passed {
			b.LastFailingSample = b.LastSample
		} else {
			b.LastFailingSample, err = samples().Where(gatesample.Passed(false)).Order(ent.Desc(gatesample.FieldNumber)).First(w.ctx)
			if err != nil && !ent.IsNotFound(err) {
				return nil, fmt.Errorf("reading the last failing gate sample: %w", err)
			}
		}
	}
	pol := w.dc().gatePolicy(stage)
	tm, err := w.c.Timer.Query().Where(timer.Kind(timerGates), timer.TargetID(w.d.ID), timer.DoneAtIsNil()).
		Order(ent.Desc(timer.FieldID)).First(w.ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("reading the gates' timer: %w", err)
	}
	next := ""
	if tm != nil {
		var p gatesPayload
		if json.Unmarshal([]byte(tm.Payload), &p) == nil && !p.StartedAt.IsZero() {
			started := p.StartedAt
			until := started.Add(time.Duration(timeoutOf(pol)) * time.Minute)
			b.Since, b.Until = &started, &until
		}
		next = fmt.Sprintf("; next sample at %s", tm.DueAt.UTC().Format(time.RFC3339))
	}
	msg := fmt.Sprintf("the %s gates of %s (%s) are evaluated", stageName(stage), w.re.Name, gateNames(pol))
	switch {
	case b.GateSampleCount == 0:
		msg += "; no sample taken yet"
	case b.LastSample.Passed:
		msg += fmt.Sprintf("; sample %d passed", b.LastSample.Number)
		if pol.MinimumSuccessMinutes > 0 {
			msg += fmt.Sprintf(" and they must keep passing for %d minutes", pol.MinimumSuccessMinutes)
		}
	default:
		msg += fmt.Sprintf("; sample %d of %d failed: %s", b.LastSample.Number, b.GateSampleCount, failedGates(b.LastSample.Results))
	}
	msg += next
	if b.Until != nil {
		msg += fmt.Sprintf("; the deployment is rejected if they do not pass by %s", b.Until.UTC().Format(time.RFC3339))
	}
	b.Message = truncateText(msg, maxActionComment)
	b.WhoCanAct = w.holders(PermManageDeployments, w.re.Name)
	if w.actor.Role.AtLeast(RoleEditor) && w.may(PermManageDeployments) {
		b.ViewerActions = append(b.ViewerActions, ActionIgnoreGates)
	}
	b.ViewerActions = append(b.ViewerActions, w.cancelAction(false)...)
	return b, nil
}

func gateNames(p spec.GatePolicy) string {
	names := make([]string, len(p.Gates))
	for i, g := range p.Gates {
		names[i] = g.Name
	}
	return strings.Join(names, ", ")
}

// deferred is the DEFERRED blocker: the approvers who deferred the
// deployment and until when.
func (w *why) deferred(approval.Stage) (*Blocker, error) {
	aps, err := w.c.Approval.Query().Where(approval.DeploymentID(w.d.ID), approval.StageEQ(approval.StagePRE),
		approval.DeferredUntilNotNil()).Order(ent.Asc(approval.FieldID)).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading deferrals: %w", err)
	}
	var by []string
	for _, a := range aps {
		if a.DecidedBy != nil && !slices.Contains(by, *a.DecidedBy) {
			by = append(by, *a.DecidedBy)
		}
	}
	msg := fmt.Sprintf("the deployment of %s to %s is deferred", w.rel.Name, w.re.Name)
	if len(by) > 0 {
		msg += " by " + joinNames(by)
	}
	if w.d.DeferredUntil != nil {
		msg += " until " + w.d.DeferredUntil.UTC().Format(time.RFC3339)
	}
	return &Blocker{Kind: BlockerDeferred, Message: msg, Since: &w.d.UpdatedAt, Until: w.d.DeferredUntil, Deployment: w.d,
		WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.cancelAction(false)}, nil
}

// running explains a QUEUED or IN_PROGRESS deployment: waiting for a queue
// slot (or a freeze's end), its job waiting for an agent, a manual
// intervention, or an agent at work.
func (w *why) running() ([]*Blocker, error) {
	mi, err := w.c.ManualIntervention.Query().Where(manualintervention.DeploymentID(w.d.ID),
		manualintervention.StatusEQ(manualintervention.StatusPENDING)).Order(ent.Asc(manualintervention.FieldPhase)).First(w.ctx)
	if err != nil && !ent.IsNotFound(err) {
		return nil, fmt.Errorf("reading manual interventions: %w", err)
	}
	jobs, err := w.c.Job.Query().Where(job.DeploymentID(w.d.ID), job.StatusIn(job.StatusQUEUED, job.StatusASSIGNED, job.StatusRUNNING)).
		WithAgent(func(q *ent.AgentQuery) { q.Select("id", "name") }).
		Order(ent.Asc(job.FieldPhase), ent.Asc(job.FieldID)).Limit(50).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading jobs: %w", err)
	}
	var held, queued []*ent.Job
	for _, j := range jobs {
		switch {
		case j.Status != job.StatusQUEUED:
			held = append(held, j)
		case !j.Held:
			queued = append(queued, j)
		}
	}
	// As cancelDeployment: a second cancel while every agent holding a job
	// was already asked is a CONFLICT.
	cancelPending := len(held) > 0
	for _, j := range held {
		cancelPending = cancelPending && j.CancelRequested
	}
	if mi != nil {
		return []*Blocker{w.intervention(mi)}, nil
	}
	var bs []*Blocker
	for _, j := range queued {
		reason := j.WaitingReason
		if reason == "" {
			reason = "waiting for the dispatcher to offer it to an agent"
		}
		what := "its job"
		if j.Target != "" {
			what = "the job of target " + j.Target
		}
		msg := fmt.Sprintf("%s waits for an agent of pool %s: %s", what, poolName(j), reason)
		if len(j.Demands) > 0 {
			msg += fmt.Sprintf(" (demands: %s)", strings.Join(j.Demands, ", "))
		}
		since := j.QueuedAt
		bs = append(bs, &Blocker{Kind: BlockerWaitingForAgent, Message: msg, Since: &since, Deployment: w.d, Job: j,
			WhoCanAct: []string{"ADMINs (agents and pools)"}, ViewerActions: w.cancelAction(false)})
		if len(bs) == 3 {
			break
		}
	}
	for _, j := range held {
		agent := "an agent"
		if a := j.Edges.Agent; a != nil {
			agent = "agent " + a.Name
		}
		msg := fmt.Sprintf("%s is deploying %s to %s now", agent, w.rel.Name, w.re.Name)
		if j.Target != "" {
			msg = fmt.Sprintf("%s (target %s) is deploying %s to %s now", agent, j.Target, w.rel.Name, w.re.Name)
		}
		if j.CancelRequested {
			msg += "; a cancel was requested and the agent has not reported yet"
		}
		b := &Blocker{Kind: BlockerRunning, Message: msg, Since: j.StartedAt, Until: j.TimeoutAt, Deployment: w.d, Job: j,
			WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.cancelAction(cancelPending)}
		if b.Since == nil {
			b.Since = j.AssignedAt
		}
		bs = append(bs, b)
		break // one is enough to say it runs
	}
	if len(bs) > 0 {
		return bs, nil
	}
	if w.d.Status == deployment.StatusQUEUED {
		return w.waiting()
	}
	return []*Blocker{{Kind: BlockerRunning, Message: fmt.Sprintf("the deployment of %s to %s is between two phases", w.rel.Name, w.re.Name),
		Since: w.d.StartedAt, Deployment: w.d, WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.cancelAction(false)}}, nil
}

func poolName(j *ent.Job) string {
	if j.Target != "" {
		return "(the target's agent)"
	}
	if j.Pool == "" {
		return DefaultPool
	}
	return j.Pool
}

// intervention is the MANUAL_INTERVENTION blocker, with what the viewer
// may do: interventionGuard's rules (its approvers, or manageDeployments
// when it names none).
func (w *why) intervention(mi *ent.ManualIntervention) *Blocker {
	var who []string
	var can bool
	if len(mi.Approvers) == 0 {
		who = w.holders(PermManageDeployments, w.re.Name)
		can = w.may(PermManageDeployments)
	} else {
		for _, a := range mi.Approvers {
			who = append(who, strings.ToLower(string(a.Kind))+" "+a.Name)
		}
		can = !w.actor.System && w.p.listed(mi.Approvers)
	}
	then := "rejected"
	if mi.OnTimeout == manualintervention.OnTimeoutRESUME {
		then = "resumed"
	}
	b := &Blocker{Kind: BlockerManualIntervention, Since: &mi.CreatedAt, Until: &mi.TimeoutAt, Deployment: w.d, Intervention: mi, WhoCanAct: who,
		Message: fmt.Sprintf("the deployment waits at manual intervention %s for %s; at %s it is %s", mi.TaskName, joinNames(who),
			mi.TimeoutAt.UTC().Format(time.RFC3339), then)}
	if can {
		b.ViewerActions = []BlockerAction{ActionResumeIntervention, ActionRejectIntervention}
	}
	b.ViewerActions = append(b.ViewerActions, w.cancelAction(false)...)
	return b
}

// waiting explains a QUEUED deployment without a job: an active freeze,
// the forward-only rule, or the queue's slots, with its place in line and
// the deployments that hold the slots (pumpQueue's order: oldest release
// first).
func (w *why) waiting() ([]*Blocker, error) {
	var bs []*Blocker
	if w.d.Automatic {
		fwd, err := w.forwardOnly(false)
		if err != nil {
			return nil, err
		}
		if fwd != nil {
			bs = append(bs, fwd)
		}
	}
	if f := w.frozenBlocker(); f != nil && !w.d.FreezeOverride {
		bs = append(bs, f)
	}
	policy := w.env.Queue
	if _, snap, err := definitionSnapshotOf(w.ctx, w.c, w.rel.DefinitionID); err == nil {
		if env, ok := snap.Environment(w.re.Name); ok {
			policy = env.Queue
		}
	}
	waiting := func() *ent.DeploymentQuery {
		return w.c.Deployment.Query().Where(deployment.DefinitionID(w.rel.DefinitionID), deployment.EnvironmentName(w.re.Name),
			deployment.StatusEQ(deployment.StatusQUEUED), deployment.Not(holdsSlot()), deployment.IDNEQ(w.d.ID),
			deployment.HasReleaseWith(release.NumberLT(w.rel.Number)))
	}
	ahead, err := waiting().Count(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("counting deployments ahead: %w", err)
	}
	withRel := func(q *ent.ReleaseQuery) { q.Select(release.FieldID, release.FieldName, release.FieldNumber) }
	first, err := waiting().WithRelease(withRel).
		Order(deployment.ByReleaseField(release.FieldNumber), deployment.ByID()).Limit(maxBlockerList).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading deployments ahead: %w", err)
	}
	busy, err := w.c.Deployment.Query().Where(deployment.DefinitionID(w.rel.DefinitionID), deployment.EnvironmentName(w.re.Name),
		deployment.StatusIn(busyStatuses...), holdsSlot()).WithRelease(withRel).
		Order(deployment.ByID()).Limit(maxBlockerList).All(w.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading deployments holding slots: %w", err)
	}
	pos := ahead + 1
	b := &Blocker{Kind: BlockerQueue, Since: &w.d.UpdatedAt, Deployment: w.d, QueuePosition: &pos,
		QueueAhead: queued(first), QueueRunning: queued(busy),
		WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.cancelAction(false)}
	if policy.MaxParallel > 0 {
		n := policy.MaxParallel
		b.MaxParallel = &n
	}
	var msg string
	switch {
	case policy.MaxParallel > 0:
		msg = fmt.Sprintf("%s waits in the queue of %s, which runs at most %d deployment(s) at once", w.rel.Name, w.re.Name, policy.MaxParallel)
	default:
		msg = fmt.Sprintf("%s waits in the queue of %s", w.rel.Name, w.re.Name)
	}
	if len(busy) > 0 {
		msg += "; " + joinNames(queuedNames(busy)) + " hold(s) the slots"
	}
	if ahead > 0 {
		msg += fmt.Sprintf("; %d deployment(s) wait ahead of it (%s first)", ahead, joinNames(queuedNames(first)))
	} else {
		msg += "; it is next"
	}
	if policy.Mode == spec.QueueLatestOnly {
		msg += "; under LATEST_ONLY a newer release's deployment would replace it"
	}
	b.Message = msg
	if len(bs) == 0 || policy.MaxParallel > 0 || ahead > 0 {
		bs = append(bs, b)
	}
	return bs, nil
}

func queued(ds []*ent.Deployment) []QueuedDeployment {
	out := make([]QueuedDeployment, 0, len(ds))
	for _, d := range ds {
		q := QueuedDeployment{Deployment: d, ReleaseID: d.ReleaseID}
		if d.Edges.Release != nil {
			q.ReleaseName = d.Edges.Release.Name
		}
		out = append(out, q)
	}
	return out
}

func queuedNames(ds []*ent.Deployment) []string {
	out := make([]string, 0, len(ds))
	for _, q := range queued(ds) {
		out = append(out, fmt.Sprintf("%s (%s)", q.ReleaseName, q.Deployment.Status))
	}
	return out
}

// ended explains an environment whose last attempt failed, was rejected or
// canceled: the forward-only rule when it superseded an automatic
// deployment, an active freeze that canceled it, else the attempt's end.
func (w *why) ended() ([]*Blocker, error) {
	d := w.d
	if d.Status == deployment.StatusCANCELED && d.Automatic {
		fwd, err := w.forwardOnly(true)
		if err != nil {
			return nil, err
		}
		if fwd != nil {
			return []*Blocker{fwd}, nil
		}
	}
	bs := []*Blocker{}
	msg := fmt.Sprintf("attempt %d to deploy %s to %s ended %s", d.Attempt, w.rel.Name, w.re.Name, d.Status)
	if d.StatusReason != "" {
		msg += ": " + d.StatusReason
	}
	bs = append(bs, &Blocker{Kind: BlockerDeploymentEnded, Message: msg, Since: d.CompletedAt, Deployment: d,
		WhoCanAct: w.holders(PermManageDeployments, w.re.Name), ViewerActions: w.deployActions()})
	if f := w.frozenBlocker(); f != nil {
		bs = append(bs, f)
	}
	return bs, nil
}
