package delivery

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/definitionrevision"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/securefile"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/ent/variablegroup"
	"github.com/cairnhq/cairn/ent/variablegrouprevision"
)

// The library (docs/decisions.md, "Library: variable groups and secure
// files"): variable groups and secure files shared by definitions. Both carry
// permission lists (spec.LibraryPermissions) judged like a definition's: the
// role is the ceiling, an empty list is open to the role, a non-empty one
// narrows it, an ADMIN acts without being listed (audited as
// permission.override). Every VIEWER sees that a group or file exists (its
// name, description, variable names, who holds which permission); values are
// shown only to its readers, secret values and file contents to nobody.

// Library limits.
const (
	maxLibraryName     = 200
	maxGroupVariables  = 1000
	maxLibraryLinks    = 50
	maxLibraryDescribe = 4000
	// MaxSecureFileBytes caps a secure file. Agents receive the files of a
	// job inside its assignment (agentproto.MaxMessageBytes), so the cap
	// keeps a few of them within one message.
	MaxSecureFileBytes = 1 << 20
)

// LibraryPermission names one permission on a library item.
type LibraryPermission string

// The library permissions.
const (
	// LibUse: link the group in a definition, name the file in a job.
	LibUse LibraryPermission = "use"
	// LibAdminister: change, delete and grant.
	LibAdminister LibraryPermission = "administer"
	// LibRead: read non-secret values.
	LibRead LibraryPermission = "read"
)

// granting returns the lists that grant perm on an item: its own list first
// (which decides whether it is open), then the stronger ones.
func (lp LibraryPermission) granting(p spec.LibraryPermissions) (own []spec.Approver, stronger [][]spec.Approver) {
	switch lp {
	case LibUse:
		return p.Use, [][]spec.Approver{p.Administer}
	case LibRead:
		return p.Read, [][]spec.Approver{p.Use, p.Administer}
	}
	return p.Administer, nil
}

// judgeLibrary decides perm on an item with permissions perms.
func (p *Principal) judgeLibrary(perms spec.LibraryPermissions, perm LibraryPermission) verdict {
	if p.actor.System {
		return granted
	}
	min := RoleEditor
	if perm == LibRead {
		min = RoleViewer
	}
	if !p.actor.Role.AtLeast(min) {
		return denied
	}
	own, stronger := perm.granting(perms)
	if len(own) == 0 || p.listed(own) {
		return granted
	}
	for _, l := range stronger {
		if p.listed(l) {
			return granted
		}
	}
	if p.actor.Role == RoleAdmin {
		return overridden
	}
	return denied
}

// libraryItem is a group or file as permission checks see it.
type libraryItem struct {
	kind   string // "variable group" or "secure file"
	target string // audit target type
	id     int
	name   string
	perms  spec.LibraryPermissions
}

// checkLibrary judges perm for the principal on item and audits an ADMIN's
// override in the transaction.
func (t *txn) checkLibrary(p *Principal, item libraryItem, perm LibraryPermission, doing string) error {
	v := p.judgeLibrary(item.perms, perm)
	if v == denied {
		return libraryDenied(p.actor, item, perm, doing)
	}
	if v == overridden {
		return t.auditLibrary(p.actor, auditPermissionOverride, item.target, item.id,
			map[string]any{"permission": string(perm), "doing": doing, "name": item.name})
	}
	return nil
}

func libraryDenied(actor Actor, item libraryItem, perm LibraryPermission, doing string) error {
	min := RoleEditor
	if perm == LibRead {
		min = RoleViewer
	}
	if !actor.Role.AtLeast(min) {
		return Forbidden("%s requires role %s; %s has %s", doing, min, actor.Username, actor.Role)
	}
	own, stronger := perm.granting(item.perms)
	var all []spec.Approver
	all = append(all, own...)
	for _, l := range stronger {
		all = append(all, l...)
	}
	return Forbidden("%s requires permission %s on %s %s (granted to %s); %s is not among them",
		doing, perm, item.kind, item.name, describePrincipals(all), actor.Username)
}

func groupItem(g *ent.VariableGroup) libraryItem {
	return libraryItem{kind: "variable group", target: auditTargetVariableGroup, id: g.ID, name: g.Name, perms: g.Permissions}
}

func fileItem(f *ent.SecureFile) libraryItem {
	return libraryItem{kind: "secure file", target: auditTargetSecureFile, id: f.ID, name: f.Name, perms: f.Permissions}
}

// LibraryViewerCan says what the viewer may do with a group or file.
type LibraryViewerCan struct {
	Use, Administer, Read bool
}

// CanLibrary answers, without writing, what p may do with an item with
// these permissions (an ADMIN's overrides count as allowed).
func (p *Principal) CanLibrary(perms spec.LibraryPermissions) LibraryViewerCan {
	return LibraryViewerCan{
		Use:        p.judgeLibrary(perms, LibUse) != denied,
		Administer: p.judgeLibrary(perms, LibAdminister) != denied,
		Read:       p.judgeLibrary(perms, LibRead) != denied,
	}
}

