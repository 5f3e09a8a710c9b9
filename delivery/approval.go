package delivery

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
)

// ApprovalDecision is an approver's decision on one approval.
type ApprovalDecision struct {
	ApprovalID int
	Comment    string
	// DeferUntil, on approving a pre-deployment approval, holds the
	// deployment until that time (SCHEDULED).
	DeferUntil *time.Time
}

// systemApprover decides automated approvals.
const systemApprover = "system"

// openStage creates the approvals of a stage from the environment's policy
// and reports whether the stage is already complete: no approvers (one
// automated APPROVED approval), or, for the pre-deployment stage with
// SkipIfApprovedInPreviousEnvironment, every approver approved the release's
// previous environment (SKIPPED approvals).
func (t *txn) openStage(actor Actor, dc *deployCtx, stage approval.Stage) (bool, error) {
	policy := dc.policy(stage)
	if len(policy.Approvers) == 0 {
		if t.heldDeployment(dc.d.ID) {
			// Of a held deployment: inserted with it (held.go).
			t.held.approvals = append(t.held.approvals, heldApproval{deploymentID: dc.d.ID, releaseID: dc.rel.ID, stage: stage})
			return true, nil
		}
		c := t.Approval.Create().
			SetDeploymentID(dc.d.ID).SetReleaseID(dc.rel.ID).SetStage(stage).SetRank(1).
			SetStatus(approval.StatusAPPROVED).SetAutomated(true).SetDecidedBy(systemApprover).
			SetDecidedAt(t.now).SetCreatedAt(t.now).SetUpdatedAt(t.now)
		if t.batchFresh && t.fresh[dc.d.ID] != nil {
			// Of a deployment of this transaction's new release: stored with its siblings'
			// (flushFresh); nothing reads a decided automated approval back.
			t.freshApprovals = append(t.freshApprovals, c)
			return true, nil
		}
		if err := c.Exec(t.ctx); err != nil {
			return false, fmt.Errorf("storing automated approval: %w", err)
		}
		// Not audited: an automated approval is the policy's, recorded on its row.
		return true, nil
	}
	skip := ""
	if stage == approval.StagePRE && policy.SkipIfApprovedInPreviousEnvironment {
		if err := t.flushFreshApprovals(); err != nil { // the previous environment's, read now
			return false, err
		}
		prev, err := t.approvedInPreviousEnvironment(dc, policy.Approvers)
		if err != nil {
			return false, err
		}
		skip = prev
	}
	var due *time.Time
	if policy.TimeoutMinutes > 0 && skip == "" {
		d := t.now.Add(time.Duration(policy.TimeoutMinutes) * time.Minute)
		due = &d
	}
	for i, ap := range policy.Approvers {
		c := t.Approval.Create().
			SetDeploymentID(dc.d.ID).SetReleaseID(dc.rel.ID).SetStage(stage).SetRank(i + 1).
			SetApproverKind(approval.ApproverKind(ap.Kind)).SetApprover(ap.Name).
			SetNillableDueAt(due).SetCreatedAt(t.now).SetUpdatedAt(t.now)
		if skip != "" {
			status, err := approvalMachine.apply(0, approval.StatusPENDING, ApprovalSkip)
			if err != nil {
				return false, err
			}
			c.SetStatus(status).SetDecidedBy(systemApprover).SetDecidedAt(t.now).
				SetComment("skipped: the same approvers approved " + skip)
		}
		a, err := c.Save(t.ctx)
		if err != nil {
			return false, fmt.Errorf("storing approval: %w", err)
		}
		// Not audited: approvals opened (or skipped) by the policy are rows of their own;
		// what people decide on them is audited (moveApproval).
		if skip != "" {
			continue
		}
		if due != nil {
			if err := t.createTimer(timerApprovalTimeout, a.ID, *due, ""); err != nil {
				return false, err
			}
		}
		if mode(policy) != spec.ApprovalSequential || i == 0 {
			if err := t.emitPending(actor, dc, a); err != nil {
				return false, err
			}
		}
	}
	return skip != "", nil
}

