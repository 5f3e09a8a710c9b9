package delivery

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/session"
	"github.com/cairnhq/cairn/ent/user"
)

// Sign-in for people: local passwords and dashboard sessions. The engine
// stores a password only as the hash a PasswordHasher makes (argon2id, in
// package auth), and a session only as the SHA-256 of the random secret its
// cookie carries.

// Password and session limits.
const (
	// MinPasswordLength is the least number of characters of a password.
	MinPasswordLength = 12
	// maxPasswordBytes bounds the input of the (deliberately slow) hash.
	maxPasswordBytes = 1024
	// DefaultSessionLifetime is how long a sign-in lasts when the caller
	// does not choose.
	DefaultSessionLifetime = 12 * time.Hour
	// MaxSessionLifetime bounds how long a stolen cookie stays useful.
	MaxSessionLifetime = 30 * 24 * time.Hour
)

// PasswordHasher hashes and verifies passwords. Hashes are self-describing
// strings (algorithm, parameters, salt), so parameters can change without
// invalidating stored hashes.
type PasswordHasher interface {
	HashPassword(password string) (string, error)
	// VerifyPassword reports whether password matches hash; an error means
	// the hash is malformed.
	VerifyPassword(hash, password string) (bool, error)
}

// errBadLogin is the one answer to a failed sign-in, whatever failed
// (unknown user, wrong password, no password, disabled user), so that the
// answer does not tell which usernames exist.
var errBadLogin = &Error{Code: CodeUnauthenticated, Message: "invalid username or password"}

// SessionMeta describes a new session.
type SessionMeta struct {
	// Lifetime defaults to DefaultSessionLifetime; at most MaxSessionLifetime.
	Lifetime   time.Duration
	UserAgent  string
	RemoteAddr string
}

