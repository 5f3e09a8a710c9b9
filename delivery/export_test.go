package delivery

import (
	"context"
	"time"

	"github.com/cairnhq/cairn/ent"
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