// emitPending announces an approval that its approvers can now decide: an
// event for subscribers and bots, and email to each approver (outbox rows,
// sent after commit by the notification loop).
func (t *txn) emitPending(actor Actor, dc *deployCtx, a *ent.Approval) error {
	if err := t.queueApprovalNotifications([]*ent.Approval{a}); err != nil {
		return err
	}
	ev := dc.event(EventApprovalPending, actor)
	ev.ApprovalID = a.ID
	ev.Status = string(a.Status)
	ev.Data = map[string]any{"stage": string(a.Stage), "approver": a.Approver, "kind": kindOf(a)}
	return t.emit(ev)
}

func kindOf(a *ent.Approval) string {
	if a.ApproverKind == nil {
		return ""
	}
	return string(*a.ApproverKind)
}

// mode is the policy's mode; ALL (any order) when unset, the safer reading.
func mode(p spec.ApprovalPolicy) spec.ApprovalMode {
	if p.Mode == "" {
		return spec.ApprovalAll
	}
	return p.Mode
}

// approvedInPreviousEnvironment returns the name of the release's previous
// environment (the deployed one with the next lower rank) when every one of
// approvers approved its latest deployment, else "".
func (t *txn) approvedInPreviousEnvironment(dc *deployCtx, approvers []spec.Approver) (string, error) {
	prev, err := t.ReleaseEnvironment.Query().
		Where(releaseenvironment.ReleaseID(dc.rel.ID), releaseenvironment.RankLT(dc.re.Rank),
			releaseenvironment.HasDeployments()).
		Order(ent.Desc(releaseenvironment.FieldRank)).First(t.ctx)
	if ent.IsNotFound(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("reading the previous environment: %w", err)
	}
	last, err := t.Deployment.Query().Where(deployment.ReleaseEnvironmentID(prev.ID)).
		Order(ent.Desc(deployment.FieldAttempt)).First(t.ctx)
	if err != nil {
		return "", fmt.Errorf("reading the previous environment's deployment: %w", err)
	}
	approved, err := t.Approval.Query().
		Where(approval.DeploymentID(last.ID), approval.StatusEQ(approval.StatusAPPROVED), approval.Automated(false)).
		All(t.ctx)
	if err != nil {
		return "", fmt.Errorf("reading the previous environment's approvals: %w", err)
	}
	for _, want := range approvers {
		found := slices.ContainsFunc(approved, func(a *ent.Approval) bool {
			return kindOf(a) == string(want.Kind) && a.Approver == want.Name
		})
		if !found {
			return "", nil
		}
	}
	return prev.Name, nil
}

// moveApproval applies ev to an approval with extra field changes, audits it
// as "approval.<ev>", retires its timeout timer and emits the matching event.
func (t *txn) moveApproval(actor Actor, dc *deployCtx, a *ent.Approval, ev ApprovalEvent, comment string, set func(*ent.ApprovalUpdateOne)) (*ent.Approval, error) {
	from := a.Status
	to, err := approvalMachine.apply(a.ID, from, ev)
	if err != nil {
		return nil, err
	}
	u := t.Approval.UpdateOne(a).Where(approval.Version(a.Version)).
		SetStatus(to).AddVersion(1).SetDecidedAt(t.now).SetUpdatedAt(t.now).SetComment(comment)
	if actor.System {
		u.SetDecidedBy(systemApprover)
	} else {
		u.SetDecidedBy(actor.Username)
		if actor.Via != "" {
			u.SetDecidedVia(actor.Via)
		}
	}
	if set != nil {
		set(u)
	}
	na, err := u.Save(t.ctx)
	if ent.IsNotFound(err) {
		return nil, Conflict("approval %d changed concurrently; read it again", a.ID)
	}
	if err != nil {
		return nil, fmt.Errorf("updating approval %d: %w", a.ID, err)
	}
	after := map[string]any{"status": to, "comment": comment}
	if na.DeferredUntil != nil {
		after["deferredUntil"] = na.DeferredUntil.UTC().Format(time.RFC3339)
	}
	if auditedTransition(actor, auditTargetApproval, string(ev)) {
		if err := t.audit(actor, "approval."+string(ev), auditTargetApproval, a.ID, map[string]any{"status": from}, after); err != nil {
			return nil, err
		}
	}
	if err := t.retireTimers(timerApprovalTimeout, a.ID); err != nil {
		return nil, err
	}
	typ := map[ApprovalEvent]string{ApprovalTimeOut: EventApprovalTimedOut, ApprovalReassign: EventApprovalReassigned}[ev]
	if typ == "" {
		typ = EventApprovalDecided
	}
	e := dc.event(typ, actor)
	e.ApprovalID = a.ID
	e.Status = string(to)
	// The approver and the comment let a bot tell the approver what became
	// of the request (a canceled approval's comment says why).
	e.Data = map[string]any{"stage": string(a.Stage), "approver": a.Approver, "kind": kindOf(a), "comment": comment}
	return na, t.emit(e)
}