// sessionHash is what the database keeps of a session secret.
func sessionHash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newSessionSecret returns 256 random bits, base64url without padding.
func newSessionSecret() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating session secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// validatePassword checks a new password's length and characters.
func validatePassword(field, pw string) error {
	switch {
	case len(pw) > maxPasswordBytes:
		return Invalid(field, "is %d bytes long; the limit is %d", len(pw), maxPasswordBytes)
	case !utf8.ValidString(pw):
		return Invalid(field, "must be valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPasswordLength:
		return Invalid(field, "must be at least %d characters long", MinPasswordLength)
	case hasControl(pw):
		return Invalid(field, "must not contain control characters")
	}
	return nil
}

func (e *Engine) hasher() (PasswordHasher, error) {
	if e.passwords == nil {
		return nil, fmt.Errorf("passwords are not configured (delivery.Options.Passwords)")
	}
	return e.passwords, nil
}

// dummyHash is a valid hash of a random password, verified when a sign-in
// names no usable account so that it takes as long as a wrong password.
func (e *Engine) dummyHash() string {
	e.dummyOnce.Do(func() {
		secret, err := newSessionSecret()
		if err == nil {
			e.dummy, _ = e.passwords.HashPassword(secret)
		}
	})
	return e.dummy
}

// SetPassword sets a user's password (an ADMIN: the initial password or a
// reset) and ends the user's open sessions.
func (e *Engine) SetPassword(ctx context.Context, actor Actor, userID int, password string) (*ent.User, error) {
	if err := actor.Require(RoleAdmin, "setting a user's password"); err != nil {
		return nil, err
	}
	if err := validatePassword("password", password); err != nil {
		return nil, err
	}
	h, err := e.hasher()
	if err != nil {
		return nil, err
	}
	hash, err := h.HashPassword(password)
	if err != nil {
		return nil, fmt.Errorf("hashing password: %w", err)
	}
	var u *ent.User
	err = e.inTx(ctx, func(t *txn) error {
		old, err := t.User.Get(ctx, userID)
		if ent.IsNotFound(err) {
			return NotFound("user", userID)
		}
		if err != nil {
			return err
		}
		if u, err = old.Update().SetPasswordHash(hash).SetUpdatedAt(t.now).Save(ctx); err != nil {
			return err
		}
		if err := t.revokeSessions(userID, 0); err != nil {
			return err
		}
		return t.audit(actor, "user.setPassword", auditTargetUser, userID, nil,
			map[string]any{"username": u.Username, "password": "***"})
	})
	if err != nil {
		return nil, fmt.Errorf("setting the password of user %d: %w", userID, err)
	}
	return u, nil
}

// ChangePassword changes the actor's own password after checking the
// current one, and ends the actor's other sessions (the one in use stays).
func (e *Engine) ChangePassword(ctx context.Context, actor Actor, current, next string) error {
	if actor.UserID == 0 || actor.Via != "" {
		return Forbidden("only a person signed in as themselves can change their password")
	}
	if err := validatePassword("newPassword", next); err != nil {
		return err
	}
	h, err := e.hasher()
	if err != nil {
		return err
	}
	u, err := e.client.User.Get(ctx, actor.UserID)
	if err != nil {
		return fmt.Errorf("changing password: %w", err)
	}
	if u.PasswordHash == "" {
		return Invalid("currentPassword", "you have no password yet: ask an administrator to set one")
	}
	ok, err := h.VerifyPassword(u.PasswordHash, current)
	if err != nil {
		return fmt.Errorf("changing password: %w", err)
	}
	if !ok {
		return Invalid("currentPassword", "is not your current password")
	}
	hash, err := h.HashPassword(next)
	if err != nil {
		return fmt.Errorf("hashing password: %w", err)
	}
	err = e.inTx(ctx, func(t *txn) error {
		// Only if nobody changed it meanwhile (checked against what was verified).
		n, err := t.User.Update().Where(user.ID(u.ID), user.PasswordHash(u.PasswordHash)).
			SetPasswordHash(hash).SetUpdatedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		if n == 0 {
			return Conflict("the password changed meanwhile; sign in again")
		}
		if err := t.revokeSessions(u.ID, actor.SessionID); err != nil {
			return err
		}
		return t.audit(actor, "user.changePassword", auditTargetUser, u.ID, nil,
			map[string]any{"username": u.Username, "password": "***"})
	})
	if err != nil {
		return fmt.Errorf("changing password: %w", err)
	}
	return nil
}

// revokeSessions ends the open sessions of a user but keep (0: all) and
// tells open streams to re-check their credential.
func (t *txn) revokeSessions(userID, keep int) error {
	q := t.Session.Update().Where(session.UserID(userID), session.RevokedAtIsNil())
	if keep != 0 {
		q = q.Where(session.IDNEQ(keep))
	}
	n, err := q.SetRevokedAt(t.now).Save(t.ctx)
	if err != nil {
		return fmt.Errorf("revoking sessions: %w", err)
	}
	if n > 0 {
		t.notify(Event{Type: EventCredentialRevoked, Data: map[string]any{"userId": userID}})
	}
	return nil
}

// Login checks a username and password and opens a session. It returns the
// session row and its secret (for the cookie; the row keeps only a hash).
// Every failure for a person's reason is the same UNAUTHENTICATED answer,
// and takes as long (a hash is verified even for unknown users), so a caller
// cannot tell which usernames exist. Callers rate-limit failures.
func (e *Engine) Login(ctx context.Context, username, password string, meta SessionMeta) (*ent.Session, string, error) {
	h, err := e.hasher()
	if err != nil {
		return nil, "", err
	}
	if meta.Lifetime <= 0 {
		meta.Lifetime = DefaultSessionLifetime
	}
	if meta.Lifetime > MaxSessionLifetime {
		meta.Lifetime = MaxSessionLifetime
	}
	username = strings.ToLower(strings.TrimSpace(username))
	var u *ent.User
	if len(password) <= maxPasswordBytes && usernamePattern.MatchString(username) {
		u, err = e.client.User.Query().Where(user.Username(username)).Only(ctx)
		if err != nil && !ent.IsNotFound(err) {
			return nil, "", fmt.Errorf("signing in: %w", err)
		}
	}
	if u == nil || u.PasswordHash == "" || u.Disabled {
		// As slow as a real check, then the same answer.
		if len(password) <= maxPasswordBytes {
			_, _ = h.VerifyPassword(e.dummyHash(), password)
		}
		return nil, "", errBadLogin
	}
	ok, err := h.VerifyPassword(u.PasswordHash, password)
	if err != nil {
		return nil, "", fmt.Errorf("signing in %s: %w", u.Username, err)
	}
	if !ok {
		return nil, "", errBadLogin
	}
	secret, err := newSessionSecret()
	if err != nil {
		return nil, "", err
	}
	var s *ent.Session
	err = e.inTx(ctx, func(t *txn) error {
		s, err = t.Session.Create().SetSecretHash(sessionHash(secret)).SetUserID(u.ID).
			SetMethod("password").SetUserAgent(clip(meta.UserAgent, 500)).
			SetRemoteAddr(clip(meta.RemoteAddr, 100)).
			SetCreatedAt(t.now).SetExpiresAt(t.now.Add(meta.Lifetime).UTC().Truncate(time.Second)).
			Save(ctx)
		if err != nil {
			return err
		}
		actor := Actor{UserID: u.ID, Username: u.Username, Role: Role(u.Role), SessionID: s.ID}
		return t.audit(actor, "user.login", auditTargetUser, u.ID, nil,
			map[string]any{"username": u.Username, "method": "password", "remoteAddr": s.RemoteAddr})
	})
	if err != nil {
		return nil, "", fmt.Errorf("signing in %s: %w", u.Username, err)
	}
	s.Edges.User = u
	return s, secret, nil
}

// clip cuts s to at most n bytes at a rune boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Logout ends the session whose cookie carries secret. Ending an unknown,
// expired or ended session does nothing.
func (e *Engine) Logout(ctx context.Context, secret string) error {
	if secret == "" {
		return nil
	}
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		s, err := t.Session.Query().Where(session.SecretHash(sessionHash(secret)), session.RevokedAtIsNil()).Only(ctx)
		if ent.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.Update().SetRevokedAt(t.now).Exec(ctx); err != nil {
			return err
		}
		t.notify(Event{Type: EventCredentialRevoked, Data: map[string]any{"userId": s.UserID, "sessionId": s.ID}})
		return nil
	})
	if err != nil {
		return fmt.Errorf("signing out: %w", err)
	}
	return nil
}