// VariableGroupInput is the whole document of a variable group; an update
// replaces it. A secret given without a value keeps its stored value.
type VariableGroupInput struct {
	Name        string
	Description string
	Variables   []spec.GroupVariable
	Permissions spec.LibraryPermissions
}

// validLibraryName checks a group or file name: the name is how definitions
// link it, so it must not read as an id.
func validLibraryName(p *problems, field, name string) {
	switch {
	case name == "":
		p.add(field, "a name is required")
	case utf8.RuneCountInString(name) > maxLibraryName:
		p.add(field, "is longer than %d characters", maxLibraryName)
	case strings.Trim(name, "0123456789") == "":
		p.add(field, "%q would read as an id; a name needs a character other than a digit", name)
	case strings.ContainsAny(name, "/\\\x00\n\r"):
		p.add(field, "%q may not contain slashes, NUL or line breaks", name)
	}
}

// loadPrincipalRefs reads which users and groups of perms exist.
func (t *txn) loadPrincipalRefs(perms spec.LibraryPermissions) (*references, error) {
	refs := &references{users: map[string]bool{}, groups: map[string]bool{}}
	var users, groups []string
	for _, l := range [][]spec.Approver{perms.Use, perms.Administer, perms.Read} {
		users, groups = appendPrincipals(users, groups, l)
	}
	if len(users) > 0 {
		names, err := t.User.Query().Where(user.UsernameIn(users...)).Select(user.FieldUsername).Strings(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading users: %w", err)
		}
		for _, n := range names {
			refs.users[n] = true
		}
	}
	if len(groups) > 0 {
		names, err := t.Group.Query().Where(group.NameIn(groups...)).Select(group.FieldName).Strings(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading groups: %w", err)
		}
		for _, n := range names {
			refs.groups[n] = true
		}
	}
	return refs, nil
}

func normalizeLibraryPermissions(p spec.LibraryPermissions) spec.LibraryPermissions {
	return spec.LibraryPermissions{
		Use: normalizePrincipals(p.Use), Administer: normalizePrincipals(p.Administer), Read: normalizePrincipals(p.Read),
	}
}

func (t *txn) validateLibraryPermissions(p *problems, perms spec.LibraryPermissions) error {
	refs, err := t.loadPrincipalRefs(perms)
	if err != nil {
		return err
	}
	validatePrincipalList(p, "permissions.use", perms.Use, refs)
	validatePrincipalList(p, "permissions.administer", perms.Administer, refs)
	validatePrincipalList(p, "permissions.read", perms.Read, refs)
	return nil
}

// prepareGroup normalises and validates in and seals its secrets (a secret
// given without a value keeps prev's sealed value).
func (t *txn) prepareGroup(in VariableGroupInput, prev []spec.GroupVariable, comment string) (VariableGroupInput, error) {
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	in.Permissions = normalizeLibraryPermissions(in.Permissions)
	vars := make([]spec.GroupVariable, len(in.Variables))
	for i, v := range in.Variables {
		v.Name = strings.TrimSpace(v.Name)
		vars[i] = v
	}
	in.Variables = vars
	p := &problems{}
	validLibraryName(p, "name", in.Name)
	if utf8.RuneCountInString(in.Description) > maxLibraryDescribe {
		p.add("description", "is longer than %d characters", maxLibraryDescribe)
	}
	if len(comment) > maxComment {
		p.add("comment", "is %d bytes long; at most %d are allowed", len(comment), maxComment)
	}
	if len(vars) > maxGroupVariables {
		p.add("variables", "has %d variables; at most %d are allowed", len(vars), maxGroupVariables)
	}
	plain := make([]spec.Variable, len(vars))
	for i, v := range vars {
		plain[i] = spec.Variable{Name: v.Name, Value: v.Value, Secret: v.Secret}
	}
	validateVariables(p, "variables", plain)
	if err := t.validateLibraryPermissions(p, in.Permissions); err != nil {
		return in, err
	}
	prevVars := make([]spec.Variable, len(prev))
	for i, v := range prev {
		prevVars[i] = spec.Variable{Name: v.Name, Value: v.Value, Secret: v.Secret}
	}
	if err := t.sealSecrets(p, "variables", plain, prevVars); err != nil {
		return in, err
	}
	for i := range vars {
		vars[i].Value = plain[i].Value
	}
	return in, p.err()
}

