package delivery

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"entgo.io/ent/dialect/sql"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/releasedefinition"
)

// LibraryUsage says which definitions use library items in their current revision, as one
// viewer may see it: by variable group, secure file and service connection name, the
// definitions (by name, in name order) that link them: "shop" for a link of the whole
// definition, "shop (dev, prod)" for links of its environments (or, for a connection, its
// artifact sources' aliases).
type LibraryUsage struct {
	VariableGroups map[string][]string
	SecureFiles    map[string][]string
	Connections    map[string][]string
}

// LibraryUsageFor reads the current revisions of the definitions actor may read (two
// statements, however many definitions and items there are) and indexes what they link.
func (e *Engine) LibraryUsageFor(ctx context.Context, actor Actor) (*LibraryUsage, error) {
	if err := actor.Require(RoleViewer, "reading where library items are used"); err != nil {
		return nil, err
	}
	ctx = WithoutReadScope(ctx)
	hidden, err := e.HiddenDefinitions(ctx, actor)
	if err != nil {
		return nil, err
	}
	revs, err := e.client.DefinitionRevision.Query().Where(func(s *sql.Selector) {
		d := sql.Table(releasedefinition.Table)
		s.Join(d).On(s.C(definitionrevision.FieldDefinitionID), d.C(releasedefinition.FieldID)).
			Where(sql.And(
				sql.ColumnsEQ(s.C(definitionrevision.FieldRevision), d.C(releasedefinition.FieldRevision)),
				sql.IsNull(d.C(releasedefinition.FieldDeletedAt)),
			))
	}).Where(definitionrevision.DefinitionIDNotIn(hidden...)).
		Select(definitionrevision.FieldDefinitionID, definitionrevision.FieldSnapshot).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading current definition revisions: %w", err)
	}
	return libraryUsageOf(revs), nil
}

func libraryUsageOf(revs []*ent.DefinitionRevision) *LibraryUsage {
	slices.SortFunc(revs, func(a, b *ent.DefinitionRevision) int {
		return strings.Compare(strings.ToLower(a.Snapshot.Name), strings.ToLower(b.Snapshot.Name))
	})
	u := &LibraryUsage{VariableGroups: map[string][]string{}, SecureFiles: map[string][]string{}, Connections: map[string][]string{}}
	for _, r := range revs {
		snap := r.Snapshot
		groups := map[string][]string{} // group: environments linking it ("" for the definition)
		files := map[string][]string{}
		conns := map[string][]string{}
		var order struct{ groups, files, conns []string }
		add := func(m map[string][]string, keys *[]string, name, where string) {
			if name == "" {
				return
			}
			if _, ok := m[name]; !ok {
				*keys = append(*keys, name)
			}
			if !slices.Contains(m[name], where) {
				m[name] = append(m[name], where)
			}
		}
		for _, g := range snap.VariableGroups {
			add(groups, &order.groups, g, "")
		}
		for _, a := range snap.ArtifactSources {
			add(conns, &order.conns, a.Connection, a.Alias)
		}
		for _, env := range snap.Environments {
			for _, g := range env.VariableGroups {
				add(groups, &order.groups, g, env.Name)
			}
			for _, f := range env.Job.SecureFiles {
				add(files, &order.files, f, env.Name)
			}
			for _, p := range env.Phases {
				for _, f := range p.SecureFiles {
					add(files, &order.files, f, env.Name)
				}
			}
		}
		put := func(dst map[string][]string, m map[string][]string, keys []string) {
			for _, k := range keys {
				where := m[k]
				label := snap.Name
				if !slices.Contains(where, "") {
					label += " (" + strings.Join(where, ", ") + ")"
				}
				dst[k] = append(dst[k], label)
			}
		}
		put(u.VariableGroups, groups, order.groups)
		put(u.SecureFiles, files, order.files)
		put(u.Connections, conns, order.conns)
	}
	return u
}
