package delivery

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/user"
)

// ActAs returns the actor of the person who, a bot says, asked for a change:
// a chatops bot relays "approve" from a chat user, and the change must be
// judged by that person's rights, not the bot's. who is a username ("alice")
// or a chat identity ("slack:U123", see UserByExternalIdentity).
//
// The bot's token must carry the act-as scope, which only an ADMIN can grant
// (CreateAPIToken). The returned actor has the person's id, name and current
// role, no scopes (act-as does not chain) and Via set to the bot, so every
// rule applies to the person and the audit trail names both: actor = bot,
// on_behalf_of = person. Unknown people are NOT_FOUND, disabled ones
// FORBIDDEN.
func (e *Engine) ActAs(ctx context.Context, bot Actor, who string) (Actor, error) {
	if !bot.HasScope(ScopeActAs) {
		return Actor{}, Forbidden("token lacks the act-as scope")
	}
	if bot.Via != "" {
		return Actor{}, Forbidden("%s already acts on behalf of %s and cannot act for another user", bot.Via, bot.Username)
	}
	who = strings.TrimSpace(who)
	var (
		u   *ent.User
		err error
	)
	if strings.Contains(who, ":") {
		if u, err = e.UserByExternalIdentity(ctx, who); err != nil {
			return Actor{}, asOnBehalfOf(err)
		}
	} else {
		if !usernamePattern.MatchString(who) {
			return Actor{}, Invalid("onBehalfOf", "%q is neither a username nor a chat identity of the form provider:id (e.g. slack:U123)", who)
		}
		u, err = e.client.User.Query().Where(user.Username(who)).Only(ctx)
		if ent.IsNotFound(err) {
			return Actor{}, NotFound("user", who)
		}
		if err != nil {
			return Actor{}, fmt.Errorf("looking up user %q to act on behalf of: %w", who, err)
		}
	}
	if u.Disabled {
		return Actor{}, Forbidden("user %s is disabled: nobody may act on their behalf", u.Username)
	}
	return Actor{
		UserID: u.ID, Username: u.Username, Role: Role(u.Role), TokenID: bot.TokenID, Via: bot.Username,
	}, nil
}

// asOnBehalfOf renames the field of an input error about a chat identity to
// the argument the caller actually gave.
func asOnBehalfOf(err error) error {
	var de *Error
	if errors.As(err, &de) && de.Code == CodeInvalidInput {
		c := *de
		c.Field = "onBehalfOf"
		return &c
	}
	return err
}
