package delivery

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
)

// Audit target types: one name per kind of record, its GraphQL type's name
// in lowerCamel case (definitions are "definition"). Filters of auditEvents
// use these names. Events recorded before they were unified keep their old
// names ("Agent", "AgentRegistration", "release_artifact",
// "webhook_delivery"): the hash chain covers them.
const (
	auditTargetDefinition         = "definition"
	auditTargetRelease            = "release"
	auditTargetReleaseEnvironment = "releaseEnvironment"
	auditTargetReleaseArtifact    = "releaseArtifact"
	auditTargetDeployment         = "deployment"
	auditTargetApproval           = "approval"
	auditTargetJob                = "job"
	auditTargetAgent              = "agent"
	auditTargetAgentRegistration  = "agentRegistration"
	auditTargetUser               = "user"
	auditTargetGroup              = "group"
	auditTargetAPIToken           = "apiToken"
	auditTargetConnection         = "serviceConnection"
	auditTargetHook               = "outgoingHook"
	auditTargetHookDelivery       = "hookDelivery"
	auditTargetWebhookDelivery    = "webhookDelivery"
	auditTargetFreezeWindow       = "freezeWindow"
	auditTargetIntervention       = "manualIntervention"
	auditTargetTaskTemplate       = "taskTemplate"
	auditTargetVariableGroup      = "variableGroup"
	auditTargetSecureFile         = "secureFile"
	auditTargetRetentionRun       = "retentionRun"
	auditTargetAgentPool          = "agentPool"
	auditTargetDeploymentGroup    = "deploymentGroup"
)

// genesisHash is the prev_hash of the first audit event.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// audit appends an AuditEvent within the transaction, unsealed: the sealer gives it its place
// in the chain after commit (seal.go). before and after are encoded as JSON (nil encodes as
// empty); callers pass values with secrets already removed.
func (t *txn) audit(actor Actor, action, targetType string, targetID any, before, after any) error {
	b, err := encodeAudit(before)
	if err != nil {
		return err
	}
	a, err := encodeAudit(after)
	if err != nil {
		return err
	}
	who, onBehalfOf := actor.Username, ""
	if actor.Via != "" {
		// A bot acting for a person: the actor is the bot, on behalf of the person.
		who, onBehalfOf = actor.Via, actor.Username
	}
	row := heldAudit{sequence: unsealedSequence(), time: t.now.UTC().Truncate(time.Microsecond), actor: who,
		onBehalfOf: onBehalfOf, action: action, targetType: targetType, targetID: fmt.Sprint(targetID), before: b, after: a}
	if t.postgres() {
		// Inserted with the transaction's events just before it commits (flushEvents), in one
		// statement: the sealer, after commit, is the first to read it.
		t.audits = append(t.audits, row)
	} else {
		err = t.AuditEvent.Create().
			SetSequence(row.sequence).SetTime(row.time).SetActor(row.actor).
			SetOnBehalfOf(row.onBehalfOf).SetAction(row.action).SetTargetType(row.targetType).SetTargetID(row.targetID).
			SetBefore(row.before).SetAfter(row.after).SetPrevHash("").SetHash("").
			Exec(t.ctx)
		if err != nil {
			return fmt.Errorf("appending audit event: %w", err)
		}
	}
	t.unsealed = true
	if targetType == auditTargetUser || targetType == auditTargetGroup {
		// Every change of a user or group is audited: the administration pages follow them.
		t.notify(Event{Type: EventIdentityChanged, Data: map[string]any{
			"targetType": targetType, "targetId": fmt.Sprint(targetID), "action": action}})
	}
	return nil
}

// heldAudit is an audit row a PostgreSQL transaction inserts just before it commits.
type heldAudit struct {
	sequence                                                       int64
	time                                                           time.Time
	actor, onBehalfOf, action, targetType, targetID, before, after string
}

func encodeAudit(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if s, ok := v.(string); ok {
		return s, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("encoding audit payload: %w", err)
	}
	return string(b), nil
}

// auditRecord is the hashed content of an AuditEvent.
type auditRecord struct {
	Sequence                                                       int64
	Time                                                           time.Time
	Actor, OnBehalfOf, Action, TargetType, TargetID, Before, After string
	PrevHash                                                       string
}

// hash is the legacy link: plain SHA-256 over the length-prefixed fields, which rows sealed
// before the chain was keyed carry (up to the checkpoint's legacyUntil).
func (r auditRecord) hash() string {
	sum := sha256.Sum256([]byte(r.encode()))
	return hex.EncodeToString(sum[:])
}

// ChainReport is the result of verifying the audit chain.
type ChainReport struct {
	// Checked is the number of events verified.
	Checked int
	// OK is true when every link holds.
	OK bool
	// BrokenAt is the sequence of the first event whose link does not hold.
	BrokenAt int64
	// Problem says what is wrong there.
	Problem string
	// HeadSequence is the head the chain was checked against: the signed checkpoint's sequence.
	HeadSequence int64
	// LegacyUntil is the last sequence linked with plain SHA-256 (before the chain was keyed).
	LegacyUntil int64
}

