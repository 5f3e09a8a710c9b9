package delivery_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent"
	"github.com/cairnhq/cairn/ent/auditevent"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// botActor authenticates a token the way the API does and returns its actor.
func (f *idFixture) botActor(t *testing.T, owner *ent.User, scopes []string) delivery.Actor {
	t.Helper()
	ctx := context.Background()
	tok, err := f.e.CreateAPIToken(ctx, f.admin, "chat bot", owner.ID, 24*time.Hour, scopes)
	if err != nil {
		t.Fatalf("CreateAPIToken: %v", err)
	}
	a, err := f.e.PrincipalForToken(ctx, tok.Jti, time.Time{})
	if err != nil {
		t.Fatalf("PrincipalForToken: %v", err)
	}
	return a
}

func TestActAs(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		f := newIDFixture(t, db)
		botUser := f.mustUser(t, "chatbot", delivery.RoleViewer)
		bot := f.botActor(t, botUser, []string{delivery.ScopeActAs})
		plain := f.botActor(t, botUser, nil)
		alice, err := f.e.CreateUser(ctx, f.admin, delivery.UserInput{
			Username: "alice", Role: delivery.RoleAdmin, ExternalIdentities: []string{"slack:U123"},
		})
		if err != nil {
			t.Fatal(err)
		}
		gone, err := f.e.CreateUser(ctx, f.admin, delivery.UserInput{
			Username: "gone", Role: delivery.RoleEditor, ExternalIdentities: []string{"slack:UGONE"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.DisableUser(ctx, f.admin, gone.ID); err != nil {
			t.Fatal(err)
		}

		for _, who := range []string{"alice", "slack:U123", "  slack:U123 "} {
			a, err := f.e.ActAs(ctx, bot, who)
			if err != nil {
				t.Fatalf("ActAs(%q): %v", who, err)
			}
			if a.UserID != alice.ID || a.Username != "alice" || a.Role != delivery.RoleAdmin ||
				a.Via != "chatbot" || len(a.Scopes) != 0 || a.System {
				t.Errorf("ActAs(%q) = %+v", who, a)
			}
		}

		for _, c := range []struct {
			name string
			bot  delivery.Actor
			who  string
			code delivery.Code
			want string
		}{
			{"no scope", plain, "alice", delivery.CodeForbidden, "token lacks the act-as scope"},
			{"no scope, unknown user", plain, "nobody", delivery.CodeForbidden, "act-as scope"},
			{"person without token", f.admin, "alice", delivery.CodeForbidden, "act-as scope"},
			{"unknown user", bot, "nobody", delivery.CodeNotFound, "nobody"},
			{"unknown identity", bot, "slack:U999", delivery.CodeNotFound, "slack:U999"},
			{"disabled by name", bot, "gone", delivery.CodeForbidden, "disabled"},
			{"disabled by identity", bot, "slack:UGONE", delivery.CodeForbidden, "disabled"},
			{"malformed name", bot, "Robert'); DROP TABLE users;--", delivery.CodeInvalidInput, "onBehalfOf"},
			{"malformed identity", bot, "Slack:U 1", delivery.CodeInvalidInput, "onBehalfOf"},
			{"empty", bot, "", delivery.CodeInvalidInput, "onBehalfOf"},
		} {
			t.Run(c.name, func(t *testing.T) {
				_, err := f.e.ActAs(ctx, c.bot, c.who)
				if delivery.CodeOf(err) != c.code || !strings.Contains(err.Error(), c.want) {
					t.Errorf("ActAs(%q) = %v (%s), want %s mentioning %q", c.who, err, delivery.CodeOf(err), c.code, c.want)
				}
			})
		}

		// Act-as does not chain.
		asAlice, err := f.e.ActAs(ctx, bot, "alice")
		if err != nil {
			t.Fatal(err)
		}
		withScope := asAlice
		withScope.Scopes = []string{delivery.ScopeActAs}
		if _, err := f.e.ActAs(ctx, withScope, "eddie"); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Errorf("chained act-as: %v, want FORBIDDEN", err)
		}

		// The person's rules apply: the VIEWER bot may not create a group, the
		// ADMIN it acts for may, and the audit names both.
		if _, err := f.e.CreateGroup(ctx, bot, delivery.GroupInput{Name: "ops"}); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Fatalf("bot on its own: %v, want FORBIDDEN", err)
		}
		g, err := f.e.CreateGroup(ctx, asAlice, delivery.GroupInput{Name: "ops"})
		if err != nil {
			t.Fatalf("CreateGroup on behalf of alice: %v", err)
		}
		ev, err := db.Client.AuditEvent.Query().
			Where(auditevent.Action("group.create"), auditevent.TargetID(strconv.Itoa(g.ID))).Only(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Actor != "chatbot" || ev.OnBehalfOf != "alice" {
			t.Errorf("audit actor %q on behalf of %q, want chatbot on behalf of alice", ev.Actor, ev.OnBehalfOf)
		}
		// And the other way: acting for a VIEWER gives a VIEWER's rights only.
		asVera, err := f.e.ActAs(ctx, bot, "vera")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.e.CreateGroup(ctx, asVera, delivery.GroupInput{Name: "ops2"}); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Errorf("acting for a viewer: %v, want FORBIDDEN", err)
		}
		if rep, err := f.e.VerifyAuditChain(ctx, f.admin); err != nil || !rep.OK {
			t.Errorf("audit chain %+v %v", rep, err)
		}
	})
}
