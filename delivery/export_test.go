package delivery

import (
	"context"
	"fmt"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// Test hooks for the external tests (package delivery_test), which cannot be
// internal because storage imports delivery.

// QueueApprovalNotifications runs queueApprovalNotifications in an engine
// transaction, as the approval state machine does.
func (e *Engine) QueueApprovalNotifications(ctx context.Context, approvals []*ent.Approval) error {
	return e.inTx(ctx, func(t *txn) error { return t.queueApprovalNotifications(approvals) })
}

// ClaimNotification exposes claimNotification.
func (e *Engine) ClaimNotification(ctx context.Context, n *ent.Notification, now time.Time) (bool, error) {
	return e.claimNotification(ctx, n, now)
}

// NotificationBackoff exposes notificationBackoff.
var NotificationBackoff = notificationBackoff

// NotificationLease exposes notificationLease.
const NotificationLease = notificationLease

// FreeSlots exposes freeSlots.
func (e *Engine) FreeSlots(ctx context.Context, ids []int) (map[int]int, error) {
	return e.freeSlots(ctx, ids)
}

// PhaseKinds describes the phases a job spec splits into: "job(n)" for an
// agent phase with n tasks, "mi(name)" for a manual intervention.
func PhaseKinds(js spec.JobSpec) []string {
	var out []string
	for _, p := range phasesOf(js) {
		if p.intervention != nil {
			out = append(out, "mi("+p.intervention.Name+")")
		} else {
			out = append(out, fmt.Sprintf("job(%d)", len(p.job.Tasks)))
		}
	}
	return out
}

// ShareOf exposes shareOf.
func ShareOf(s string, n int, up bool, def int) int { return shareOf(s, n, up, def) }

// DefinitionLockKey exposes definitionLockKey.
var DefinitionLockKey = definitionLockKey

// WaitingFullEvery exposes waitingFullEvery.
const WaitingFullEvery = waitingFullEvery

// SealLockKey exposes sealLockKey.
const SealLockKey = sealLockKey

// SealWaiters reports how many writers wait in sealAfterCommit.
func (e *Engine) SealWaiters() int {
	e.sealMu.Lock()
	defer e.sealMu.Unlock()
	return e.sealWaiters
}

// NumberAndNameSQL exposes numberAndNameSQL.
const NumberAndNameSQL = numberAndNameSQL

// WaitingFunc exposes waitingFunc.
const WaitingFunc = waitingFunc

// ClaimInOneStatement runs the PostgreSQL one-statement claim of job jobID for agent agentID in
// an engine transaction, the agent locked first as the claim does. It reports the claimed job
// (nil when the statement claimed nothing) and the agent's route.
func (e *Engine) ClaimInOneStatement(ctx context.Context, jobID, agentID int) (claimed *ent.Job, route AgentRoute, err error) {
	err = e.inTxConcurrent(ctx, func(t *txn) error {
		a, err := t.lockAgentForClaim(agentID)
		if err != nil {
			return err
		}
		route = a.route
		claimed, err = t.claimInOneStatement(jobID, a)
		return err
	})
	return claimed, route, err
}