// VerifyAuditChain walks the sealed audit chain in order up to its signed checkpoint and
// reports the first broken link: an edited row (its HMAC, or for the legacy prefix its
// SHA-256, does not match), a row whose prev_hash does not match its predecessor, a gap in the
// sequence (a removed row), a chain that ends before the checkpoint (the newest rows were
// removed), a checkpoint whose MAC does not hold, or one older than a head this server sealed.
func (e *Engine) VerifyAuditChain(ctx context.Context, actor Actor) (ChainReport, error) {
	if err := actor.Require(RoleAdmin, "verifying the audit chain"); err != nil {
		return ChainReport{}, err
	}
	var rep ChainReport
	head, err := e.readCheckpoint(ctx, e.client)
	rep.HeadSequence, rep.LegacyUntil = head.sequence, head.legacyUntil
	if err != nil {
		if !head.exists {
			return rep, err
		}
		return broken(rep, head.sequence, err.Error()), nil
	}
	if !head.exists {
		// Nothing sealed since the chain was keyed: every row is a legacy link.
		head.legacyUntil = head.sequence
		rep.LegacyUntil = head.sequence
	}
	e.sealMu.Lock()
	seen := e.headSeen
	e.sealMu.Unlock()
	if head.sequence < seen {
		return broken(rep, head.sequence+1, fmt.Sprintf("the checkpoint (head %d) is older than head %d that this server sealed: it was moved back", head.sequence, seen)), nil
	}
	e.sawHead(head.sequence)
	const page = 500
	prev, want := genesisHash, int64(1)
	for {
		rows, err := e.client.AuditEvent.Query().
			Where(auditevent.SequenceGTE(want)).
			Order(ent.Asc(auditevent.FieldSequence)).Limit(page).All(ctx)
		if err != nil {
			return rep, fmt.Errorf("reading audit chain: %w", err)
		}
		for _, ev := range rows {
			rec := recordOf(ev)
			sum := ""
			if ev.Sequence <= head.legacyUntil {
				sum = rec.hash()
			} else {
				sum = rec.mac(e.auditKey)
			}
			switch {
			case ev.Sequence != want:
				return broken(rep, want, fmt.Sprintf("event %d is missing (next is %d)", want, ev.Sequence)), nil
			case ev.PrevHash != prev:
				return broken(rep, ev.Sequence, "prev_hash does not match the previous event's hash"), nil
			case !hmac.Equal([]byte(sum), []byte(ev.Hash)):
				return broken(rep, ev.Sequence, "content does not match its hash (the row was edited)"), nil
			case ev.Sequence > head.sequence:
				return broken(rep, ev.Sequence, fmt.Sprintf("event %d is past the signed head %d", ev.Sequence, head.sequence)), nil
			}
			prev, want = ev.Hash, want+1
			rep.Checked++
		}
		if len(rows) < page {
			break
		}
	}
	if last := want - 1; last < head.sequence {
		return broken(rep, want, fmt.Sprintf("events %d to %d are missing: the chain ends before its signed head %d (the newest rows were deleted)",
			want, head.sequence, head.sequence)), nil
	}
	if head.exists && prev != head.hash {
		return broken(rep, head.sequence, "the newest event's hash does not match the signed head"), nil
	}
	rep.OK = true
	return rep, nil
}
func broken(rep ChainReport, seq int64, problem string) ChainReport {
	rep.OK, rep.BrokenAt, rep.Problem = false, seq, problem
	return rep
}

// auditedTransition says whether a state transition of a deployment, approval or job is an
// audit row: the audit trail records what people did (Azure's audit log is of people's
// actions); what the engine did on its own (triggers, queueing, gates, an agent's reports,
// timeouts, supersession, approvals opened by a policy) is the history of the deployment,
// approval and job rows themselves (their statuses, times, reasons, deciders) and of the event
// stream. A person's decision on an approval (approve, reject, reassign) and a person's
// cancel are audited; a person's release, deploy request, abandon and gate override have
// audit rows of their own at the call.
func auditedTransition(actor Actor, target, ev string) bool {
	if actor.System {
		return false
	}
	switch target {
	case auditTargetApproval:
		return ev == string(ApprovalApprove) || ev == string(ApprovalReject) || ev == string(ApprovalReassign)
	case auditTargetDeployment:
		return ev == string(DeploymentCancel) || ev == string(DeploymentRequestCancel)
	}
	return false
}

// auditedDeploymentTransition is auditedTransition for deployments, plus gates passing (by a
// sample or a person's override), the automated counterpart of an approval: rare, and what
// an auditor asks about.
func auditedDeploymentTransition(actor Actor, ev DeploymentEvent) bool {
	return ev == DeploymentPassGates || auditedTransition(actor, auditTargetDeployment, string(ev))
}
