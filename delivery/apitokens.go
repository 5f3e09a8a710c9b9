package delivery

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/apitoken"
)

// Token lifetimes.
const (
	// DefaultTokenLifetime is what a person gets when they do not choose.
	DefaultTokenLifetime = 90 * 24 * time.Hour
	// MaxTokenLifetime bounds how long a leaked token stays useful.
	MaxTokenLifetime = 365 * 24 * time.Hour
	// lastUsedResolution is how stale last_used_at may be: updating it on
	// every request would turn every read into a write.
	lastUsedResolution = time.Minute
)

// KnownScopes lists the scopes a token may carry.
var KnownScopes = []string{ScopeActAs}

type tokenAudit struct {
	Name      string    `json:"name"`
	Owner     string    `json:"owner"`
	Scopes    []string  `json:"scopes,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	Revoked   bool      `json:"revoked"`
}

func auditToken(tok *ent.ApiToken, owner string) tokenAudit {
	return tokenAudit{
		Name: tok.Name, Owner: owner, Scopes: tok.Scopes, ExpiresAt: tok.ExpiresAt.UTC(),
		Revoked: tok.RevokedAt != nil,
	}
}

// CreateAPIToken records a new API token for ownerID (0: the actor itself)
// valid for expiresIn, which must be positive and at most MaxTokenLifetime
// (callers offer DefaultTokenLifetime when the person does not choose). Any user may create tokens for themselves;
// only an ADMIN may create one for another user or grant the act-as scope.
// The returned row's Jti is what the caller signs into the JWT; the token
// string itself is never stored.
func (e *Engine) CreateAPIToken(ctx context.Context, actor Actor, name string, ownerID int, expiresIn time.Duration, scopes []string) (*ent.ApiToken, error) {
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, Invalid("name", "is required: say what the token is for, e.g. \"ci deploy bot\"")
	case len(name) > 200:
		return nil, Invalid("name", "is %d bytes long; the limit is 200", len(name))
	case hasControl(name):
		return nil, Invalid("name", "must not contain control characters")
	}
	if expiresIn <= 0 {
		return nil, Invalid("expiresIn", "must be positive (the default is %d days)", int(DefaultTokenLifetime.Hours()/24))
	}
	if expiresIn > MaxTokenLifetime {
		return nil, Invalid("expiresIn", "is longer than the maximum of %d days", int(MaxTokenLifetime.Hours()/24))
	}
	var clean []string
	for i, s := range scopes {
		if !slices.Contains(KnownScopes, s) {
			return nil, Invalid(fmt.Sprintf("scopes[%d]", i), "%q is not a known scope (known: %s)", s, strings.Join(KnownScopes, ", "))
		}
		if !slices.Contains(clean, s) {
			clean = append(clean, s)
		}
	}
	if ownerID == 0 {
		if actor.UserID == 0 {
			return nil, Invalid("ownerId", "%s is not a user: name the owner of the token", actor.Username)
		}
		ownerID = actor.UserID
	}
	if ownerID != actor.UserID {
		if err := actor.Require(RoleAdmin, "creating a token for another user"); err != nil {
			return nil, err
		}
	}
	if slices.Contains(clean, ScopeActAs) {
		if err := actor.Require(RoleAdmin, "granting the act-as scope"); err != nil {
			return nil, err
		}
	}
	jti, err := newJTI()
	if err != nil {
		return nil, err
	}
	var tok *ent.ApiToken
	err = e.inTx(ctx, func(t *txn) error {
		owner, err := t.User.Get(ctx, ownerID)
		if ent.IsNotFound(err) {
			return NotFound("user", ownerID)
		}
		if err != nil {
			return err
		}
		tok, err = t.insertToken(actor, owner, jti, name, expiresIn, clean)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating API token %q: %w", name, err)
	}
	return tok, nil
}

// insertToken stores and audits a token of owner (who must be enabled), valid for expiresIn
// from the transaction's time.
func (t *txn) insertToken(actor Actor, owner *ent.User, jti, name string, expiresIn time.Duration, scopes []string) (*ent.ApiToken, error) {
	if owner.Disabled {
		return nil, Conflict("user %s is disabled", owner.Username)
	}
	tok, err := t.ApiToken.Create().SetJti(jti).SetName(name).SetScopes(scopes).
		SetExpiresAt(t.now.Add(expiresIn).UTC().Truncate(time.Second)).SetOwnerID(owner.ID).
		SetCreatedAt(t.now).Save(t.ctx)
	if err != nil {
		return nil, err
	}
	tok.Edges.Owner = owner
	return tok, t.audit(actor, "token.create", auditTargetAPIToken, tok.ID, nil, auditToken(tok, owner.Username))
}

// newJTI returns a random 128-bit token id.
func newJTI() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("generating token id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// RevokeAPIToken revokes a token; it stops authenticating at once. The owner
// or an ADMIN may revoke it. Revoking a revoked token changes nothing and
// returns it.
func (e *Engine) RevokeAPIToken(ctx context.Context, actor Actor, id int) (*ent.ApiToken, error) {
	var tok *ent.ApiToken
	err := e.inTx(ctx, func(t *txn) error {
		old, err := t.ApiToken.Query().Where(apitoken.ID(id)).WithOwner().Only(ctx)
		if ent.IsNotFound(err) {
			return NotFound("API token", id)
		}
		if err != nil {
			return err
		}
		if old.OwnerID != actor.UserID || actor.UserID == 0 {
			if err := actor.Require(RoleAdmin, "revoking another user's token"); err != nil {
				return err
			}
		}
		if old.RevokedAt != nil {
			tok = old
			return nil
		}
		tok, err = old.Update().SetRevokedAt(t.now).Save(ctx)
		if err != nil {
			return err
		}
		tok.Edges.Owner = old.Edges.Owner
		// Open event streams authenticated with the token end at once.
		t.notify(Event{Type: EventCredentialRevoked, Data: map[string]any{"jti": tok.Jti, "userId": tok.OwnerID}})
		return t.audit(actor, "token.revoke", auditTargetAPIToken, id,
			auditToken(old, old.Edges.Owner.Username), auditToken(tok, old.Edges.Owner.Username))
	})
	if err != nil {
		return nil, fmt.Errorf("revoking API token %d: %w", id, err)
	}
	return tok, nil
}

// unauthenticated returns an UNAUTHENTICATED error saying why a credential
// was refused.
func unauthenticated(msg string) *Error {
	return &Error{Code: CodeUnauthenticated, Message: msg}
}

// PrincipalForToken returns the actor that the API token with id jti
// authenticates at time now (the engine's clock if zero). It refuses unknown,
// revoked and expired tokens and tokens of disabled users with an
// UNAUTHENTICATED error naming the reason. The role is the owner's current
// one, so a demotion takes effect on the next request. It records the time of
// use at most once a minute per token.
func (e *Engine) PrincipalForToken(ctx context.Context, jti string, now time.Time) (Actor, error) {
	if now.IsZero() {
		now = e.clock.Now()
	}
	if jti == "" {
		return Actor{}, unauthenticated("unknown token")
	}
	tok, err := e.client.ApiToken.Query().Where(apitoken.Jti(jti)).WithOwner().Only(ctx)
	if ent.IsNotFound(err) {
		return Actor{}, unauthenticated("unknown token")
	}
	if err != nil {
		return Actor{}, fmt.Errorf("looking up token: %w", err)
	}
	owner := tok.Edges.Owner
	switch {
	case tok.RevokedAt != nil:
		return Actor{}, unauthenticated("token revoked")
	case !now.Before(tok.ExpiresAt):
		return Actor{}, unauthenticated("token expired")
	case owner.Disabled:
		return Actor{}, unauthenticated("user disabled")
	}
	if tok.LastUsedAt == nil || now.Sub(*tok.LastUsedAt) >= lastUsedResolution {
		err := e.inTxConcurrent(ctx, func(t *txn) error {
			return t.ApiToken.Update().
				Where(apitoken.ID(tok.ID), apitoken.Or(apitoken.LastUsedAtIsNil(),
					apitoken.LastUsedAtLTE(now.Add(-lastUsedResolution)))).
				SetLastUsedAt(now).Exec(ctx)
		})
		if err != nil && ctx.Err() == nil {
			// The credential is valid; its last-use mark is bookkeeping, and a busy
			// database must not refuse it (the next use records it).
			e.log.WarnContext(ctx, "recording token use", "token", tok.ID, "err", err)
		}
	}
	return Actor{
		UserID: owner.ID, Username: owner.Username, Role: Role(owner.Role), TokenID: tok.Jti,
		Scopes: slices.Clone(tok.Scopes),
	}, nil
}
