package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"entgo.io/ent/dialect/sql"
	"entgo.io/ent/dialect/sql/sqljson"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/user"
)

// ExternalLogin is a sign-in vouched for by an identity provider (OpenID
// Connect): the caller has verified the ID token.
type ExternalLogin struct {
	// Identity is the provider's stable id for the person as an external
	// identity, e.g. "oidc:248289761001" (the token's sub). It links the
	// person to a Cairn user; names and emails are never used to link,
	// because the provider lets people change them.
	Identity string
	// Method names the provider in the session and the audit, e.g. its issuer.
	Method string
	// Username, DisplayName and Email describe a user to create.
	Username, DisplayName, Email string
	// Create makes a VIEWER for an identity no user carries yet (with
	// Username, which must be free); otherwise such a sign-in is refused.
	Create bool
}

// LoginExternal opens a session for the user that carries the login's
// external identity, creating one when the login allows it. A disabled user
// is refused. It returns the session and its secret, as Login does.
func (e *Engine) LoginExternal(ctx context.Context, in ExternalLogin, meta SessionMeta) (*ent.Session, string, error) {
	if !externalIdentityPattern.MatchString(in.Identity) {
		return nil, "", Invalid("identity", "%q is not an external identity of the form provider:id", in.Identity)
	}
	if meta.Lifetime <= 0 {
		meta.Lifetime = DefaultSessionLifetime
	}
	if meta.Lifetime > MaxSessionLifetime {
		meta.Lifetime = MaxSessionLifetime
	}
	secret, err := newSessionSecret()
	if err != nil {
		return nil, "", err
	}
	var s *ent.Session
	err = e.inTx(ctx, func(t *txn) error {
		u, err := t.User.Query().Where(func(q *sql.Selector) {
			q.Where(sqljson.ValueContains(user.FieldExternalIdentities, in.Identity))
		}).First(ctx)
		if ent.IsNotFound(err) {
			if !in.Create {
				return unauthenticated(fmt.Sprintf("no Cairn user is linked to this sign-in: an administrator can add the external identity %s to your user", in.Identity))
			}
			if u, err = t.createExternalUser(in); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		if u.Disabled {
			return unauthenticated("user " + u.Username + " is disabled")
		}
		s, err = t.Session.Create().SetSecretHash(sessionHash(secret)).SetUserID(u.ID).
			SetMethod(clip(in.Method, 200)).SetUserAgent(clip(meta.UserAgent, 500)).
			SetRemoteAddr(clip(meta.RemoteAddr, 100)).
			SetCreatedAt(t.now).SetExpiresAt(t.now.Add(meta.Lifetime).UTC().Truncate(time.Second)).Save(ctx)
		if err != nil {
			return err
		}
		s.Edges.User = u
		actor := Actor{UserID: u.ID, Username: u.Username, Role: Role(u.Role), SessionID: s.ID}
		return t.audit(actor, "user.login", auditTargetUser, u.ID, nil,
			map[string]any{"username": u.Username, "method": s.Method, "identity": in.Identity, "remoteAddr": s.RemoteAddr})
	})
	if err != nil {
		return nil, "", fmt.Errorf("signing in %s: %w", in.Identity, err)
	}
	return s, secret, nil
}

// createExternalUser creates the VIEWER of a first external sign-in.
func (t *txn) createExternalUser(in ExternalLogin) (*ent.User, error) {
	name := strings.ToLower(strings.TrimSpace(in.Username))
	if err := validateUsername("username", name); err != nil {
		return nil, unauthenticated(fmt.Sprintf("the identity provider's username %q cannot be a Cairn username: an administrator can create your user and link %s to it", in.Username, in.Identity))
	}
	taken, err := t.User.Query().Where(user.Username(name)).Exist(t.ctx)
	if err != nil {
		return nil, err
	}
	if taken {
		return nil, unauthenticated(fmt.Sprintf("user %s exists but is not linked to this sign-in: an administrator can add the external identity %s to it", name, in.Identity))
	}
	display, err := validateDisplayName(in.DisplayName)
	if err != nil {
		display = ""
	}
	email, err := validateEmail(in.Email)
	if err != nil {
		email = ""
	}
	u, err := t.User.Create().SetUsername(name).SetDisplayName(display).SetEmail(email).
		SetRole(user.RoleVIEWER).SetExternalIdentities([]string{in.Identity}).
		SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(t.ctx)
	if err != nil {
		return nil, err
	}
	return u, t.audit(SystemActor("oidc"), "user.create", auditTargetUser, u.ID, nil, auditUser(u))
}
