package delivery

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/user"
)

// InitialAdminTokenLifetime is how long the first admin's token is valid: long enough to log
// in once and create a proper token, short enough that a copy left on disk soon stops working.
const InitialAdminTokenLifetime = 24 * time.Hour

// InitialAdminTokenName names the first admin's token (ApiToken.name), so that it is easy to
// find and revoke.
const InitialAdminTokenName = "initial admin token"

// AdminToken is a user and a new token row for it, as BootstrapFirstAdmin and RecoveryToken
// create them; the caller signs Token.Jti into the JWT.
type AdminToken struct {
	User  *ent.User
	Token *ent.ApiToken
	// Created is set when the user was created with the token.
	Created bool
}

// BootstrapFirstAdmin gives a new installation its first administrator: when the database has
// no user at all, it creates the ADMIN user username and a token for it valid for lifetime
// (InitialAdminTokenLifetime when zero), in one transaction, audited as the system. When any
// user exists it does nothing and returns nil: a restart, or another replica that got there
// first.
//
// Replicas that start at once on one PostgreSQL database create exactly one admin: the
// transaction takes the engine's advisory lock before it counts users (inTx), so the second
// one counts the first one's user; the unique username is the backstop. SQLite's write
// transactions (BEGIN IMMEDIATE) serialise the same way.
func (e *Engine) BootstrapFirstAdmin(ctx context.Context, username string, lifetime time.Duration) (*AdminToken, error) {
	if err := validateUsername("username", username); err != nil {
		return nil, err
	}
	if lifetime <= 0 {
		lifetime = InitialAdminTokenLifetime
	}
	jti, err := newJTI()
	if err != nil {
		return nil, err
	}
	var out *AdminToken
	err = e.inTx(ctx, func(t *txn) error {
		n, err := t.User.Query().Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		sys := SystemActor("first-start")
		u, err := t.User.Create().SetUsername(username).SetRole(user.RoleADMIN).
			SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		if err := t.audit(sys, "user.create", auditTargetUser, u.ID, nil, auditUser(u)); err != nil {
			return err
		}
		tok, err := t.insertToken(sys, u, jti, InitialAdminTokenName, lifetime, nil)
		if err != nil {
			return err
		}
		out = &AdminToken{User: u, Token: tok, Created: true}
		return nil
	})
	if ent.IsConstraintError(err) {
		return nil, nil // another replica created the user between our count and insert
	}
	if err != nil {
		return nil, fmt.Errorf("creating the first admin %q: %w", username, err)
	}
	return out, nil
}

// RecoveryToken creates a token named name (default "recovery token") for username, valid for
// lifetime (InitialAdminTokenLifetime when zero; at most MaxTokenLifetime), creating the user
// as ADMIN when no user of that name exists. It is the server's `admin token` command, which
// works on the database directly: whoever holds the database URL and the signing key owns the
// installation already, so no API credential is asked for. actor names the command and the
// operating-system user that ran it; the token (and any user created) is audited as theirs.
// A disabled user gets CONFLICT: name another, or a new name for a new ADMIN.
func (e *Engine) RecoveryToken(ctx context.Context, actor Actor, username, name string, lifetime time.Duration) (*AdminToken, error) {
	if err := validateUsername("username", username); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		name = "recovery token"
	}
	if len(name) > 200 || hasControl(name) {
		return nil, Invalid("name", "must be at most 200 bytes without control characters")
	}
	if lifetime == 0 {
		lifetime = InitialAdminTokenLifetime
	}
	if lifetime < 0 || lifetime > MaxTokenLifetime {
		return nil, Invalid("expires", "must be positive and at most %d days", int(MaxTokenLifetime.Hours()/24))
	}
	jti, err := newJTI()
	if err != nil {
		return nil, err
	}
	out := &AdminToken{}
	err = e.inTx(ctx, func(t *txn) error {
		u, err := t.User.Query().Where(user.Username(username)).Only(ctx)
		if ent.IsNotFound(err) {
			u, err = t.User.Create().SetUsername(username).SetRole(user.RoleADMIN).
				SetCreatedAt(t.now).SetUpdatedAt(t.now).Save(ctx)
			if err != nil {
				return err
			}
			out.Created = true
			if err := t.audit(actor, "user.create", auditTargetUser, u.ID, nil, auditUser(u)); err != nil {
				return err
			}
		}
		if err != nil {
			return err
		}
		if u.Disabled {
			return Conflict("user %s is disabled: name another user, or a new name to create a new ADMIN", u.Username)
		}
		out.User = u
		out.Token, err = t.insertToken(actor, u, jti, name, lifetime, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("issuing a recovery token for %q: %w", username, err)
	}
	return out, nil
}