// CreateVariableGroup stores a new variable group (revision 1); its secrets
// are sealed. Any EDITOR may create one; the creator should list who may
// administer it.
func (e *Engine) CreateVariableGroup(ctx context.Context, actor Actor, in VariableGroupInput, comment string) (*ent.VariableGroup, error) {
	if err := actor.Require(RoleEditor, "creating a variable group"); err != nil {
		return nil, err
	}
	var g *ent.VariableGroup
	err := e.inTx(ctx, func(t *txn) error {
		doc, err := t.prepareGroup(in, nil, comment)
		if err != nil {
			return err
		}
		if taken, err := t.VariableGroup.Query().Where(variablegroup.Name(doc.Name)).Exist(t.ctx); err != nil {
			return fmt.Errorf("checking the name: %w", err)
		} else if taken {
			return Conflict("a variable group named %q already exists; choose another name", doc.Name)
		}
		g, err = t.VariableGroup.Create().SetName(doc.Name).SetDescription(doc.Description).
			SetVariables(doc.Variables).SetPermissions(doc.Permissions).SetRevision(1).
			SetCreatedBy(actor.Username).SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing variable group: %w", err)
		}
		return t.recordGroupChange(actor, g, variablegrouprevision.ChangeTypeCREATE, comment, nil, g)
	})
	if err != nil {
		return nil, fmt.Errorf("creating variable group %q: %w", in.Name, err)
	}
	return g.Unwrap(), nil
}

// UpdateVariableGroup replaces the document of group id when it is still at
// expectedRevision (else CONFLICT), as one revision: rotating a secret is one
// change that the next release picks up. It needs administer. A group that
// definitions link keeps its name (they link it by name).
func (e *Engine) UpdateVariableGroup(ctx context.Context, actor Actor, id, expectedRevision int, in VariableGroupInput, comment string) (*ent.VariableGroup, error) {
	if err := actor.Require(RoleEditor, "updating a variable group"); err != nil {
		return nil, err
	}
	var g *ent.VariableGroup
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.VariableGroup.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("variable group", id)
		}
		if err != nil {
			return fmt.Errorf("reading variable group %d: %w", id, err)
		}
		p, err := principalOf(t.ctx, t.Client(), actor)
		if err != nil {
			return err
		}
		if err := t.checkLibrary(p, groupItem(cur), LibAdminister, fmt.Sprintf("changing variable group %s", cur.Name)); err != nil {
			return err
		}
		if cur.Revision != expectedRevision {
			return Conflict("variable group %q is at revision %d, not %d: someone changed it; read it again", cur.Name, cur.Revision, expectedRevision)
		}
		doc, err := t.prepareGroup(in, cur.Variables, comment)
		if err != nil {
			return err
		}
		if doc.Name != cur.Name {
			users, err := t.libraryUsers(cur.Name, "")
			if err != nil {
				return err
			}
			if len(users) > 0 {
				return Conflict("variable group %q is linked by %s, which link it by name; unlink it before renaming it", cur.Name, strings.Join(users, ", "))
			}
			if taken, err := t.VariableGroup.Query().Where(variablegroup.Name(doc.Name)).Exist(t.ctx); err != nil {
				return fmt.Errorf("checking the name: %w", err)
			} else if taken {
				return Conflict("a variable group named %q already exists; choose another name", doc.Name)
			}
		}
		n, err := t.VariableGroup.Update().Where(variablegroup.ID(id), variablegroup.Revision(expectedRevision)).
			SetName(doc.Name).SetDescription(doc.Description).SetVariables(doc.Variables).
			SetPermissions(doc.Permissions).SetRevision(expectedRevision + 1).SetUpdatedAt(t.now).Save(t.ctx)
		if err != nil {
			return fmt.Errorf("storing variable group: %w", err)
		}
		if n == 0 {
			return Conflict("variable group %q changed while it was being saved; read it again", cur.Name)
		}
		if g, err = t.VariableGroup.Get(t.ctx, id); err != nil {
			return fmt.Errorf("reading variable group back: %w", err)
		}
		return t.recordGroupChange(actor, g, variablegrouprevision.ChangeTypeUPDATE, comment, cur, g)
	})
	if err != nil {
		return nil, fmt.Errorf("updating variable group %d: %w", id, err)
	}
	return g.Unwrap(), nil
}

// DeleteVariableGroup removes group id; it needs administer and is refused
// (CONFLICT, naming them) while definitions link it. Its revisions stay, and
// releases keep the values they froze.
func (e *Engine) DeleteVariableGroup(ctx context.Context, actor Actor, id int, comment string) error {
	if err := actor.Require(RoleEditor, "deleting a variable group"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.VariableGroup.Get(t.ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("variable group", id)
		}
		if err != nil {
			return fmt.Errorf("reading variable group %d: %w", id, err)
		}
		p, err := principalOf(t.ctx, t.Client(), actor)
		if err != nil {
			return err
		}
		if err := t.checkLibrary(p, groupItem(cur), LibAdminister, fmt.Sprintf("deleting variable group %s", cur.Name)); err != nil {
			return err
		}
		if len(comment) > maxComment {
			return Invalid("comment", "is %d bytes long; at most %d are allowed", len(comment), maxComment)
		}
		users, err := t.libraryUsers(cur.Name, "")
		if err != nil {
			return err
		}
		if len(users) > 0 {
			return Conflict("variable group %q is used by %s; unlink it there first", cur.Name, strings.Join(users, ", "))
		}
		if err := t.VariableGroup.DeleteOneID(id).Exec(t.ctx); err != nil {
			return fmt.Errorf("deleting variable group: %w", err)
		}
		deleted := *cur
		deleted.Revision++
		return t.recordGroupChange(actor, &deleted, variablegrouprevision.ChangeTypeDELETE, comment, cur, nil)
	})
	if err != nil {
		return fmt.Errorf("deleting variable group %d: %w", id, err)
	}
	return nil
}

