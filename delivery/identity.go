package delivery

import (
	"context"
	"fmt"
	"net/mail"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/approval"
	"github.com/cairnhq/cairn/ent/environment"
	"github.com/cairnhq/cairn/ent/group"
	"github.com/cairnhq/cairn/ent/releasedefinition"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/ent/user"
)

var (
	// usernamePattern keeps usernames safe to print, to put in URLs and to
	// compare without case folding surprises.
	usernamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)
	// groupNamePattern is the username rule with room for longer team names.
	groupNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,99}$`)
	// externalIdentityPattern is "provider:id", e.g. "slack:U123ABC".
	externalIdentityPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}:[^\s:][^\s]{0,199}$`)
)

// maxExternalIdentities bounds the chat identities one user may carry.
const maxExternalIdentities = 20

// UserInput describes a new user.
type UserInput struct {
	Username    string
	DisplayName string
	Email       string
	// Role defaults to VIEWER when empty.
	Role Role
	// ExternalIdentities are chat identities ("slack:U123"), unique across users.
	ExternalIdentities []string
}

// UserPatch changes some fields of a user; nil fields are kept.
type UserPatch struct {
	DisplayName *string
	Email       *string
	Role        *Role
	Disabled    *bool
	// ExternalIdentities replaces the whole list when not nil (empty clears it).
	ExternalIdentities *[]string
}

// userAudit is the audited view of a user.
type userAudit struct {
	Username           string   `json:"username"`
	DisplayName        string   `json:"displayName"`
	Email              string   `json:"email"`
	Role               string   `json:"role"`
	Disabled           bool     `json:"disabled"`
	ExternalIdentities []string `json:"externalIdentities,omitempty"`
}

func auditUser(u *ent.User) userAudit {
	return userAudit{
		Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: string(u.Role),
		Disabled: u.Disabled, ExternalIdentities: u.ExternalIdentities,
	}
}

// CreateUser adds a user. Only an ADMIN may create users.
func (e *Engine) CreateUser(ctx context.Context, actor Actor, in UserInput) (*ent.User, error) {
	if err := actor.Require(RoleAdmin, "creating a user"); err != nil {
		return nil, err
	}
	if in.Role == "" {
		in.Role = RoleViewer
	}
	if err := validateUsername("username", in.Username); err != nil {
		return nil, err
	}
	displayName, err := validateDisplayName(in.DisplayName)
	if err != nil {
		return nil, err
	}
	email, err := validateEmail(in.Email)
	if err != nil {
		return nil, err
	}
	if err := validateRole(in.Role); err != nil {
		return nil, err
	}
	ids, err := normaliseExternalIdentities(in.ExternalIdentities)
	if err != nil {
		return nil, err
	}
	var u *ent.User
	err = e.inTx(ctx, func(t *txn) error {
		taken, err := t.User.Query().Where(user.Username(in.Username)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return Conflict("username %q is taken", in.Username)
		}
		if err := t.checkExternalIdentitiesFree(ids, 0); err != nil {
			return err
		}
		u, err = t.User.Create().SetUsername(in.Username).SetDisplayName(displayName).SetEmail(email).
			SetRole(user.Role(in.Role)).SetExternalIdentities(ids).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		return t.audit(actor, "user.create", auditTargetUser, u.ID, nil, auditUser(u))
	})
	if err != nil {
		return nil, fmt.Errorf("creating user %q: %w", in.Username, err)
	}
	return u.Unwrap(), nil
}

