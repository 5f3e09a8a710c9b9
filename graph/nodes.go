package graph

import (
	"time"

	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
)

// readableNode applies to node(id) the rules of delivery.RequireReadableNode:
// the least role of the node's type; what a definition owns is already left
// out by the operation's read scope (scopeReads), so a hidden record is
// NOT_FOUND like a missing one.
func (r *Resolver) readableNode(ctx context.Context, n ent.Noder) error {
	a, err := actor(ctx)
	if err != nil {
		return err
	}
	return delivery.RequireReadableNode(a, n)
}

// scopeReads runs every query operation in the viewer's read scope (delivery.WithReadScope):
// whatever a field reaches, directly or through edges from other objects (a work item's
// releases, an agent's jobs, pending approvals), leaves out the definitions the viewer may not
// read. Mutations are not scoped: the engine checks them itself and must see everything.
// Subscriptions filter their events themselves, and run in a live read scope
// (delivery.WithLiveReadScope) that they refresh before each event, so that what an event's
// fields reach (an agent's jobs and their definitions, a release's work items and their other
// releases) is what the viewer could read by query at that moment.
func (r *Resolver) scopeReads(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	a, ok := auth.ActorFrom(ctx)
	if !ok || oc == nil || oc.Operation == nil {
		return next(ctx)
	}
	switch oc.Operation.Operation {
	case ast.Query:
	case ast.Subscription:
		scoped, _, err := r.Engine.WithLiveReadScope(ctx, a)
		if err != nil {
			return graphql.OneShot(graphql.ErrorResponse(ctx, "reading permissions: %v", err))
		}
		return next(scoped)
	default:
		return next(ctx)
	}
	scoped, err := r.Engine.WithReadScope(ctx, a)
	if err != nil {
		return graphql.OneShot(graphql.ErrorResponse(ctx, "reading permissions: %v", err))
	}
	return next(scoped)
}

// scopeWhere applies the operation's read scope to a field's "where"
// argument (delivery.ScopeWhere) before its resolver runs (fieldMiddleware):
// entgql turns hasXWith inputs into SQL sub-queries that the read-scope
// interceptor does not see, so each nested input of a definition-owned type
// is given the scope itself. Every field with a where argument, root or
// edge, passes here.
func scopeWhere(ctx context.Context) {
	if fc := graphql.GetFieldContext(ctx); fc != nil && fc.Args != nil {
		if w, ok := fc.Args["where"]; ok && w != nil {
			delivery.ScopeWhere(w, delivery.HiddenInScope(ctx))
		}
	}
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

// optionalTime is nil for the zero time.
func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