// recordGroupChange writes the revision (who changed which variable, secret
// values as "***") and the audit event of one change of g.
func (t *txn) recordGroupChange(actor Actor, g *ent.VariableGroup, kind variablegrouprevision.ChangeType, comment string, before, after *ent.VariableGroup) error {
	changes := diffGroups(before, after)
	err := t.VariableGroupRevision.Create().SetGroupID(g.ID).SetRevision(g.Revision).SetChangeType(kind).
		SetAuthor(actor.String()).SetComment(comment).SetChanges(changes).SetCreatedAt(t.now).Exec(t.ctx)
	if err != nil {
		return fmt.Errorf("storing revision %d of variable group %q: %w", g.Revision, g.Name, err)
	}
	var b, a any
	if before != nil {
		b = maskedGroup(before)
	}
	if after != nil {
		a = maskedGroup(after)
	}
	return t.audit(actor, "variableGroup."+strings.ToLower(string(kind)), auditTargetVariableGroup, g.ID, b, a)
}

func maskedGroup(g *ent.VariableGroup) map[string]any {
	vars := make([]spec.GroupVariable, len(g.Variables))
	for i, v := range g.Variables {
		if v.Secret {
			v.Value = maskedValue
		}
		vars[i] = v
	}
	return map[string]any{"name": g.Name, "description": g.Description, "revision": g.Revision,
		"variables": vars, "permissions": g.Permissions}
}

// diffGroups lists what changed from a to b (either may be nil), secret
// values as "***"; a secret whose ciphertext changed shows as changed.
func diffGroups(a, b *ent.VariableGroup) []spec.LibraryChange {
	type leaf struct{ cmp, show string }
	flat := func(g *ent.VariableGroup) ([]string, map[string]leaf) {
		if g == nil {
			return nil, map[string]leaf{}
		}
		m := map[string]leaf{}
		var order []string
		put := func(path, cmp, show string) {
			order = append(order, path)
			m[path] = leaf{cmp, show}
		}
		put("name", g.Name, g.Name)
		put("description", g.Description, g.Description)
		put("permissions.use", principalNames(g.Permissions.Use), principalNames(g.Permissions.Use))
		put("permissions.administer", principalNames(g.Permissions.Administer), principalNames(g.Permissions.Administer))
		put("permissions.read", principalNames(g.Permissions.Read), principalNames(g.Permissions.Read))
		for _, v := range g.Variables {
			p := fmt.Sprintf("variables[%s]", v.Name)
			show := v.Value
			if v.Secret {
				show = maskedValue
			}
			put(p+".value", v.Value, show)
			put(p+".secret", strconv.FormatBool(v.Secret), strconv.FormatBool(v.Secret))
			put(p+".settableAtReleaseTime", strconv.FormatBool(v.SettableAtReleaseTime), strconv.FormatBool(v.SettableAtReleaseTime))
		}
		return order, m
	}
	oa, ma := flat(a)
	ob, mb := flat(b)
	var out []spec.LibraryChange
	for _, p := range ob {
		nb := mb[p]
		old, ok := ma[p]
		switch {
		case !ok:
			out = append(out, spec.LibraryChange{Path: p, After: ptr(nb.show), Kind: string(ChangeAdded)})
		case old.cmp != nb.cmp:
			out = append(out, spec.LibraryChange{Path: p, Before: ptr(old.show), After: ptr(nb.show), Kind: string(ChangeChanged)})
		}
	}
	for _, p := range oa {
		if _, ok := mb[p]; !ok {
			out = append(out, spec.LibraryChange{Path: p, Before: ptr(ma[p].show), Kind: string(ChangeRemoved)})
		}
	}
	return out
}

// VariableGroups returns every variable group, by name (VIEWER).
func (e *Engine) VariableGroups(ctx context.Context, actor Actor) ([]*ent.VariableGroup, error) {
	if err := actor.Require(RoleViewer, "reading variable groups"); err != nil {
		return nil, err
	}
	gs, err := e.client.VariableGroup.Query().Order(ent.Asc(variablegroup.FieldName)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading variable groups: %w", err)
	}
	return gs, nil
}

// VariableGroup returns group id (VIEWER).
func (e *Engine) VariableGroup(ctx context.Context, actor Actor, id int) (*ent.VariableGroup, error) {
	if err := actor.Require(RoleViewer, "reading a variable group"); err != nil {
		return nil, err
	}
	g, err := e.client.VariableGroup.Get(ctx, id)
	if ent.IsNotFound(err) {
		return nil, NotFound("variable group", id)
	}
	if err != nil {
		return nil, fmt.Errorf("reading variable group %d: %w", id, err)
	}
	return g, nil
}