// UpdateUser changes a user's display name, email, role, disabled flag or
// external identities. Only an ADMIN may; the last enabled ADMIN can be
// neither demoted nor disabled, so the server always keeps an administrator.
func (e *Engine) UpdateUser(ctx context.Context, actor Actor, id int, p UserPatch) (*ent.User, error) {
	if err := actor.Require(RoleAdmin, "updating a user"); err != nil {
		return nil, err
	}
	var (
		displayName, email string
		ids                []string
		err                error
	)
	if p.DisplayName != nil {
		if displayName, err = validateDisplayName(*p.DisplayName); err != nil {
			return nil, err
		}
	}
	if p.Email != nil {
		if email, err = validateEmail(*p.Email); err != nil {
			return nil, err
		}
	}
	if p.Role != nil {
		if err := validateRole(*p.Role); err != nil {
			return nil, err
		}
	}
	if p.ExternalIdentities != nil {
		if ids, err = normaliseExternalIdentities(*p.ExternalIdentities); err != nil {
			return nil, err
		}
	}
	var u *ent.User
	err = e.inTx(ctx, func(t *txn) error {
		old, err := t.User.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("user", id)
		}
		if err != nil {
			return err
		}
		stillAdmin := old.Role == user.RoleADMIN && !old.Disabled
		if p.Role != nil && *p.Role != RoleAdmin {
			stillAdmin = false
		}
		if p.Disabled != nil && *p.Disabled {
			stillAdmin = false
		}
		if old.Role == user.RoleADMIN && !old.Disabled && !stillAdmin {
			if err := t.requireAnotherAdmin(old); err != nil {
				return err
			}
		}
		upd := old.Update().SetUpdatedAt(t.now)
		if p.DisplayName != nil {
			upd.SetDisplayName(displayName)
		}
		if p.Email != nil {
			upd.SetEmail(email)
		}
		if p.Role != nil {
			upd.SetRole(user.Role(*p.Role))
		}
		if p.Disabled != nil {
			upd.SetDisabled(*p.Disabled)
		}
		if p.ExternalIdentities != nil {
			if err := t.checkExternalIdentitiesFree(ids, id); err != nil {
				return err
			}
			upd.SetExternalIdentities(ids)
		}
		if u, err = upd.Save(ctx); err != nil {
			return err
		}
		if u.Disabled && !old.Disabled {
			// Open event streams of the user's tokens end at once.
			t.notify(Event{Type: EventCredentialRevoked, Data: map[string]any{"userId": id}})
		}
		action := "user.update"
		if p.Disabled != nil && *p.Disabled && !old.Disabled &&
			p.Role == nil && p.DisplayName == nil && p.Email == nil && p.ExternalIdentities == nil {
			action = "user.disable"
		}
		return t.audit(actor, action, auditTargetUser, id, auditUser(old), auditUser(u))
	})
	if err != nil {
		return nil, fmt.Errorf("updating user %d: %w", id, err)
	}
	return u.Unwrap(), nil
}

// DisableUser disables a user: their tokens stop working at once (see
// PrincipalForToken). The last enabled ADMIN cannot be disabled.
func (e *Engine) DisableUser(ctx context.Context, actor Actor, id int) (*ent.User, error) {
	disabled := true
	return e.UpdateUser(ctx, actor, id, UserPatch{Disabled: &disabled})
}

// requireAnotherAdmin returns CONFLICT unless an enabled ADMIN other than u
// exists.
func (t *txn) requireAnotherAdmin(u *ent.User) error {
	n, err := t.User.Query().
		Where(user.RoleEQ(user.RoleADMIN), user.Disabled(false), user.IDNEQ(u.ID)).Count(t.ctx)
	if err != nil {
		return fmt.Errorf("counting administrators: %w", err)
	}
	if n == 0 {
		return Conflict("%s is the last enabled ADMIN: promote another user to ADMIN first", u.Username)
	}
	return nil
}

// checkExternalIdentitiesFree returns CONFLICT when another user than self
// already carries one of ids.
func (t *txn) checkExternalIdentitiesFree(ids []string, self int) error {
	for _, id := range ids {
		other, err := t.User.Query().
			Where(user.IDNEQ(self), func(s *sql.Selector) {
				s.Where(sqljson.ValueContains(user.FieldExternalIdentities, id))
			}).First(t.ctx)
		switch {
		case ent.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("checking external identity %q: %w", id, err)
		default:
			return Conflict("external identity %q already belongs to user %s", id, other.Username)
		}
	}
	return nil
}

