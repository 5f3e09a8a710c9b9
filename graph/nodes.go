package graph

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

// readableNode applies to node(id) the same role rules as the list queries:
// people, groups, tokens, audit and delivery records are for admins; service
// connections (never their secrets) for editors.
func readableNode(ctx context.Context, n ent.Noder) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	min := delivery.RoleViewer
	switch n.(type) {
	case *ent.User, *ent.Group, *ent.ApiToken, *ent.AuditEvent, *ent.WebhookDelivery,
		*ent.Notification, *ent.OutgoingHook, *ent.HookDelivery, *ent.AgentRegistration:
		min = delivery.RoleAdmin
	case *ent.ServiceConnection:
		min = delivery.RoleEditor
	}
	if v, ok := n.(*ent.User); ok && v.ID == a.UserID {
		return nil // everyone may read themselves
	}
	return a.Require(min, "reading this node")
}