// VariableGroupRevisions returns the revisions of group id, newest first;
// they stay after the group is deleted (VIEWER). Values read "***" for
// viewers who may not read the group.
func (e *Engine) VariableGroupRevisions(ctx context.Context, actor Actor, id int) ([]*ent.VariableGroupRevision, error) {
	if err := actor.Require(RoleViewer, "reading variable group revisions"); err != nil {
		return nil, err
	}
	rs, err := e.client.VariableGroupRevision.Query().Where(variablegrouprevision.GroupID(id)).
		Order(ent.Desc(variablegrouprevision.FieldRevision)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading revisions of variable group %d: %w", id, err)
	}
	if len(rs) == 0 {
		return nil, NotFound("variable group", id)
	}
	// Who changed which variable when is for every VIEWER; the values only
	// for the group's readers (of a deleted group: ADMINs).
	readable := actor.System || actor.Role == RoleAdmin
	if g, err := e.client.VariableGroup.Get(ctx, id); err == nil {
		p, err := principalOf(ctx, e.client, actor)
		if err != nil {
			return nil, err
		}
		readable = p.judgeLibrary(g.Permissions, LibRead) != denied
	} else if !ent.IsNotFound(err) {
		return nil, fmt.Errorf("reading variable group %d: %w", id, err)
	}
	if !readable {
		for _, r := range rs {
			r.Changes = slices.Clone(r.Changes)
			for i, c := range r.Changes {
				if strings.HasPrefix(c.Path, "variables[") && strings.HasSuffix(c.Path, "].value") {
					if c.Before != nil {
						r.Changes[i].Before = ptr(maskedValue)
					}
					if c.After != nil {
						r.Changes[i].After = ptr(maskedValue)
					}
				}
			}
		}
	}
	return rs, nil
}

// LibraryVariable is a variable as the API shows it: Value is nil for a
// secret, and for every variable of a group the viewer may not read.
type LibraryVariable struct {
	Name                  string
	Value                 *string
	Secret                bool
	SettableAtReleaseTime bool
}

// ShowGroupVariables returns the variables of g as viewer p may see them.
func (p *Principal) ShowGroupVariables(g *ent.VariableGroup) []LibraryVariable {
	readable := p.judgeLibrary(g.Permissions, LibRead) != denied
	out := make([]LibraryVariable, len(g.Variables))
	for i, v := range g.Variables {
		out[i] = LibraryVariable{Name: v.Name, Secret: v.Secret, SettableAtReleaseTime: v.SettableAtReleaseTime}
		if readable && !v.Secret {
			out[i].Value = ptr(v.Value)
		}
	}
	return out
}

// libraryUsers names the live definitions whose current revision links the
// variable group named group (file "") or whose jobs name the secure file
// named file: "definition app", "definition app (environments prod, qa)".
func (t *txn) libraryUsers(groupName, fileName string) ([]string, error) {
	defs, err := t.ReleaseDefinition.Query().Where(releasedefinition.DeletedAtIsNil()).
		Select(releasedefinition.FieldID, releasedefinition.FieldName, releasedefinition.FieldRevision).All(t.ctx)
	if err != nil {
		return nil, fmt.Errorf("reading definitions: %w", err)
	}
	var out []string
	for _, d := range defs {
		rev, err := t.DefinitionRevision.Query().
			Where(definitionrevision.DefinitionID(d.ID), definitionrevision.Revision(d.Revision)).Only(t.ctx)
		if err != nil {
			return nil, fmt.Errorf("reading revision %d of definition %s: %w", d.Revision, d.Name, err)
		}
		snap := rev.Snapshot
		var where []string
		whole := groupName != "" && slices.Contains(snap.VariableGroups, groupName)
		for _, env := range snap.Environments {
			if (groupName != "" && slices.Contains(env.VariableGroups, groupName)) ||
				(fileName != "" && slices.Contains(envSecureFiles(&env), fileName)) {
				where = append(where, env.Name)
			}
		}
		switch {
		case whole:
			out = append(out, fmt.Sprintf("definition %s", d.Name))
		case len(where) > 0:
			out = append(out, fmt.Sprintf("definition %s (environments %s)", d.Name, strings.Join(where, ", ")))
		}
	}
	return out, nil
}

// libraryLink is one link a definition change adds or removes.
type libraryLink struct {
	target      string // auditTargetVariableGroup or auditTargetSecureFile
	id          int
	name        string
	environment string
	added       bool
}

