package graph

import (
	"context"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// principal returns the viewer's principal, once per operation where the
// operation has loaders (a subscription's field reads it each time).
func (r *Resolver) principal(ctx context.Context) (*delivery.Principal, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	l := loadersFrom(ctx)
	if l == nil {
		return r.Engine.PrincipalOf(ctx, a)
	}
	l.principalOnce.Do(func() { l.principal, l.principalErr = r.Engine.PrincipalOf(ctx, a) })
	return l.principal, l.principalErr
}

// viewerCanOf answers a viewerCan field of a release, environment,
// deployment or approval with the engine's check for the viewer's principal
// (read once per operation, with the definitions' permissions).
func viewerCanOf[T, C any](ctx context.Context, r *Resolver, obj T, can func(context.Context, *delivery.Principal, T) (C, error)) (*C, error) {
	p, err := r.principal(ctx)
	if err != nil {
		return nil, err
	}
	c, err := can(ctx, p, obj)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func (r *Resolver) libraryViewerCan(ctx context.Context, perms spec.LibraryPermissions) (*delivery.LibraryViewerCan, error) {
	p, err := r.principal(ctx)
	if err != nil {
		return nil, err
	}
	can := p.CanLibrary(perms)
	return &can, nil
}
