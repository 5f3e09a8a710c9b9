package delivery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
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
	auditTargetWebhookDelivery    = "webhookDelivery"
	auditTargetFreezeWindow       = "freezeWindow"
	auditTargetIntervention       = "manualIntervention"
	auditTargetTaskTemplate       = "taskTemplate"
)

// genesisHash is the prev_hash of the first audit event.
const genesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// audit appends an AuditEvent to the chain within the transaction. before and
// after are encoded as JSON (nil encodes as empty); callers pass values with
// secrets already removed.
func (t *txn) audit(actor Actor, action, targetType string, targetID any, before, after any) error {
	if !t.auditHead.known {
		last, err := t.AuditEvent.Query().Order(ent.Desc(auditevent.FieldSequence)).First(t.ctx)
		switch {
		case ent.IsNotFound(err):
			t.auditHead.hash = genesisHash
		case err != nil:
			return fmt.Errorf("reading audit chain: %w", err)
		default:
			t.auditHead.seq, t.auditHead.hash = last.Sequence, last.Hash
		}
		t.auditHead.known = true
	}
	prev, seq := t.auditHead.hash, t.auditHead.seq+1
	b, err := encodeAudit(before)
	if err != nil {
		return err
	}
	a, err := encodeAudit(after)
	if err != nil {
		return err
	}
	rec := auditRecord{
		Sequence: seq, Time: t.now.UTC().Truncate(time.Microsecond), Actor: actor.Username,
		OnBehalfOf: "", Action: action, TargetType: targetType, TargetID: fmt.Sprint(targetID),
		Before: b, After: a, PrevHash: prev,
	}
	if actor.Via != "" {
		// A bot acting for a person: the actor is the bot, on behalf of the person.
		rec.Actor, rec.OnBehalfOf = actor.Via, actor.Username
	}
	hash := rec.hash()
	_, err = t.AuditEvent.Create().
		SetSequence(rec.Sequence).SetTime(rec.Time).SetActor(rec.Actor).SetOnBehalfOf(rec.OnBehalfOf).
		SetAction(rec.Action).SetTargetType(rec.TargetType).SetTargetID(rec.TargetID).
		SetBefore(rec.Before).SetAfter(rec.After).SetPrevHash(rec.PrevHash).SetHash(hash).
		Save(t.ctx)
	if err != nil {
		return fmt.Errorf("appending audit event: %w", err)
	}
	t.auditHead.seq, t.auditHead.hash = seq, hash
	return nil
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

// hash is SHA-256 over the length-prefixed fields, so no two different records
// share an encoding.
func (r auditRecord) hash() string {
	h := sha256.New()
	for _, f := range []string{
		strconv.FormatInt(r.Sequence, 10), r.Time.UTC().Format(time.RFC3339Nano), r.Actor, r.OnBehalfOf,
		r.Action, r.TargetType, r.TargetID, r.Before, r.After, r.PrevHash,
	} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
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
}

// VerifyAuditChain walks the audit chain in order and reports the first
// broken link: an edited row (hash mismatch), a row whose prev_hash does not
// match its predecessor, or a gap in the sequence (a removed row).
func (e *Engine) VerifyAuditChain(ctx context.Context, actor Actor) (ChainReport, error) {
	if err := actor.Require(RoleAdmin, "verifying the audit chain"); err != nil {
		return ChainReport{}, err
	}
	const page = 500
	prev, want := genesisHash, int64(1)
	var rep ChainReport
	for {
		rows, err := e.client.AuditEvent.Query().
			Where(auditevent.SequenceGTE(want)).
			Order(ent.Asc(auditevent.FieldSequence)).Limit(page).All(ctx)
		if err != nil {
			return rep, fmt.Errorf("reading audit chain: %w", err)
		}
		for _, ev := range rows {
			rec := auditRecord{
				Sequence: ev.Sequence, Time: ev.Time, Actor: ev.Actor, OnBehalfOf: ev.OnBehalfOf,
				Action: ev.Action, TargetType: ev.TargetType, TargetID: ev.TargetID,
				Before: ev.Before, After: ev.After, PrevHash: ev.PrevHash,
			}
			switch {
			case ev.Sequence != want:
				return broken(rep, want, fmt.Sprintf("event %d is missing (next is %d)", want, ev.Sequence)), nil
			case ev.PrevHash != prev:
				return broken(rep, ev.Sequence, "prev_hash does not match the previous event's hash"), nil
			case rec.hash() != ev.Hash:
				return broken(rep, ev.Sequence, "content does not match its hash (the row was edited)"), nil
			}
			prev, want = ev.Hash, want+1
			rep.Checked++
		}
		if len(rows) < page {
			rep.OK = true
			return rep, nil
		}
	}
}

func broken(rep ChainReport, seq int64, problem string) ChainReport {
	rep.OK, rep.BrokenAt, rep.Problem = false, seq, problem
	return rep
}
