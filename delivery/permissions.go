package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
)

// Scoped permissions (see spec.DefinitionPermissions). Every write on
// something a definition owns goes through authorize, which applies, in this
// order: the definition's readers (an outsider gets NOT_FOUND, as on reads),
// the role ceiling (EDITOR), and the permission's list, from the environment
// when it lists its own principals, else from the definition. An ADMIN may
// act without being listed: the action succeeds and a permission.override
// audit event records it. The lists are read from the definition's live rows,
// not from a release's frozen snapshot: who may deploy is today's rule, as in
// Azure, where security belongs to the pipeline, not to each release.

// Permission names one scoped permission.
type Permission string

// The permissions.
const (
	// PermEditDefinition is, on a definition, the permission to change its
	// definition-wide parts and delete it; on an environment, to change
	// that environment's configuration.
	PermEditDefinition Permission = "EDIT_DEFINITION"
	// PermCreateReleases is the permission to create releases by hand.
	PermCreateReleases Permission = "CREATE_RELEASES"
	// PermManageDeployments is the permission to deploy, redeploy, roll
	// back and cancel (on an environment) and to abandon (a release).
	PermManageDeployments Permission = "MANAGE_DEPLOYMENTS"
	// PermManageApprovals is the permission to reassign pending approvals
	// one is not assigned.
	PermManageApprovals Permission = "MANAGE_APPROVALS"
	// PermOverrideArtifactChecks is the permission to create a release with
	// artifact versions that the CI server did not confirm.
	PermOverrideArtifactChecks Permission = "OVERRIDE_ARTIFACT_CHECKS"
	// PermManagePermissions is the permission to change who holds the
	// others on a definition: its readers and its permission lists (Azure's
	// "Manage permissions"). Closed by default: when its list is empty only
	// ADMINs hold it, so that an editor cannot grant itself more.
	PermManagePermissions Permission = "MANAGE_PERMISSIONS"
)

// auditPermissionOverride is the audit action of an ADMIN acting without
// being listed in a permission.
const auditPermissionOverride = "permission.override"

// openByDefault reports whether an empty list grants the permission to every
// EDITOR; the others are, when empty, held by nobody but ADMINs.
func (p Permission) openByDefault() bool {
	return p == PermEditDefinition || p == PermCreateReleases || p == PermManageDeployments
}

// label is the permission as written in a definition document.
func (p Permission) label(onEnvironment bool) string {
	switch p {
	case PermEditDefinition:
		if onEnvironment {
			return "editEnvironment"
		}
		return "editDefinition"
	case PermCreateReleases:
		return "createReleases"
	case PermManageDeployments:
		return "manageDeployments"
	case PermManageApprovals:
		return "manageApprovals"
	case PermManagePermissions:
		return "managePermissions"
	}
	return "overrideArtifactChecks"
}

// permissionList is one named list of a permissions document.
type permissionList struct {
	field string
	perm  Permission
	list  []spec.Approver
}

func definitionPermissionLists(p *spec.DefinitionPermissions) []permissionList {
	return []permissionList{
		{"editDefinition", PermEditDefinition, p.EditDefinition},
		{"createReleases", PermCreateReleases, p.CreateReleases},
		{"manageDeployments", PermManageDeployments, p.ManageDeployments},
		{"manageApprovals", PermManageApprovals, p.ManageApprovals},
		{"overrideArtifactChecks", PermOverrideArtifactChecks, p.OverrideArtifactChecks},
		{"managePermissions", PermManagePermissions, p.ManagePermissions},
	}
}

func environmentPermissionLists(p *spec.EnvironmentPermissions) []permissionList {
	return []permissionList{
		{"editEnvironment", PermEditDefinition, p.EditEnvironment},
		{"manageDeployments", PermManageDeployments, p.ManageDeployments},
		{"manageApprovals", PermManageApprovals, p.ManageApprovals},
	}
}

// listFor returns the list that governs perm: the environment's own when it
// has one (env may be nil), else the definition's.
func listFor(def *spec.DefinitionPermissions, env *spec.EnvironmentPermissions, perm Permission) (list []spec.Approver, fromEnvironment bool) {
	if env != nil {
		for _, l := range environmentPermissionLists(env) {
			if l.perm == perm && len(l.list) > 0 {
				return l.list, true
			}
		}
	}
	for _, l := range definitionPermissionLists(def) {
		if l.perm == perm {
			return l.list, false
		}
	}
	return nil, false
}