// isApprover reports whether username may decide a: it names the user, or a
// group the user belongs to.
func isApprover(ctx context.Context, c *ent.Client, username string, a *ent.Approval) (bool, error) {
	if a.Automated || a.ApproverKind == nil {
		return false, nil
	}
	switch *a.ApproverKind {
	case approval.ApproverKindUSER:
		return a.Approver == username, nil
	case approval.ApproverKindGROUP:
		ok, err := c.Group.Query().
			Where(group.Name(a.Approver), group.HasMembersWith(user.Username(username), user.Disabled(false))).
			Exist(ctx)
		if err != nil {
			return false, fmt.Errorf("reading members of group %s: %w", a.Approver, err)
		}
		return ok, nil
	}
	return false, nil
}

// requireReadableApproval answers NOT_FOUND for an approval of a definition actor may not read,
// even one that names actor: approvers must be able to read what they approve.
func requireReadableApproval(ctx context.Context, c *ent.Client, actor Actor, dc *deployCtx, a *ent.Approval) error {
	ok, err := canReadDefinition(ctx, c, actor, dc.d.DefinitionID)
	if err == nil && !ok {
		err = NotFound("approval", a.ID)
	}
	return err
}

// decideGuard is the one check before an approval is decided (approved,
// rejected or reassigned) and before it is listed as pending for someone:
// it must be PENDING (else a *TransitionError), the actor must be its
// approver or a member of its group and must not have requested the
// deployment when the policy forbids it (FORBIDDEN), a SEQUENTIAL approval
// waits for the lower ranks, and an ANY_ONE stage that needs several
// approvers counts each person once (CONFLICT). Callers first check that actor
// may read the approval's definition (requireReadableApproval, or a list that
// leaves hidden definitions out).
func decideGuard(ctx context.Context, c *ent.Client, actor Actor, dc *deployCtx, a *ent.Approval, ev ApprovalEvent) error {
	if _, err := approvalMachine.apply(a.ID, a.Status, ev); err != nil {
		return err
	}
	ok, err := isApprover(ctx, c, actor.Username, a)
	if err != nil {
		return err
	}
	stage, err := c.Approval.Query().
		Where(approval.DeploymentID(a.DeploymentID), approval.StageEQ(a.Stage)).All(ctx)
	if err != nil {
		return fmt.Errorf("reading the stage's approvals: %w", err)
	}
	return decideRules(actor, ok, dc, a, stage, ev)
}

// decideRules is decideGuard once its inputs are read: whether actor is
// a's approver (or in its group) and the approvals of a's stage. It reads
// nothing, so that a list of blockers can judge many approvals with the
// rules the mutations apply.
func decideRules(actor Actor, approver bool, dc *deployCtx, a *ent.Approval, stage []*ent.Approval, ev ApprovalEvent) error {
	if _, err := approvalMachine.apply(a.ID, a.Status, ev); err != nil {
		return err
	}
	if err := actor.Require(RoleViewer, "deciding an approval"); err != nil {
		return err
	}
	if !approver {
		return Forbidden("%s is not an approver of approval %d: it is assigned to %s %s",
			actor.Username, a.ID, kindName(a), a.Approver)
	}
	policy := dc.policy(a.Stage)
	if policy.RequesterCannotApprove {
		switch actor.Username {
		case dc.rel.CreatedBy:
			return Forbidden("%s created release %s, and the policy of environment %s does not let the requester approve its deployment: another approver must decide",
				actor.Username, dc.rel.Name, dc.re.Name)
		case dc.d.RequestedBy:
			return Forbidden("%s requested deployment %d, and the policy of environment %s does not let the requester approve it: another approver must decide",
				actor.Username, dc.d.ID, dc.re.Name)
		}
	}
	switch mode(policy) {
	case spec.ApprovalSequential:
		for _, o := range stage {
			if o.Status == approval.StatusPENDING && o.Rank < a.Rank {
				return Conflict("approval %d waits for %s %s (rank %d) to decide first", a.ID, kindName(o), o.Approver, o.Rank)
			}
		}
	case spec.ApprovalAnyOne:
		if ev == ApprovalApprove {
			for _, o := range stage {
				if o.ID != a.ID && o.Status == approval.StatusAPPROVED && o.DecidedBy != nil && *o.DecidedBy == actor.Username {
					return Conflict("%s already approved this stage (approval %d); another approver must approve", actor.Username, o.ID)
				}
			}
		}
	}
	return nil
}

