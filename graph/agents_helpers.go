package graph

import "github.com/cairnhq/cairn/delivery"

// deref returns *p, or def when p is nil (optional GraphQL arguments).
func deref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// stringMap converts capabilities to the Map scalar.
func stringMap(m map[string]string) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// ptrs turns log lines into the pointers gqlgen lists use.
func ptrs(lines []delivery.LogLine) []*delivery.LogLine {
	out := make([]*delivery.LogLine, len(lines))
	for i := range lines {
		out[i] = &lines[i]
	}
	return out
}
