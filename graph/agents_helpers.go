package graph

// derefOr returns *p, or def when p is nil (optional GraphQL arguments).
func derefOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
