package graph

import (
	"context"
	"testing"
	"time"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

func TestEffectiveActor(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		root, err := e.EnsureAdmin(ctx, "root")
		if err != nil {
			t.Fatal(err)
		}
		admin := delivery.Actor{UserID: root.ID, Username: "root", Role: delivery.RoleAdmin}
		botUser, err := e.CreateUser(ctx, admin, delivery.UserInput{Username: "bot"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.CreateUser(ctx, admin, delivery.UserInput{
			Username: "alice", Role: delivery.RoleEditor, ExternalIdentities: []string{"slack:UA"},
		}); err != nil {
			t.Fatal(err)
		}
		tok, err := e.CreateAPIToken(ctx, admin, "bot", botUser.ID, time.Hour, []string{delivery.ScopeActAs})
		if err != nil {
			t.Fatal(err)
		}
		bot, err := e.PrincipalForToken(ctx, tok.Jti, time.Time{})
		if err != nil {
			t.Fatal(err)
		}
		r := &Resolver{Engine: e}
		botCtx := auth.WithActor(ctx, bot)
		empty, who := "", "slack:UA"

		for _, obo := range []*string{nil, &empty} {
			a, err := r.effectiveActor(botCtx, obo)
			if err != nil || a.Username != "bot" || a.Via != "" {
				t.Errorf("effectiveActor(%v) = %+v, %v; want the bot itself", obo, a, err)
			}
		}
		a, err := r.effectiveActor(botCtx, &who)
		if err != nil || a.Username != "alice" || a.Role != delivery.RoleEditor || a.Via != "bot" {
			t.Errorf("effectiveActor(slack:UA) = %+v, %v", a, err)
		}
		if _, err := r.effectiveActor(auth.WithActor(ctx, admin), &who); delivery.CodeOf(err) != delivery.CodeForbidden {
			t.Errorf("admin without act-as scope: %v, want FORBIDDEN", err)
		}
		if _, err := r.effectiveActor(ctx, nil); delivery.CodeOf(err) != delivery.CodeUnauthenticated {
			t.Errorf("no actor: %v, want UNAUTHENTICATED", err)
		}
	})
}