const maxPrincipals = 100

func normalizePrincipals(list []spec.Approver) []spec.Approver {
	out := make([]spec.Approver, 0, len(list))
	for _, a := range list {
		a.Name = strings.TrimSpace(a.Name)
		a.Kind = spec.ApproverKind(strings.ToUpper(string(a.Kind)))
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func normalizeDefinitionPermissions(p spec.DefinitionPermissions) spec.DefinitionPermissions {
	return spec.DefinitionPermissions{
		EditDefinition:         normalizePrincipals(p.EditDefinition),
		CreateReleases:         normalizePrincipals(p.CreateReleases),
		ManageDeployments:      normalizePrincipals(p.ManageDeployments),
		ManageApprovals:        normalizePrincipals(p.ManageApprovals),
		OverrideArtifactChecks: normalizePrincipals(p.OverrideArtifactChecks),
		ManagePermissions:      normalizePrincipals(p.ManagePermissions),
	}
}

func normalizeEnvironmentPermissions(p spec.EnvironmentPermissions) spec.EnvironmentPermissions {
	return spec.EnvironmentPermissions{
		EditEnvironment:   normalizePrincipals(p.EditEnvironment),
		ManageDeployments: normalizePrincipals(p.ManageDeployments),
		ManageApprovals:   normalizePrincipals(p.ManageApprovals),
	}
}

func validatePrincipalList(p *problems, f string, list []spec.Approver, refs *references) {
	if len(list) > maxPrincipals {
		p.add(f, "lists %d users and groups; at most %d are allowed", len(list), maxPrincipals)
		return
	}
	validatePrincipals(p, f, "a user or group", list, refs)
}

// appendPrincipals adds the users and groups of list to the names to look up.
func appendPrincipals(users, groups []string, list []spec.Approver) ([]string, []string) {
	for _, a := range list {
		switch a.Kind {
		case spec.ApproverUser:
			users = append(users, a.Name)
		case spec.ApproverGroup:
			groups = append(groups, a.Name)
		}
	}
	return users, groups
}

// Principal is an actor as permission lists see it: its name, role and
// groups, read once.
type Principal struct {
	actor  Actor
	groups map[string]bool

	mu     sync.Mutex
	guards map[int]*definitionGuard // read by may, once per definition
}

// PrincipalOf reads the groups of actor (the system actor has none and needs
// none), for checking many permissions at once (ViewerCan on a list).
func (e *Engine) PrincipalOf(ctx context.Context, actor Actor) (*Principal, error) {
	return principalOf(ctx, e.client, actor)
}

func principalOf(ctx context.Context, c *ent.Client, actor Actor) (*Principal, error) {
	p := &Principal{actor: actor, groups: map[string]bool{}}
	if actor.System || actor.UserID == 0 {
		return p, nil
	}
	names, err := c.Group.Query().
		Where(group.HasMembersWith(user.ID(actor.UserID), user.Disabled(false))).
		Select(group.FieldName).Strings(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading groups of %s: %w", actor.Username, err)
	}
	for _, n := range names {
		p.groups[n] = true
	}
	return p, nil
}

// listed reports whether the principal is named in list, as a user or
// through one of its groups.
func (p *Principal) listed(list []spec.Approver) bool {
	for _, a := range list {
		switch a.Kind {
		case spec.ApproverUser:
			if a.Name == p.actor.Username {
				return true
			}
		case spec.ApproverGroup:
			if p.groups[a.Name] {
				return true
			}
		}
	}
	return false
}

// reads reports whether the principal may read a definition with these readers.
func (p *Principal) reads(readers []string) bool {
	if p.actor.System || p.actor.Role == RoleAdmin || len(readers) == 0 {
		return true
	}
	for _, g := range readers {
		if p.groups[g] {
			return true
		}
	}
	return false
}

// verdict is the outcome of one permission check.
type verdict int

const (
	denied verdict = iota
	granted
	// overridden: granted to an ADMIN not listed in the permission.
	overridden
)

// judge decides perm for the principal; list is the governing list.
func (p *Principal) judge(perm Permission, list []spec.Approver) verdict {
	switch {
	case p.actor.System:
		return granted
	case !p.actor.Role.AtLeast(RoleEditor):
		return denied
	case len(list) == 0 && perm.openByDefault():
		return granted
	case p.listed(list):
		return granted
	case p.actor.Role == RoleAdmin && len(list) == 0:
		return granted // a permission closed by default: ADMINs hold it
	case p.actor.Role == RoleAdmin:
		return overridden
	}
	return denied
}

// definitionGuard is what authorization reads of a definition: its readers
// and permissions, and the permissions of its live environments.
type definitionGuard struct {
	id      int
	name    string
	readers []string
	perms   spec.DefinitionPermissions
	envs    map[string]spec.EnvironmentPermissions
}

func readDefinitionGuard(ctx context.Context, c *ent.Client, defID int) (*definitionGuard, error) {
	def, err := c.ReleaseDefinition.Query().Where(releasedefinition.ID(defID)).
		Select(releasedefinition.FieldID, releasedefinition.FieldName, releasedefinition.FieldReaders,
			releasedefinition.FieldPermissions).Only(ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("definition", defID)
	}
	if err != nil {
		return nil, fmt.Errorf("reading permissions of definition %d: %w", defID, err)
	}
	envs, err := c.Environment.Query().Where(environment.DefinitionID(defID)).
		Select(environment.FieldName, environment.FieldPermissions).All(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading environment permissions of definition %d: %w", defID, err)
	}
	g := &definitionGuard{id: def.ID, name: def.Name, readers: def.Readers, perms: def.Permissions,
		envs: make(map[string]spec.EnvironmentPermissions, len(envs))}
	for _, e := range envs {
		g.envs[e.Name] = e.Permissions
	}
	return g, nil
}

// judge decides perm on the definition (env "") or on one of its
// environments; an environment no longer in the definition follows the
// definition's lists.
func (g *definitionGuard) judge(p *Principal, perm Permission, env string) (verdict, []spec.Approver, bool) {
	var envPerms *spec.EnvironmentPermissions
	if env != "" {
		if ep, ok := g.envs[env]; ok {
			envPerms = &ep
		}
	}
	list, fromEnv := listFor(&g.perms, envPerms, perm)
	return p.judge(perm, list), list, fromEnv
}

// access is one authorized write: the check it passed, for auditing an
// override once the write is known to go ahead.
type access struct {
	guard   *definitionGuard
	p       *Principal
	perm    Permission
	env     string
	doing   string
	verdict verdict
}

// authorize checks that actor may do perm on definition defID (env "": the
// definition itself; else that environment), for the write described by
// doing ("deploying release Release-3 to prod"). Outsiders of the readers
// get hidden (the caller's NOT_FOUND for the object it was asked about), so
// a write reveals no more than a read; then the role and the permission's
// list decide (FORBIDDEN, naming the permission). An ADMIN's override is
// audited in the transaction.
func (t *txn) authorize(actor Actor, defID int, env string, perm Permission, doing string, hidden error) error {
	if actor.System {
		return nil
	}
	a, err := checkAccess(t.ctx, t.Client(), actor, defID, env, perm, doing, hidden)
	if err != nil {
		return err
	}
	return t.auditOverride(a)
}

// precheck is authorize outside a transaction, without auditing: for work
// that must not start unless the write will be allowed (a CI call before a
// release's transaction, which authorizes again).
func (e *Engine) precheck(ctx context.Context, actor Actor, defID int, env string, perm Permission, doing string, hidden error) error {
	if actor.System {
		return nil
	}
	_, err := checkAccess(ctx, e.client, actor, defID, env, perm, doing, hidden)
	return err
}

// checkAccess is authorize without the audit of an override.
func checkAccess(ctx context.Context, c *ent.Client, actor Actor, defID int, env string, perm Permission, doing string, hidden error) (*access, error) {
	g, err := readDefinitionGuard(ctx, c, defID)
	if err != nil {
		if CodeOf(err) == CodeNotFound {
			return nil, hidden
		}
		return nil, err
	}
	p, err := principalOf(ctx, c, actor)
	if err != nil {
		return nil, err
	}
	if !p.reads(g.readers) {
		return nil, hidden
	}
	return g.check(p, perm, env, doing)
}

func (g *definitionGuard) check(p *Principal, perm Permission, env, doing string) (*access, error) {
	v, list, fromEnv := g.judge(p, perm, env)
	if v == denied {
		return nil, permissionDenied(p.actor, g, perm, env, doing, list, fromEnv)
	}
	return &access{guard: g, p: p, perm: perm, env: env, doing: doing, verdict: v}, nil
}

// auditOverride records an ADMIN's override of a permission list.
func (t *txn) auditOverride(a *access) error {
	if a == nil || a.verdict != overridden {
		return nil
	}
	after := map[string]any{"permission": a.perm, "doing": a.doing}
	if a.env != "" {
		after["environment"] = a.env
	}
	return t.audit(a.p.actor, auditPermissionOverride, auditTargetDefinition, a.guard.id, nil, after)
}

func permissionDenied(actor Actor, g *definitionGuard, perm Permission, env, doing string, list []spec.Approver, fromEnv bool) error {
	if !actor.Role.AtLeast(RoleEditor) {
		return Forbidden("%s requires role EDITOR; %s has %s", doing, actor.Username, actor.Role)
	}
	where := fmt.Sprintf("definition %s", g.name)
	if fromEnv {
		where = fmt.Sprintf("environment %s of definition %s", env, g.name)
	}
	field := perm.label(fromEnv)
	if len(list) == 0 {
		return Forbidden("%s requires permission %s on %s, which only ADMINs hold until the definition lists who may; %s is not an ADMIN",
			doing, field, where, actor.Username)
	}
	return Forbidden("%s requires permission %s on %s (granted to %s); %s is not among them",
		doing, field, where, describePrincipals(list), actor.Username)
}

func describePrincipals(list []spec.Approver) string {
	parts := make([]string, len(list))
	for i, a := range list {
		parts[i] = strings.ToLower(string(a.Kind)) + " " + a.Name
	}
	return strings.Join(parts, ", ")
}

// authorizeDefinitionChange judges an update of a definition by its diff
// against the document as stored (prev), each part by the permission that
// guards it on the definition as stored:
//
//   - the definition's readers and permission lists: managePermissions;
//   - the other definition-wide parts (name, description, name format,
//     variables, artifact sources, schedules) and which environments exist in
//     what order (adding one, removing one, renaming one, reordering):
//     editDefinition on the definition;
//   - anything of an existing environment, its permission lists included,
//     and its removal or rename: editEnvironment on that environment as
//     stored (its own list, else the definition's editDefinition).
//
// So who may change an environment is decided by the lists in force before
// the save, never by the lists the save writes. Every needed check is made
// before any is audited, so a refused update audits nothing.
func (t *txn) authorizeDefinitionChange(actor Actor, defID int, prev, next *spec.DefinitionSnapshot, hidden error) error {
	if actor.System {
		return nil
	}
	c := t.Client()
	g, err := readDefinitionGuard(t.ctx, c, defID)
	if err != nil {
		return err
	}
	p, err := principalOf(t.ctx, c, actor)
	if err != nil {
		return err
	}
	if !p.reads(g.readers) {
		return hidden
	}
	var grants []*access
	need := func(perm Permission, env, doing string) error {
		a, err := g.check(p, perm, env, doing)
		if err != nil {
			return err
		}
		grants = append(grants, a)
		return nil
	}
	if permissionsChanged(prev, next) {
		if err := need(PermManagePermissions, "", fmt.Sprintf("changing the readers or permissions of definition %s", g.name)); err != nil {
			return err
		}
	}
	if definitionWideChanged(prev, next) {
		if err := need(PermEditDefinition, "", fmt.Sprintf("changing definition %s", g.name)); err != nil {
			return err
		}
	}
	for i := range prev.Environments {
		old := &prev.Environments[i]
		env, ok := next.Environment(old.Name)
		doing := fmt.Sprintf("changing environment %s of definition %s", old.Name, g.name)
		if !ok {
			doing = fmt.Sprintf("removing (or renaming) environment %s of definition %s", old.Name, g.name)
		} else if !environmentChanged(old, env) {
			continue
		}
		if err := need(PermEditDefinition, old.Name, doing); err != nil {
			return err
		}
	}
	if len(grants) == 0 {
		// A save that changes nothing (a new revision for its comment)
		// needs some edit right: the definition's or an environment's.
		err := need(PermEditDefinition, "", fmt.Sprintf("saving definition %s", g.name))
		for i := 0; err != nil && i < len(next.Environments); i++ {
			if a, e := g.check(p, PermEditDefinition, next.Environments[i].Name, ""); e == nil {
				grants, err = append(grants, a), nil
			}
		}
		if err != nil {
			return err
		}
	}
	for _, a := range grants {
		if a.verdict == overridden {
			return t.auditOverride(a) // one override event per update
		}
	}
	return nil
}

// authorizeDefinitionDelete judges the deletion of a definition, which
// removes every environment: it needs editDefinition on the definition and
// editEnvironment on each environment as stored. One override event at most.
func (t *txn) authorizeDefinitionDelete(actor Actor, defID int, hidden error) error {
	if actor.System {
		return nil
	}
	c := t.Client()
	g, err := readDefinitionGuard(t.ctx, c, defID)
	if err != nil {
		if CodeOf(err) == CodeNotFound {
			return hidden
		}
		return err
	}
	p, err := principalOf(t.ctx, c, actor)
	if err != nil {
		return err
	}
	if !p.reads(g.readers) {
		return hidden
	}
	a, err := g.check(p, PermEditDefinition, "", fmt.Sprintf("deleting definition %s", g.name))
	if err != nil {
		return err
	}
	grants := []*access{a}
	for _, env := range slices.Sorted(maps.Keys(g.envs)) {
		a, err := g.check(p, PermEditDefinition, env, fmt.Sprintf("deleting definition %s, which removes environment %s", g.name, env))
		if err != nil {
			return err
		}
		grants = append(grants, a)
	}
	for _, a := range grants {
		if a.verdict == overridden {
			return t.auditOverride(a)
		}
	}
	return nil
}

// permissionsChanged reports whether next changes who holds permissions on
// the definition itself: its readers or its permission lists.
func permissionsChanged(prev, next *spec.DefinitionSnapshot) bool {
	return !sameJSON(prev.Readers, next.Readers) || !sameJSON(prev.Permissions, next.Permissions)
}

// definitionWideChanged reports whether next differs from prev outside the
// inside of environments and the definition's readers and permissions:
// in its definition-wide fields or in the names and order of its
// environments.
func definitionWideChanged(prev, next *spec.DefinitionSnapshot) bool {
	strip := func(s *spec.DefinitionSnapshot) (spec.DefinitionSnapshot, []string) {
		c := *s
		c.Environments, c.Readers, c.Permissions = nil, nil, spec.DefinitionPermissions{}
		names := make([]string, len(s.Environments))
		for i, e := range s.Environments {
			names[i] = e.Name
		}
		return c, names
	}
	pd, pn := strip(prev)
	nd, nn := strip(next)
	return !sameJSON(pd, nd) || !sameJSON(pn, nn)
}

// environmentChanged reports whether anything of an environment differs,
// its permission lists included. It compares whole documents, so that a
// field added to spec.EnvironmentSpec is guarded without being named here.
func environmentChanged(a, b *spec.EnvironmentSpec) bool {
	return !sameJSON(a, b)
}

func sameJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// ViewerCan says what the viewer may do with a definition or one of its
// environments, for clients to show only the actions that will work. An
// ADMIN's overrides count as allowed.
type ViewerCan struct {
	EditDefinition         bool
	DeleteDefinition       bool
	CreateReleases         bool
	ManageDeployments      bool
	ManageApprovals        bool
	OverrideArtifactChecks bool
	ManagePermissions      bool
}

// Can answers, without writing anything, what p may do with definition def
// (env "") or its environment env. def's readers are assumed checked (the
// caller read def in the viewer's read scope).
func (p *Principal) Can(def *ent.ReleaseDefinition, env *ent.Environment) ViewerCan {
	if def == nil {
		return ViewerCan{}
	}
	var envPerms *spec.EnvironmentPermissions
	if env != nil {
		envPerms = &env.Permissions
	}
	ok := func(perm Permission) bool {
		if def.DeletedAt != nil {
			return false
		}
		list, _ := listFor(&def.Permissions, envPerms, perm)
		return p.judge(perm, list) != denied
	}
	c := ViewerCan{
		EditDefinition:    ok(PermEditDefinition),
		CreateReleases:    ok(PermCreateReleases),
		ManageDeployments: ok(PermManageDeployments),
		ManageApprovals:   ok(PermManageApprovals),
	}
	if env == nil {
		c.DeleteDefinition = c.EditDefinition
		c.OverrideArtifactChecks = ok(PermOverrideArtifactChecks)
		c.ManagePermissions = ok(PermManagePermissions)
	} else {
		// Approvers may reassign what is theirs; this says whether the
		// viewer may reassign any approval of the environment.
		c.CreateReleases = false
	}
	return c
}
