package auth

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
)

type actorKey struct{}

// WithActor returns ctx carrying the authenticated actor.
func WithActor(ctx context.Context, a delivery.Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the authenticated actor of ctx, if any.
func ActorFrom(ctx context.Context) (delivery.Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(delivery.Actor)
	return a, ok
}