// UserByExternalIdentity returns the user that carries a chat identity such
// as "slack:U123", for chatops bots acting on behalf of a person. An unknown
// identity is NOT_FOUND; a disabled user is returned as is (callers check).
func (e *Engine) UserByExternalIdentity(ctx context.Context, identity string) (*ent.User, error) {
	if !externalIdentityPattern.MatchString(identity) {
		return nil, Invalid("identity", "%q is not an external identity of the form provider:id (e.g. slack:U123)", identity)
	}
	u, err := e.client.User.Query().
		Where(func(s *sql.Selector) {
			s.Where(sqljson.ValueContains(user.FieldExternalIdentities, identity))
		}).First(ctx)
	if ent.IsNotFound(err) {
		return nil, NotFound("user with external identity", identity)
	}
	if err != nil {
		return nil, fmt.Errorf("looking up external identity %q: %w", identity, err)
	}
	return u, nil
}

// EnsureAdmin creates the ADMIN user username unless a user of that name
// exists, for the --dev bootstrap. It is idempotent: an existing user is
// returned unchanged (whatever its role), so a deliberate demotion survives a
// restart. The creation is audited as the system.
func (e *Engine) EnsureAdmin(ctx context.Context, username string) (*ent.User, error) {
	if err := validateUsername("username", username); err != nil {
		return nil, err
	}
	var u *ent.User
	err := e.inTx(ctx, func(t *txn) error {
		var err error
		u, err = t.User.Query().Where(user.Username(username)).Only(ctx)
		if err == nil || !ent.IsNotFound(err) {
			return err
		}
		u, err = t.User.Create().SetUsername(username).SetRole(user.RoleADMIN).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		return t.audit(SystemActor("system"), "user.create", auditTargetUser, u.ID, nil, auditUser(u))
	})
	if err != nil {
		return nil, fmt.Errorf("ensuring admin %q: %w", username, err)
	}
	// The row was read or created in the finished transaction: unwrap it so
	// that its edges are read through the engine's client, not the closed tx.
	return u.Unwrap(), nil
}

func validateUsername(field, s string) error {
	if !usernamePattern.MatchString(s) {
		return Invalid(field, "%q is not a valid username: use 1-63 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", s)
	}
	return nil
}

func validateDisplayName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 200 {
		return "", Invalid("displayName", "is %d bytes long; the limit is 200", len(s))
	}
	if hasControl(s) {
		return "", Invalid("displayName", "must not contain control characters")
	}
	return s, nil
}

func validateEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if len(s) > 320 {
		return "", Invalid("email", "is %d bytes long; the limit is 320", len(s))
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" || !strings.Contains(s[strings.LastIndex(s, "@")+1:], ".") {
		return "", Invalid("email", "%q is not a plain email address like alice@example.com", s)
	}
	return s, nil
}

func validateRole(r Role) error {
	if r.rank() == 0 {
		return Invalid("role", "%q is not a role: use ADMIN, EDITOR or VIEWER", r)
	}
	return nil
}

