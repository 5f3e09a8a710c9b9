package delivery

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/ent/variablegroup"
)

// PrincipalCandidate is a user or group the designer's picker offers.
type PrincipalCandidate struct {
	Kind   spec.ApproverKind
	Name   string
	Detail string
}

const (
	maxCandidateSearch   = 100
	defaultCandidates    = 20
	maxCandidatesAtOnce  = 50
	candidateSearchField = "search"
)

// PrincipalCandidates returns the enabled users and the groups whose name (or
// a user's display name) contains search without case, users first, each by
// name, at most first (nil: the default). kind, when given, keeps one of them.
// Any EDITOR may ask: who writes definitions names them, and the server
// rejects a name it does not know.
func (e *Engine) PrincipalCandidates(ctx context.Context, search string, kind spec.ApproverKind, firstArg *int) ([]PrincipalCandidate, error) {
	search = strings.TrimSpace(search)
	switch n := utf8.RuneCountInString(search); {
	case !utf8.ValidString(search):
		return nil, Invalid(candidateSearchField, "is not valid UTF-8")
	case n == 0:
		return nil, Invalid(candidateSearchField, "is empty: type part of a name")
	case n > maxCandidateSearch:
		return nil, Invalid(candidateSearchField, "is %d characters long; the limit is %d", n, maxCandidateSearch)
	case strings.ContainsRune(search, 0):
		return nil, Invalid(candidateSearchField, "holds a NUL character")
	}
	first := defaultCandidates
	if firstArg != nil {
		first = *firstArg
		if first < 1 || first > maxCandidatesAtOnce {
			return nil, Invalid("first", "is %d; give 1 to %d", first, maxCandidatesAtOnce)
		}
	}
	switch kind {
	case "", spec.ApproverUser, spec.ApproverGroup:
	default:
		return nil, Invalid("kind", "is %q: use USER or GROUP", kind)
	}
	var out []PrincipalCandidate
	if kind != spec.ApproverGroup {
		users, err := e.client.User.Query().
			Where(user.Disabled(false), user.Or(user.UsernameContainsFold(search), user.DisplayNameContainsFold(search))).
			Order(ent.Asc(user.FieldUsername)).Limit(first).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading users: %w", err)
		}
		for _, u := range users {
			out = append(out, PrincipalCandidate{Kind: spec.ApproverUser, Name: u.Username, Detail: u.DisplayName})
		}
	}
	if kind != spec.ApproverUser && len(out) < first {
		groups, err := e.client.Group.Query().Where(group.NameContainsFold(search)).
			Order(ent.Asc(group.FieldName)).Limit(first - len(out)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading groups: %w", err)
		}
		for _, g := range groups {
			out = append(out, PrincipalCandidate{Kind: spec.ApproverGroup, Name: g.Name, Detail: g.Description})
		}
	}
	return out, nil
}

// ReleaseTimeVariable is a variable a release may set (see checkOverrides,
// which judges the overrides by the same declarations).
type ReleaseTimeVariable struct {
	Name       string
	Value      *string
	Secret     bool
	DeclaredIn []string
}

// ReleaseTimeVariables returns the variables a release of definition id's
// current revision may set: the names every declaration of which (the
// definition, its environments, the variable groups it links) is settable at
// release time. Value is the default a release gets where the definition
// declares it (its own variable over its groups'), else the first environment
// that does; nil for a secret and for a group p may not read. A linked group
// that no longer exists is passed over (createRelease names it).
func (e *Engine) ReleaseTimeVariables(ctx context.Context, p *Principal, id int) ([]ReleaseTimeVariable, error) {
	if err := e.RequireReadableDefinition(ctx, p.actor, id); err != nil {
		return nil, err
	}
	_, snap, err := definitionSnapshotOf(ctx, e.client, id)
	if err != nil {
		return nil, err
	}
	type decl struct {
		out      ReleaseTimeVariable
		settable bool
		// rank of the declaration Value came from: lower is preferred.
		rank  int
		found bool
	}
	decls := map[string]*decl{}
	var order []string
	add := func(scope string, rank int, readable bool, vs []spec.Variable) {
		for _, v := range vs {
			k := strings.ToLower(v.Name)
			d, ok := decls[k]
			if !ok {
				d = &decl{out: ReleaseTimeVariable{Name: v.Name}, settable: true}
				decls[k] = d
				order = append(order, k)
			}
			d.out.DeclaredIn = append(d.out.DeclaredIn, scope)
			d.settable = d.settable && v.SettableAtReleaseTime
			d.out.Secret = d.out.Secret || v.Secret
			if !d.found || rank < d.rank {
				d.found, d.rank = true, rank
				d.out.Value = nil
				if readable && !v.Secret {
					d.out.Value = ptr(v.Value)
				}
			}
		}
	}
	// Ranks: the definition's own variables (0) over its groups' (1), then each
	// environment in rank order, its own over its groups'.
	add("the definition", 0, true, snap.Variables)
	for i, env := range snap.Environments {
		add("environment "+env.Name, 2+2*i, true, env.Variables)
	}
	groups := map[string]*ent.VariableGroup{}
	names := append([]string(nil), snap.VariableGroups...)
	for _, env := range snap.Environments {
		names = append(names, env.VariableGroups...)
	}
	if len(names) > 0 {
		gs, err := e.client.VariableGroup.Query().Where(variablegroup.NameIn(names...)).All(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading variable groups: %w", err)
		}
		for _, g := range gs {
			groups[g.Name] = g
		}
	}
	addGroup := func(name, env string, rank int) {
		g, ok := groups[name]
		if !ok {
			return
		}
		scope := "variable group " + g.Name
		if env != "" {
			scope += " (linked to environment " + env + ")"
		}
		vars := make([]spec.Variable, len(g.Variables))
		for i, v := range g.Variables {
			vars[i] = spec.Variable{Name: v.Name, Value: v.Value, Secret: v.Secret, SettableAtReleaseTime: v.SettableAtReleaseTime}
		}
		add(scope, rank, p.judgeLibrary(g.Permissions, LibRead) != denied, vars)
	}
	for _, n := range snap.VariableGroups {
		addGroup(n, "", 1)
	}
	for i, env := range snap.Environments {
		for _, n := range env.VariableGroups {
			addGroup(n, env.Name, 3+2*i)
		}
	}
	out := []ReleaseTimeVariable{}
	for _, k := range order {
		if d := decls[k]; d.settable {
			if d.out.Secret {
				d.out.Value = nil
			}
			out = append(out, d.out)
		}
	}
	return out, nil
}
