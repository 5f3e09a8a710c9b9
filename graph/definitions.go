package graph

import (
	"cmp"
	"context"
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

// releaseEnvsByRank orders a release's environments as its definition triggers them (rank),
// not as the database returns them. The field collection of a list loads only the fields a
// query asks for, so rank may be unloaded (0); ids order them the same way, as createRelease
// creates a release's environments in rank order, in one transaction, and never adds any.
func releaseEnvsByRank(envs []*ent.ReleaseEnvironment) []*ent.ReleaseEnvironment {
	out := slices.Clone(envs)
	slices.SortFunc(out, func(a, b *ent.ReleaseEnvironment) int {
		return cmp.Or(cmp.Compare(a.Rank, b.Rank), cmp.Compare(a.ID, b.ID))
	})
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

// viewerCan answers viewerCan of a definition (env nil) or of one of its
// environments: what the viewer may do there. The viewer's groups are read
// once per operation, definitions batched.
func (r *Resolver) viewerCan(ctx context.Context, defID int, env *ent.Environment) (*delivery.ViewerCan, error) {
	a, err := actor(ctx)
	if err != nil {
		return nil, err
	}
	l := loadersFrom(ctx)
	var p *delivery.Principal
	var def *ent.ReleaseDefinition
	if l == nil { // a subscription's field: no per-operation cache
		if p, err = r.Engine.PrincipalOf(ctx, a); err == nil {
			def, err = r.Engine.Client().ReleaseDefinition.Get(ctx, defID)
		}
	} else {
		l.principalOnce.Do(func() { l.principal, l.principalErr = r.Engine.PrincipalOf(ctx, a) })
		p, err = l.principal, l.principalErr
		if err == nil {
			def, err = l.definitions.load(ctx, defID)
		}
	}
	if err != nil {
		return nil, err
	}
	can := p.Can(def, env)
	return &can, nil
}
