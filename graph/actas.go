package graph

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
)

// effectiveActor is the actor of a mutation that takes an optional
// onBehalfOf argument (approve, reject, deployEnvironment): the caller itself
// when it is nil or empty, else the person the caller (a bot with the act-as
// scope) acts for. The engine then judges the change by the person's rights
// and audits both names.
func (r *Resolver) effectiveActor(ctx context.Context, onBehalfOf *string) (delivery.Actor, error) {
	a, err := actor(ctx)
	if err != nil {
		return delivery.Actor{}, err
	}
	if onBehalfOf == nil || *onBehalfOf == "" {
		return a, nil
	}
	return r.Engine.ActAs(ctx, a, *onBehalfOf)
}
