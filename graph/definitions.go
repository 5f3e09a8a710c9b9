package graph

import (
	"cmp"
	"fmt"
	"slices"
	"sort"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/schema/spec"
)

// pointers adapts a slice of values to gqlgen's slice of pointers.
func pointers[T any](vs []T) []*T {
	out := make([]*T, len(vs))
	for i := range vs {
		out[i] = &vs[i]
	}
	return out
}

// byRank returns the environments of a definition in rank order; the
// eager-loaded (or queried) edge comes in no particular order.
func byRank(envs []*ent.Environment) []*ent.Environment {
	out := slices.Clone(envs)
	slices.SortFunc(out, func(a, b *ent.Environment) int { return cmp.Compare(a.Rank, b.Rank) })
	return out
}

// variableValue is what the API shows of a variable: its value, or null for a
// secret, whose stored value is ciphertext and whose plaintext never leaves
// the server.
func variableValue(v *spec.Variable) *string {
	if v.Secret {
		return nil
	}
	s := v.Value
	return &s
}

// stringMapOut turns a task's environment into the Map scalar.
func stringMapOut(m map[string]string) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// stringMapIn reads a task's environment from the Map scalar: every value
// must be a string, number or boolean (written as text).
func stringMapIn(m map[string]any) (map[string]string, error) {
	if m == nil {
		return nil, nil
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make(map[string]string, len(m))
	for _, k := range keys {
		switch v := m[k].(type) {
		case string:
			out[k] = v
		case bool, int, int64, float64, fmt.Stringer:
			out[k] = fmt.Sprint(v)
		default:
			return nil, delivery.Invalid("env", "the value of %q must be a string, number or boolean", k)
		}
	}
	return out, nil
}