// normaliseExternalIdentities checks the form of chat identities and removes
// duplicates, keeping the order given.
func normaliseExternalIdentities(in []string) ([]string, error) {
	if len(in) > maxExternalIdentities {
		return nil, Invalid("externalIdentities", "has %d entries; the limit is %d", len(in), maxExternalIdentities)
	}
	out := make([]string, 0, len(in))
	for i, s := range in {
		s = strings.TrimSpace(s)
		if !externalIdentityPattern.MatchString(s) {
			return nil, Invalid(fmt.Sprintf("externalIdentities[%d]", i),
				"%q is not of the form provider:id (e.g. slack:U123); the provider is lowercase", s)
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out, nil
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// GroupInput describes a new group.
type GroupInput struct {
	Name        string
	Description string
}

// GroupPatch changes some fields of a group; nil fields are kept.
type GroupPatch struct {
	Name        *string
	Description *string
}

type groupAudit struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func auditGroup(g *ent.Group) groupAudit { return groupAudit{Name: g.Name, Description: g.Description} }

// CreateGroup adds a group. Only an ADMIN may.
func (e *Engine) CreateGroup(ctx context.Context, actor Actor, in GroupInput) (*ent.Group, error) {
	if err := actor.Require(RoleAdmin, "creating a group"); err != nil {
		return nil, err
	}
	if err := validateGroupName(in.Name); err != nil {
		return nil, err
	}
	desc, err := validateDescription(in.Description)
	if err != nil {
		return nil, err
	}
	var g *ent.Group
	err = e.inTx(ctx, func(t *txn) error {
		taken, err := t.Group.Query().Where(group.Name(in.Name)).Exist(ctx)
		if err != nil {
			return err
		}
		if taken {
			return Conflict("group name %q is taken", in.Name)
		}
		g, err = t.Group.Create().SetName(in.Name).SetDescription(desc).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		return t.audit(actor, "group.create", auditTargetGroup, g.ID, nil, auditGroup(g))
	})
	if err != nil {
		return nil, fmt.Errorf("creating group %q: %w", in.Name, err)
	}
	return g.Unwrap(), nil
}

// UpdateGroup renames a group or changes its description. A group named as an
// approver by a live definition or a pending approval cannot be renamed:
// those references are by name.
func (e *Engine) UpdateGroup(ctx context.Context, actor Actor, id int, p GroupPatch) (*ent.Group, error) {
	if err := actor.Require(RoleAdmin, "updating a group"); err != nil {
		return nil, err
	}
	if p.Name != nil {
		if err := validateGroupName(*p.Name); err != nil {
			return nil, err
		}
	}
	var desc string
	if p.Description != nil {
		var err error
		if desc, err = validateDescription(*p.Description); err != nil {
			return nil, err
		}
	}
	var g *ent.Group
	err := e.inTx(ctx, func(t *txn) error {
		old, err := t.Group.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("group", id)
		}
		if err != nil {
			return err
		}
		upd := old.Update().SetUpdatedAt(t.now)
		if p.Name != nil && *p.Name != old.Name {
			taken, err := t.Group.Query().Where(group.Name(*p.Name)).Exist(ctx)
			if err != nil {
				return err
			}
			if taken {
				return Conflict("group name %q is taken", *p.Name)
			}
			if err := t.requireGroupUnreferenced(old.Name, "renamed"); err != nil {
				return err
			}
			upd.SetName(*p.Name)
		}
		if p.Description != nil {
			upd.SetDescription(desc)
		}
		if g, err = upd.Save(ctx); err != nil {
			return err
		}
		return t.audit(actor, "group.update", auditTargetGroup, id, auditGroup(old), auditGroup(g))
	})
	if err != nil {
		return nil, fmt.Errorf("updating group %d: %w", id, err)
	}
	return g.Unwrap(), nil
}

// DeleteGroup removes a group that no live definition or pending approval
// names as an approver.
func (e *Engine) DeleteGroup(ctx context.Context, actor Actor, id int) error {
	if err := actor.Require(RoleAdmin, "deleting a group"); err != nil {
		return err
	}
	err := e.inTx(ctx, func(t *txn) error {
		old, err := t.Group.Get(ctx, id)
		if ent.IsNotFound(err) {
			return NotFound("group", id)
		}
		if err != nil {
			return err
		}
		if err := t.requireGroupUnreferenced(old.Name, "deleted"); err != nil {
			return err
		}
		if err := t.Group.DeleteOne(old).Exec(ctx); err != nil {
			return err
		}
		return t.audit(actor, "group.delete", auditTargetGroup, id, auditGroup(old), nil)
	})
	if err != nil {
		return fmt.Errorf("deleting group %d: %w", id, err)
	}
	return nil
}

// requireGroupUnreferenced returns CONFLICT when a live definition's approval
// policy or a pending approval names the group.
func (t *txn) requireGroupUnreferenced(name, doing string) error {
	envs, err := t.Environment.Query().
		Where(environment.HasDefinitionWith(releasedefinition.DeletedAtIsNil())).
		WithDefinition().All(t.ctx)
	if err != nil {
		return fmt.Errorf("reading approval policies: %w", err)
	}
	for _, env := range envs {
		for _, pol := range []spec.ApprovalPolicy{env.PreApproval, env.PostApproval} {
			for _, a := range pol.Approvers {
				if a.Kind == spec.ApproverGroup && a.Name == name {
					return Conflict("group %s cannot be %s: definition %q environment %q names it as an approver",
						name, doing, env.Edges.Definition.Name, env.Name)
				}
			}
		}
	}
	pending, err := t.Approval.Query().
		Where(approval.ApproverKindEQ(approval.ApproverKindGROUP), approval.Approver(name),
			approval.StatusEQ(approval.StatusPENDING)).Count(t.ctx)
	if err != nil {
		return fmt.Errorf("counting pending approvals: %w", err)
	}
	if pending > 0 {
		return Conflict("group %s cannot be %s: %d pending approvals are assigned to it", name, doing, pending)
	}
	return nil
}

// AddGroupMember adds a user to a group; adding a member again changes
// nothing.
func (e *Engine) AddGroupMember(ctx context.Context, actor Actor, groupID, userID int) (*ent.Group, error) {
	return e.changeMembership(ctx, actor, groupID, userID, true)
}

// RemoveGroupMember removes a user from a group; removing a non-member
// changes nothing.
func (e *Engine) RemoveGroupMember(ctx context.Context, actor Actor, groupID, userID int) (*ent.Group, error) {
	return e.changeMembership(ctx, actor, groupID, userID, false)
}

func (e *Engine) changeMembership(ctx context.Context, actor Actor, groupID, userID int, add bool) (*ent.Group, error) {
	doing, action := "removing a group member", "group.removeMember"
	if add {
		doing, action = "adding a group member", "group.addMember"
	}
	if err := actor.Require(RoleAdmin, doing); err != nil {
		return nil, err
	}
	var g *ent.Group
	err := e.inTx(ctx, func(t *txn) error {
		var err error
		g, err = t.Group.Get(ctx, groupID)
		if ent.IsNotFound(err) {
			return NotFound("group", groupID)
		}
		if err != nil {
			return err
		}
		u, err := t.User.Get(ctx, userID)
		if ent.IsNotFound(err) {
			return NotFound("user", userID)
		}
		if err != nil {
			return err
		}
		member, err := g.QueryMembers().Where(user.ID(userID)).Exist(ctx)
		if err != nil {
			return err
		}
		if member == add {
			return nil
		}
		upd := g.Update().SetUpdatedAt(t.now)
		if add {
			upd.AddMemberIDs(userID)
		} else {
			upd.RemoveMemberIDs(userID)
		}
		if g, err = upd.Save(ctx); err != nil {
			return err
		}
		return t.audit(actor, action, auditTargetGroup, groupID, nil, map[string]string{"group": g.Name, "member": u.Username})
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", doing, err)
	}
	// Unwrapped: the API reads the group's members after the transaction ended.
	return g.Unwrap(), nil
}

func validateGroupName(s string) error {
	if !groupNamePattern.MatchString(s) {
		return Invalid("name", "%q is not a valid group name: use 1-100 lowercase letters, digits, '.', '_' or '-', starting with a letter or digit", s)
	}
	return nil
}

func validateDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > 1000 {
		return "", Invalid("description", "is %d bytes long; the limit is 1000", len(s))
	}
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return "", Invalid("description", "must not contain control characters")
	}
	return s, nil
}