// PrincipalForSession returns the actor whose session cookie carries secret
// at time now (the engine's clock if zero): UNAUTHENTICATED for unknown,
// revoked and expired sessions and for disabled users. The role is the
// user's current one. It records the time of use at most once a minute.
func (e *Engine) PrincipalForSession(ctx context.Context, secret string, now time.Time) (Actor, error) {
	if now.IsZero() {
		now = e.clock.Now()
	}
	if secret == "" || len(secret) > 200 {
		return Actor{}, unauthenticated("unknown session: sign in again")
	}
	s, err := e.client.Session.Query().Where(session.SecretHash(sessionHash(secret))).WithUser().Only(ctx)
	if ent.IsNotFound(err) {
		return Actor{}, unauthenticated("unknown session: sign in again")
	}
	if err != nil {
		return Actor{}, fmt.Errorf("looking up session: %w", err)
	}
	u := s.Edges.User
	switch {
	case s.RevokedAt != nil:
		return Actor{}, unauthenticated("signed out: sign in again")
	case !now.Before(s.ExpiresAt):
		return Actor{}, unauthenticated("session expired: sign in again")
	case u.Disabled:
		return Actor{}, unauthenticated("user disabled")
	}
	if s.LastSeenAt == nil || now.Sub(*s.LastSeenAt) >= lastUsedResolution {
		err := e.inTxConcurrent(ctx, func(t *txn) error {
			return t.Session.Update().
				Where(session.ID(s.ID), session.Or(session.LastSeenAtIsNil(),
					session.LastSeenAtLTE(now.Add(-lastUsedResolution)))).
				SetLastSeenAt(now).Exec(ctx)
		})
		if err != nil {
			return Actor{}, fmt.Errorf("recording session use: %w", err)
		}
	}
	return Actor{UserID: u.ID, Username: u.Username, Role: Role(u.Role), SessionID: s.ID}, nil
}

// sessionState is the engine's lazily made dummy hash.
type sessionState struct {
	passwords PasswordHasher
	dummyOnce sync.Once
	dummy     string
}

// PruneSessions deletes sessions that expired or were revoked more than the
// session retention ago (a week by default), and returns how many. RunEventPruneLoop calls it.
func (e *Engine) PruneSessions(ctx context.Context) (int, error) {
	cutoff := e.clock.Now().AddDate(0, 0, -e.retention.SessionDays)
	var n int
	err := e.inTxConcurrent(ctx, func(t *txn) error {
		var err error
		n, err = t.Session.Delete().Where(session.Or(session.ExpiresAtLT(cutoff), session.RevokedAtLT(cutoff))).Exec(ctx)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("pruning sessions: %w", err)
	}
	return n, nil
}
