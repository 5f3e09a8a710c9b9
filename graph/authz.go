package graph

import (
	"context"
	"fmt"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
)

// generatedRootRoles gives the least role for root fields that entgql
// generates in ent.graphql, which cannot carry the @auth directive.
var generatedRootRoles = map[string]delivery.Role{
	"Query.node":        delivery.RoleViewer,
	"Query.nodes":       delivery.RoleViewer,
	"Query.agents":      delivery.RoleViewer,
	"Query.releases":    delivery.RoleViewer,
	"Query.definitions": delivery.RoleViewer,
}

// rootRole returns the least role declared for a root field: its @auth
// directive, else the table above. ok is false when neither says: such a
// field is refused (deny by default).
func rootRole(object string, field *graphql.FieldContext) (delivery.Role, bool) {
	if d := field.Field.Definition.Directives.ForName("auth"); d != nil {
		if arg := d.Arguments.ForName("role"); arg != nil && arg.Value != nil {
			return delivery.Role(arg.Value.Raw), true
		}
	}
	r, ok := generatedRootRoles[object+"."+field.Field.Name]
	return r, ok
}

// rootObject names the root type of the operation: Query, Mutation or Subscription.
func rootObject(oc *graphql.OperationContext) string {
	if oc == nil || oc.Operation == nil {
		return "Query"
	}
	switch oc.Operation.Operation {
	case "mutation":
		return "Mutation"
	case "subscription":
		return "Subscription"
	}
	return "Query"
}

// authorizeRootFields enforces the role of every Query, Mutation and
// Subscription field before its resolver runs. Introspection is open to any
// authenticated caller.
func authorizeRootFields(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	fc := graphql.GetRootFieldContext(ctx)
	if fc == nil || len(fc.Field.Name) > 1 && fc.Field.Name[:2] == "__" {
		return next(ctx)
	}
	object := rootObject(graphql.GetOperationContext(ctx))
	a, ok := auth.ActorFrom(ctx)
	if !ok {
		graphql.AddError(ctx, delivery.ErrUnauthenticated)
		return graphql.Null
	}
	min, declared := rootRole(object, &graphql.FieldContext{Field: fc.Field})
	if !declared {
		graphql.AddError(ctx, delivery.Forbidden("field %s.%s declares no role; refused", object, fc.Field.Name))
		return graphql.Null
	}
	if err := a.Require(min, fmt.Sprintf("%s.%s", object, fc.Field.Name)); err != nil {
		graphql.AddError(ctx, err)
		return graphql.Null
	}
	return next(ctx)
}

// maxMayCall bounds the names one viewer.mayCall asks about.
const maxMayCall = 100

// mayCall returns, in the order given, the root fields ("Query.auditEvents",
// "Mutation.redeliverWebhookDelivery") of schema that a may call: the check
// authorizeRootFields makes before running them. Unknown names and fields
// that declare no role are left out.
func mayCall(schema *ast.Schema, a delivery.Actor, fields []string) ([]string, error) {
	if len(fields) > maxMayCall {
		return nil, delivery.Invalid("fields", "at most %d names, got %d", maxMayCall, len(fields))
	}
	out := []string{}
	for _, f := range fields {
		object, name, ok := strings.Cut(f, ".")
		if !ok || strings.HasPrefix(name, "__") {
			continue
		}
		var root *ast.Definition
		switch object {
		case "Query":
			root = schema.Query
		case "Mutation":
			root = schema.Mutation
		case "Subscription":
			root = schema.Subscription
		}
		if root == nil {
			continue
		}
		def := root.Fields.ForName(name)
		if def == nil {
			continue
		}
		min, declared := rootRole(object, &graphql.FieldContext{Field: graphql.CollectedField{Field: &ast.Field{Name: name, Definition: def}}})
		if declared && a.Require(min, f) == nil {
			out = append(out, f)
		}
	}
	return out, nil
}

// authorizeSubscriptionFields is authorizeRootFields for subscriptions: gqlgen runs the root
// field middleware around Query and Mutation fields only, so a subscription's root field would
// otherwise start streaming for any authenticated caller whatever role it declares. The
// stream is refused before it takes one of the connection's subscription slots.
func authorizeSubscriptionFields(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc == nil || oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	refuse := func(err error) graphql.ResponseHandler {
		g := gqlerror.Errorf("%s", err.Error())
		g.Extensions = map[string]any{"code": string(delivery.CodeOf(err))}
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{g}})
	}
	a, ok := auth.ActorFrom(ctx)
	if !ok {
		return refuse(delivery.ErrUnauthenticated)
	}
	for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, []string{"Subscription"}) {
		if strings.HasPrefix(f.Name, "__") {
			continue
		}
		min, declared := rootRole("Subscription", &graphql.FieldContext{Field: f})
		if !declared {
			return refuse(delivery.Forbidden("field Subscription.%s declares no role; refused", f.Name))
		}
		if err := a.Require(min, "Subscription."+f.Name); err != nil {
			return refuse(err)
		}
	}
	return next(ctx)
}