func kindName(a *ent.Approval) string {
	if a.ApproverKind != nil && *a.ApproverKind == approval.ApproverKindGROUP {
		return "group"
	}
	return "user"
}

// stageComplete reports whether the approvals of a stage satisfy its policy.
func stageComplete(policy spec.ApprovalPolicy, aps []*ent.Approval) bool {
	var live []*ent.Approval
	for _, a := range aps {
		if a.Status != approval.StatusREASSIGNED && a.Status != approval.StatusCANCELED {
			live = append(live, a)
		}
	}
	if len(live) == 0 {
		return false
	}
	if mode(policy) == spec.ApprovalAnyOne {
		need := min(max(policy.RequiredCount, 1), len(live))
		deciders := map[string]bool{}
		for _, a := range live {
			if a.Status == approval.StatusAPPROVED && a.DecidedBy != nil {
				deciders[*a.DecidedBy] = true
			}
		}
		if len(deciders) >= need {
			return true
		}
	}
	for _, a := range live {
		if a.Status != approval.StatusAPPROVED && a.Status != approval.StatusSKIPPED {
			return false
		}
	}
	return true
}

// Approve records actor's approval. When it completes the stage, the
// deployment moves on: after the pre-deployment stage to the queue (or to
// SCHEDULED when an approver deferred it to a future time), after the
// post-deployment stage to SUCCEEDED or PARTIALLY_SUCCEEDED. Only an
// assigned approver (or a member of the assigned group) may decide
// (FORBIDDEN); a decided approval is a CONFLICT.
func (e *Engine) Approve(ctx context.Context, actor Actor, dec ApprovalDecision) (*ent.Approval, error) {
	return e.decide(ctx, actor, dec, ApprovalApprove, "approving")
}

// Reject records actor's rejection: the deployment and its environment
// become REJECTED and the stage's other pending approvals CANCELED.
func (e *Engine) Reject(ctx context.Context, actor Actor, dec ApprovalDecision) (*ent.Approval, error) {
	return e.decide(ctx, actor, dec, ApprovalReject, "rejecting")
}

func (e *Engine) decide(ctx context.Context, actor Actor, dec ApprovalDecision, ev ApprovalEvent, doing string) (*ent.Approval, error) {
	if err := checkActionComment("comment", dec.Comment); err != nil {
		return nil, err
	}
	if dec.DeferUntil != nil && ev != ApprovalApprove {
		return nil, Invalid("deferUntil", "only an approval can defer a deployment")
	}
	var out *ent.Approval
	err := e.inTx(ctx, func(t *txn) error {
		a, dc, err := t.loadApproval(dec.ApprovalID)
		if err != nil {
			return err
		}
		if err := requireReadableApproval(t.ctx, t.Client(), actor, dc, a); err != nil {
			return err
		}
		if err := decideGuard(t.ctx, t.Client(), actor, dc, a, ev); err != nil {
			return err
		}
		var set func(*ent.ApprovalUpdateOne)
		if dec.DeferUntil != nil {
			until := dec.DeferUntil.UTC()
			switch {
			case a.Stage != approval.StagePRE:
				return Invalid("deferUntil", "only a pre-deployment approval can defer a deployment")
			case !until.After(t.now):
				return Invalid("deferUntil", "%s is not in the future (now is %s)", until.Format(time.RFC3339), t.now.UTC().Format(time.RFC3339))
			case until.After(t.now.AddDate(1, 0, 0)):
				return Invalid("deferUntil", "%s is more than a year away", until.Format(time.RFC3339))
			}
			set = func(u *ent.ApprovalUpdateOne) { u.SetDeferredUntil(until) }
		}
		out, err = t.moveApproval(actor, dc, a, ev, dec.Comment, set)
		if err != nil {
			return err
		}
		if ev == ApprovalReject {
			reason := actionReason("rejected", actor, dec.Comment)
			return t.finishDeployment(actor, dc, DeploymentReject, reason)
		}
		return t.advanceStage(actor, dc, a.Stage)
	})
	if err != nil {
		return nil, fmt.Errorf("%s approval %d: %w", doing, dec.ApprovalID, err)
	}
	return out.Unwrap(), nil
}

