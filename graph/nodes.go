package graph

import (
	"context"
	"fmt"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/deployment"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/release"
	"github.com/cairnhq/cairn/ent/releaseenvironment"
)

// readableNode applies to node(id) the same rules as the list queries:
// people, groups, tokens, audit and delivery records are for admins; service
// connections (never their secrets) for editors; a definition and what
// belongs to it (releases, environments, deployments, approvals) for those
// its readers admit, NOT_FOUND for others.
func (r *Resolver) readableNode(ctx context.Context, n ent.Noder) error {
	if err := readableNodeRole(ctx, n); err != nil {
		return err
	}
	// node(id) reads only the selected columns: read the definition id.
	c := r.Engine.Client()
	var (
		defID, id int
		err       error
	)
	switch v := n.(type) {
	case *ent.ReleaseDefinition:
		id, defID = v.ID, v.ID
	case *ent.Release:
		id = v.ID
		defID, err = c.Release.Query().Where(release.ID(v.ID)).Select(release.FieldDefinitionID).Int(ctx)
	case *ent.ReleaseEnvironment:
		id = v.ID
		defID, err = c.ReleaseEnvironment.Query().Where(releaseenvironment.ID(v.ID)).Select(releaseenvironment.FieldDefinitionID).Int(ctx)
	case *ent.Deployment:
		id = v.ID
		defID, err = c.Deployment.Query().Where(deployment.ID(v.ID)).Select(deployment.FieldDefinitionID).Int(ctx)
	case *ent.Environment:
		id = v.ID
		defID, err = c.Environment.Query().Where(environment.ID(v.ID)).Select(environment.FieldDefinitionID).Int(ctx)
	case *ent.DefinitionRevision:
		id = v.ID
		defID, err = c.DefinitionRevision.Query().Where(definitionrevision.ID(v.ID)).Select(definitionrevision.FieldDefinitionID).Int(ctx)
	case *ent.Approval:
		id = v.ID
		defID, err = c.Deployment.Query().Where(deployment.HasApprovalsWith(approval.ID(v.ID))).Select(deployment.FieldDefinitionID).Int(ctx)
	}
	if err != nil {
		return fmt.Errorf("reading the definition of node %d: %w", id, err)
	}
	if defID == 0 {
		return nil
	}
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	if err := r.Engine.RequireReadableDefinition(ctx, a, defID); err != nil {
		if delivery.CodeOf(err) == delivery.CodeNotFound {
			return delivery.NotFound("node", id)
		}
		return err
	}
	return nil
}

// scopeReads runs every query operation in the viewer's read scope (delivery.WithReadScope):
// whatever a field reaches, directly or through edges from other objects (a work item's
// releases, an agent's jobs, pending approvals), leaves out the definitions the viewer may not
// read. Mutations are not scoped: the engine checks them itself and must see everything.
// Subscriptions filter their events themselves, re-reading readers as they change.
func (r *Resolver) scopeReads(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	a, ok := auth.ActorFrom(ctx)
	if !ok || oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Query {
		return next(ctx)
	}
	scoped, err := r.Engine.WithReadScope(ctx, a)
	if err != nil {
		return graphql.OneShot(graphql.ErrorResponse(ctx, "reading permissions: %v", err))
	}
	return next(scoped)
}

// hiddenDefinitions lists the definitions the viewer may not read, for list
// queries to exclude.
func (r *Resolver) hiddenDefinitions(ctx context.Context) ([]int, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	return r.Engine.HiddenDefinitions(ctx, a)
}

// readableNodeRole checks the least role of a node's type.
func readableNodeRole(ctx context.Context, n ent.Noder) error {
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