// resolveLibraryLinks canonicalises the library references of doc (group
// and file links by name or id, to names), checks that they exist, and that
// actor may use every one that prev (nil for a new definition) did not link
// at the same place (FORBIDDEN otherwise). It returns the links added and
// removed, for auditing once the definition is stored.
func (t *txn) resolveLibraryLinks(actor Actor, doc, prev *spec.DefinitionSnapshot) ([]libraryLink, error) {
	p := &problems{}
	groups := map[string]*ent.VariableGroup{}
	files := map[string]*ent.SecureFile{}
	lookupGroup := func(ref string) (*ent.VariableGroup, error) {
		q := t.VariableGroup.Query().Where(variablegroup.Name(ref))
		if id, err := strconv.Atoi(ref); err == nil {
			q = t.VariableGroup.Query().Where(variablegroup.ID(id))
		}
		g, err := q.Only(t.ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return g, err
	}
	lookupFile := func(ref string) (*ent.SecureFile, error) {
		q := t.SecureFile.Query().Where(securefile.Name(ref))
		if id, err := strconv.Atoi(ref); err == nil {
			q = t.SecureFile.Query().Where(securefile.ID(id))
		}
		f, err := q.Select(securefile.FieldID, securefile.FieldName, securefile.FieldPermissions).Only(t.ctx)
		if ent.IsNotFound(err) {
			return nil, nil
		}
		return f, err
	}
	resolve := func(field string, refs []string, isFile bool) ([]string, error) {
		if len(refs) > maxLibraryLinks {
			p.add(field, "has %d entries; at most %d are allowed", len(refs), maxLibraryLinks)
			return refs, nil
		}
		var out []string
		seen := map[string]bool{}
		for i, ref := range refs {
			ref = strings.TrimSpace(ref)
			f := fmt.Sprintf("%s[%d]", field, i)
			var name string
			if isFile {
				sf, err := lookupFile(ref)
				if err != nil {
					return nil, fmt.Errorf("reading secure file %q: %w", ref, err)
				}
				if sf == nil {
					p.add(f, "no secure file %q exists", ref)
					continue
				}
				name, files[sf.Name] = sf.Name, sf
			} else {
				g, err := lookupGroup(ref)
				if err != nil {
					return nil, fmt.Errorf("reading variable group %q: %w", ref, err)
				}
				if g == nil {
					p.add(f, "no variable group %q exists", ref)
					continue
				}
				name, groups[g.Name] = g.Name, g
			}
			if seen[name] {
				p.add(f, "%q is listed twice", name)
				continue
			}
			seen[name] = true
			out = append(out, name)
		}
		return out, nil
	}
	var err error
	if doc.VariableGroups, err = resolve("variableGroups", doc.VariableGroups, false); err != nil {
		return nil, err
	}
	for i := range doc.Environments {
		env := &doc.Environments[i]
		if env.VariableGroups, err = resolve(fmt.Sprintf("environments[%d].variableGroups", i), env.VariableGroups, false); err != nil {
			return nil, err
		}
		if env.Job.SecureFiles, err = resolve(fmt.Sprintf("environments[%d].job.secureFiles", i), env.Job.SecureFiles, true); err != nil {
			return nil, err
		}
		// DownloadSecureFile tasks name a file as well: it must exist and be usable, and an
		// id given is stored as the name, like job.secureFiles.
		for ti := range env.Job.Tasks {
			task := &env.Job.Tasks[ti]
			k, v, ok := downloadSecureFileInput(*task)
			if !ok || strings.TrimSpace(v) == "" || hasVariableReference(v) {
				continue // validation names what is wrong
			}
			names, err := resolve(fmt.Sprintf("environments[%d].job.tasks[%d].inputs.secureFile", i, ti), []string{v}, true)
			if err != nil {
				return nil, err
			}
			if len(names) == 1 {
				task.Inputs[k] = names[0]
			}
		}
		for j := range env.Phases {
			ph := &env.Phases[j]
			if ph.SecureFiles, err = resolve(fmt.Sprintf("environments[%d].phases[%d].secureFiles", i, j), ph.SecureFiles, true); err != nil {
				return nil, err
			}
			for ti := range ph.Tasks {
				task := &ph.Tasks[ti]
				k, v, ok := downloadSecureFileInput(*task)
				if !ok || strings.TrimSpace(v) == "" || hasVariableReference(v) {
					continue
				}
				names, err := resolve(fmt.Sprintf("environments[%d].phases[%d].tasks[%d].inputs.secureFile", i, j, ti), []string{v}, true)
				if err != nil {
					return nil, err
				}
				if len(names) == 1 {
					task.Inputs[k] = names[0]
				}
			}
		}
	}
	if err := p.err(); err != nil {
		return nil, err
	}

	// The links added and removed, place by place ("" the definition).
	type place struct {
		env           string
		groups, files []string
	}
	places := func(s *spec.DefinitionSnapshot) map[string]place {
		m := map[string]place{}
		if s == nil {
			return m
		}
		m[""] = place{groups: s.VariableGroups}
		for _, env := range s.Environments {
			m["env:"+env.Name] = place{env: env.Name, groups: env.VariableGroups, files: envSecureFiles(&env)}
		}
		return m
	}
	before, after := places(prev), places(doc)
	var links []libraryLink
	keys := func(m map[string]place) []string {
		ks := make([]string, 0, len(m))
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return ks
	}
	var pr *Principal
	for _, k := range keys(after) {
		now, was := after[k], before[k]
		for _, name := range now.groups {
			if !slices.Contains(was.groups, name) {
				links = append(links, libraryLink{target: auditTargetVariableGroup, id: groups[name].ID, name: name, environment: now.env, added: true})
			}
		}
		for _, name := range now.files {
			if !slices.Contains(was.files, name) {
				links = append(links, libraryLink{target: auditTargetSecureFile, id: files[name].ID, name: name, environment: now.env, added: true})
			}
		}
	}
	for _, k := range keys(before) {
		was, now := before[k], after[k]
		for _, name := range was.groups {
			if !slices.Contains(now.groups, name) {
				links = append(links, libraryLink{target: auditTargetVariableGroup, name: name, environment: was.env})
			}
		}
		for _, name := range was.files {
			if !slices.Contains(now.files, name) {
				links = append(links, libraryLink{target: auditTargetSecureFile, name: name, environment: was.env})
			}
		}
	}
	// Every check before any override is audited, so a refused change
	// audits nothing.
	var overrides []func() error
	for _, l := range links {
		if !l.added {
			continue
		}
		if pr == nil {
			if pr, err = principalOf(t.ctx, t.Client(), actor); err != nil {
				return nil, err
			}
		}
		var item libraryItem
		if l.target == auditTargetVariableGroup {
			item = groupItem(groups[l.name])
		} else {
			item = fileItem(files[l.name])
		}
		doing := fmt.Sprintf("linking %s %s", item.kind, item.name)
		switch pr.judgeLibrary(item.perms, LibUse) {
		case denied:
			return nil, libraryDenied(actor, item, LibUse, doing)
		case overridden:
			overrides = append(overrides, func() error { return t.checkLibrary(pr, item, LibUse, doing) })
		}
	}
	for _, o := range overrides {
		if err := o(); err != nil {
			return nil, err
		}
	}
	return links, nil
}

// auditLibraryLinks records every link added to and removed from definition
// defID.
func (t *txn) auditLibraryLinks(actor Actor, defID int, defName string, links []libraryLink) error {
	for _, l := range links {
		action := l.target + ".link"
		if !l.added {
			action = l.target + ".unlink"
		}
		data := map[string]any{"definitionId": defID, "definition": defName, "name": l.name}
		if l.environment != "" {
			data["environment"] = l.environment
		}
		var target any = l.name
		if l.id != 0 {
			target = l.id
		}
		if err := t.auditLibrary(actor, action, l.target, target, data); err != nil {
			return err
		}
	}
	return nil
}

// freezeGroups reads the current values of the groups snap links, in
// precedence order: the definition's (link order), then each environment's.
func (t *txn) freezeGroups(snap *spec.DefinitionSnapshot) ([]spec.FrozenGroup, error) {
	var out []spec.FrozenGroup
	read := func(name, env string) error {
		g, err := t.VariableGroup.Query().Where(variablegroup.Name(name)).Only(t.ctx)
		if ent.IsNotFound(err) {
			return Conflict("variable group %q that definition %s links no longer exists", name, snap.Name)
		}
		if err != nil {
			return fmt.Errorf("reading variable group %q: %w", name, err)
		}
		vars := make([]spec.Variable, len(g.Variables))
		for i, v := range g.Variables {
			vars[i] = spec.Variable{Name: v.Name, Value: v.Value, Secret: v.Secret, SettableAtReleaseTime: v.SettableAtReleaseTime}
		}
		out = append(out, spec.FrozenGroup{GroupID: g.ID, Name: g.Name, Revision: g.Revision, Environment: env, Variables: vars})
		return nil
	}
	for _, name := range snap.VariableGroups {
		if err := read(name, ""); err != nil {
			return nil, err
		}
	}
	for _, env := range snap.Environments {
		for _, name := range env.VariableGroups {
			if err := read(name, env.Name); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// mergedVariables merges, by name without case, the variables a job of
// environment env of a release sees, lowest precedence first: the
// definition-scoped groups (in link order), the definition's variables, the
// environment's groups, the environment's variables, the release's
// overrides. System variables (RELEASE_*) are below all of them.
func mergedVariables(snap *spec.DefinitionSnapshot, groups []spec.FrozenGroup, env string, overrides []spec.Variable) []spec.Variable {
	var order []string
	merged := map[string]spec.Variable{}
	add := func(vs []spec.Variable) {
		for _, v := range vs {
			k := strings.ToUpper(v.Name)
			if _, ok := merged[k]; !ok {
				order = append(order, k)
			}
			merged[k] = v
		}
	}
	addGroups := func(scope string) {
		for _, g := range groups {
			if g.Environment == scope {
				add(g.Variables)
			}
		}
	}
	addGroups("")
	add(snap.Variables)
	if e, ok := snap.Environment(env); ok {
		addGroups(e.Name)
		add(e.Variables)
	}
	add(overrides)
	out := make([]spec.Variable, len(order))
	for i, k := range order {
		out[i] = merged[k]
	}
	return out
}

// RefreshVariables re-reads the current values of the variable groups that
// release id links (as its frozen definition revision names them) and
// freezes them into the release, for the deployments that start after it;
// running ones keep what they received. It needs manageDeployments on the
// definition, like a deployment; outsiders get NOT_FOUND. Audited with the
// group revisions before and after.
func (e *Engine) RefreshVariables(ctx context.Context, actor Actor, releaseID int, comment string) (*ent.Release, error) {
	if err := actor.Require(RoleEditor, "refreshing the variables of a release"); err != nil {
		return nil, err
	}
	var rel *ent.Release
	err := e.inTx(ctx, func(t *txn) error {
		cur, err := t.Release.Get(t.ctx, releaseID)
		if ent.IsNotFound(err) {
			return NotFound("release", releaseID)
		}
		if err != nil {
			return fmt.Errorf("reading release %d: %w", releaseID, err)
		}
		doing := fmt.Sprintf("refreshing the variables of release %s", cur.Name)
		if err := t.authorize(actor, cur.DefinitionID, "", PermManageDeployments, doing, NotFound("release", releaseID)); err != nil {
			return err
		}
		if len(comment) > maxActionComment {
			return Invalid("comment", "is %d bytes long; at most %d are allowed", len(comment), maxActionComment)
		}
		snap := cur.Snapshot
		frozen, err := t.freezeGroups(&snap)
		if err != nil {
			return err
		}
		revisions := func(gs []spec.FrozenGroup) map[string]int {
			m := map[string]int{}
			for _, g := range gs {
				m[g.Name] = g.Revision
			}
			return m
		}
		if rel, err = t.Release.UpdateOneID(releaseID).SetVariableGroups(frozen).SetUpdatedAt(t.now).Save(t.ctx); err != nil {
			return fmt.Errorf("storing the variables of release %d: %w", releaseID, err)
		}
		return t.audit(actor, "release.refreshVariables", auditTargetRelease, releaseID,
			map[string]any{"variableGroups": revisions(cur.VariableGroups)},
			map[string]any{"variableGroups": revisions(frozen), "comment": comment})
	})
	if err != nil {
		return nil, fmt.Errorf("refreshing the variables of release %d: %w", releaseID, err)
	}
	return rel.Unwrap(), nil
}

// ReleaseVariableGroup is a group as a release froze it, as the viewer may
// see it: values only for readers of the group (as it is now; a deleted
// group's for ADMINs), secrets never.
type ReleaseVariableGroup struct {
	Name        string
	Environment string
	Revision    int
	Variables   []LibraryVariable
}

// ShowReleaseGroups returns the frozen groups of rel for viewer p; live maps
// group names to their current rows (for their permissions).
func (p *Principal) ShowReleaseGroups(rel *ent.Release, live map[string]*ent.VariableGroup) []ReleaseVariableGroup {
	out := make([]ReleaseVariableGroup, len(rel.VariableGroups))
	for i, g := range rel.VariableGroups {
		readable := p.actor.System || p.actor.Role == RoleAdmin
		if cur, ok := live[g.Name]; ok && cur.ID == g.GroupID {
			readable = p.judgeLibrary(cur.Permissions, LibRead) != denied
		}
		vars := make([]LibraryVariable, len(g.Variables))
		for j, v := range g.Variables {
			vars[j] = LibraryVariable{Name: v.Name, Secret: v.Secret}
			if readable && !v.Secret {
				vars[j].Value = ptr(v.Value)
			}
		}
		out[i] = ReleaseVariableGroup{Name: g.Name, Environment: g.Environment, Revision: g.Revision, Variables: vars}
	}
	return out
}

// ReleaseVariableGroups returns the groups release rel froze, as actor may
// see them (rel was read in actor's read scope).
func (e *Engine) ReleaseVariableGroups(ctx context.Context, actor Actor, rel *ent.Release) ([]ReleaseVariableGroup, error) {
	if len(rel.VariableGroups) == 0 {
		return nil, nil
	}
	names := make([]string, len(rel.VariableGroups))
	for i, g := range rel.VariableGroups {
		names[i] = g.Name
	}
	gs, err := e.client.VariableGroup.Query().Where(variablegroup.NameIn(names...)).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading variable groups: %w", err)
	}
	live := map[string]*ent.VariableGroup{}
	for _, g := range gs {
		live[g.Name] = g
	}
	p, err := principalOf(ctx, e.client, actor)
	if err != nil {
		return nil, err
	}
	return p.ShowReleaseGroups(rel, live), nil
}

// auditLibrary audits action on a variable group or secure file (target is
// auditTargetVariableGroup or auditTargetSecureFile), naming the target by
// audit.go's constants like every other audit row.
func (t *txn) auditLibrary(actor Actor, action, target string, id any, after map[string]any) error {
	switch target {
	case auditTargetVariableGroup:
		return t.audit(actor, action, auditTargetVariableGroup, id, nil, after)
	case auditTargetSecureFile:
		return t.audit(actor, action, auditTargetSecureFile, id, nil, after)
	}
	return fmt.Errorf("auditing %s: unknown library target %q", action, target)
}

// envSecureFiles names the secure files an environment's jobs use: its job's and its phases',
// each once.
func envSecureFiles(env *spec.EnvironmentSpec) []string {
	out := jobSecureFileNames(env.Job)
	for _, ph := range env.Phases {
		for _, f := range jobSecureFileNames(spec.JobSpec{SecureFiles: ph.SecureFiles, Tasks: ph.Tasks}) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	return out
}