// loadApproval reads an approval (locked on PostgreSQL) and its deployment.
func (t *txn) loadApproval(id int) (*ent.Approval, *deployCtx, error) {
	q := t.Approval.Query().Where(approval.ID(id))
	if t.postgres() {
		q = q.ForUpdate()
	}
	a, err := q.Only(t.ctx)
	if ent.IsNotFound(err) {
		return nil, nil, NotFound("approval", id)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("reading approval %d: %w", id, err)
	}
	dc, err := t.loadDeployment(a.DeploymentID)
	if err != nil {
		return nil, nil, err
	}
	return a, dc, nil
}

// advanceStage moves the deployment on when its stage is complete, skipping
// the approvals no longer needed; otherwise, in a SEQUENTIAL stage, it
// announces the next approver.
func (t *txn) advanceStage(actor Actor, dc *deployCtx, stage approval.Stage) error {
	aps, err := t.Approval.Query().
		Where(approval.DeploymentID(dc.d.ID), approval.StageEQ(stage)).
		Order(ent.Asc(approval.FieldRank), ent.Asc(approval.FieldID)).All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading the stage's approvals: %w", err)
	}
	policy := dc.policy(stage)
	if !stageComplete(policy, aps) {
		if mode(policy) != spec.ApprovalSequential {
			return nil
		}
		for _, a := range aps {
			if a.Status == approval.StatusPENDING {
				return t.emitPending(actor, dc, a)
			}
		}
		return nil
	}
	for _, a := range aps {
		if a.Status == approval.StatusPENDING {
			if _, err := t.moveApproval(actor, dc, a, ApprovalSkip, "not needed: the stage is approved", nil); err != nil {
				return err
			}
		}
	}
	if stage == approval.StagePRE {
		return t.afterPreApproval(actor, dc)
	}
	return t.afterPostApproval(actor, dc)
}

// Reassign hands an approval to another user: the approval becomes
// REASSIGNED and a new PENDING one (reassigned_from_id set, same rank and
// due time) waits for toUsername. Only someone who may decide the approval
// may reassign it.
func (e *Engine) Reassign(ctx context.Context, actor Actor, approvalID int, toUsername, comment string) (*ent.Approval, error) {
	if err := checkActionComment("comment", comment); err != nil {
		return nil, err
	}
	var out *ent.Approval
	err := e.inTx(ctx, func(t *txn) error {
		a, dc, err := t.loadApproval(approvalID)
		if err != nil {
			return err
		}
		if err := requireReadableApproval(t.ctx, t.Client(), actor, dc, a); err != nil {
			return err
		}
		if err := t.reassignGuard(actor, dc, a); err != nil {
			return err
		}
		to, err := t.User.Query().Where(user.Username(toUsername), user.Disabled(false)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return Invalid("toUsername", "there is no active user %q", toUsername)
		}
		if err != nil {
			return fmt.Errorf("reading user %s: %w", toUsername, err)
		}
		if kindOf(a) == string(approval.ApproverKindUSER) && a.Approver == to.Username {
			return Invalid("toUsername", "approval %d is already assigned to %s", a.ID, to.Username)
		}
		if _, err := t.moveApproval(actor, dc, a, ApprovalReassign, comment, nil); err != nil {
			return err
		}
		out, err = t.Approval.Create().
			SetDeploymentID(a.DeploymentID).SetReleaseID(a.ReleaseID).SetStage(a.Stage).SetRank(a.Rank).
			SetApproverKind(approval.ApproverKindUSER).SetApprover(to.Username).SetNillableDueAt(a.DueAt).
			SetReassignedFromID(a.ID).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing the reassigned approval: %w", err)
		}
		if err := t.audit(actor, "approval.create", auditTargetApproval, out.ID, nil, map[string]any{
			"deployment": dc.d.ID, "stage": out.Stage, "approver": out.Approver, "kind": "USER",
			"rank": out.Rank, "status": out.Status, "reassignedFrom": a.ID,
		}); err != nil {
			return err
		}
		if out.DueAt != nil {
			if err := t.createTimer(timerApprovalTimeout, out.ID, *out.DueAt, ""); err != nil {
				return err
			}
		}
		return t.emitPending(actor, dc, out)
	})
	if err != nil {
		return nil, fmt.Errorf("reassigning approval %d to %q: %w", approvalID, toUsername, err)
	}
	return out.Unwrap(), nil
}

