package graph

import "github.com/cairnhq/cairn/delivery"

// derefOr returns *p, or def when p is nil (optional GraphQL arguments).
func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// values dereferences a list of pointers (gqlgen's input lists).
func values[T any](ps []*T) []T {
	out := make([]T, 0, len(ps))
	for _, p := range ps {
		if p != nil {
			out = append(out, *p)
		}
	}
	return out
}

// logOptions are the options of a deployment log stream asked for with targets.
func logOptions(targets *bool) []delivery.LogOption {
	if targets != nil && *targets {
		return []delivery.LogOption{delivery.IncludeTargets}
	}
	return nil
}