// reassignGuard decides who may reassign an approval: whoever may decide it,
// and those holding manageApprovals on its environment (an ADMIN's override
// is audited).
func (t *txn) reassignGuard(actor Actor, dc *deployCtx, a *ent.Approval) error {
	acc, err := reassignCheck(t.ctx, t.Client(), actor, dc, a)
	if err != nil {
		return err
	}
	return t.auditOverride(acc)
}

// reassignCheck is reassignGuard without the audit of an override (the
// check viewerCan makes): the access to audit when an ADMIN overrode
// manageApprovals, else nil.
func reassignCheck(ctx context.Context, c *ent.Client, actor Actor, dc *deployCtx, a *ent.Approval) (*access, error) {
	err := decideGuard(ctx, c, actor, dc, a, ApprovalReassign)
	if CodeOf(err) != CodeForbidden {
		return nil, err
	}
	acc, aerr := checkAccess(ctx, c, actor, dc.d.DefinitionID, dc.re.Name, PermManageApprovals,
		fmt.Sprintf("reassigning approval %d", a.ID), NotFound("approval", a.ID))
	if aerr != nil {
		return nil, err // the approver rule's refusal says more than the permission's
	}
	return acc, nil
}

// PendingApprovalsFor lists the pending approvals that actor can decide now:
// assigned to them or a group of theirs, not waiting for a lower rank, and
// not forbidden by the requester rule. The same guard as Approve decides.
func (e *Engine) PendingApprovalsFor(ctx context.Context, actor Actor) ([]*ent.Approval, error) {
	if err := actor.Require(RoleViewer, "listing pending approvals"); err != nil {
		return nil, err
	}
	groups, err := e.client.Group.Query().
		Where(group.HasMembersWith(user.Username(actor.Username), user.Disabled(false))).
		Select(group.FieldName).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading groups of %s: %w", actor.Username, err)
	}
	candidates, err := e.client.Approval.Query().
		Where(approval.StatusEQ(approval.StatusPENDING), approval.Or(
			approval.And(approval.ApproverKindEQ(approval.ApproverKindUSER), approval.Approver(actor.Username)),
			approval.And(approval.ApproverKindEQ(approval.ApproverKindGROUP), approval.ApproverIn(groups...)),
		)).
		WithDeployment(func(q *ent.DeploymentQuery) { q.WithRelease().WithReleaseEnvironment() }).
		Order(ent.Asc(approval.FieldID)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading pending approvals of %s: %w", actor.Username, err)
	}
	hidden, err := e.HiddenDefinitions(ctx, actor)
	if err != nil {
		return nil, err
	}
	var out []*ent.Approval
	for _, a := range candidates {
		d := a.Edges.Deployment
		if slices.Contains(hidden, d.DefinitionID) {
			continue // approvers must be able to read what they approve
		}
		env, ok := d.Edges.Release.Snapshot.Environment(d.EnvironmentName)
		if !ok {
			continue
		}
		dc := &deployCtx{d: d, rel: d.Edges.Release, re: d.Edges.ReleaseEnvironment, env: env}
		err := decideGuard(ctx, e.client, actor, dc, a, ApprovalApprove)
		switch {
		case err == nil:
			out = append(out, a)
		case ServerFault(err):
			return nil, fmt.Errorf("listing pending approvals of %s: %w", actor.Username, err)
		}
	}
	return out, nil
}
