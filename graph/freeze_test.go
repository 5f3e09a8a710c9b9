package graph_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/client"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/schema/spec"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestFreezeAPI creates a REFUSE window through the API, reads it and the
// environment's frozenUntil, is refused a deployment with the named error,
// deploys through it as an ADMIN with overrideFreeze, and deletes it.
func TestFreezeAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		now := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
		clk := delivery.NewManualClock(now)
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk})
		actors := map[string]delivery.Actor{}
		for name, role := range map[string]string{"alice": "EDITOR", "root": "ADMIN"} {
			u := db.Client.User.Create().SetUsername(name).SetRole("EDITOR").SaveX(ctx)
			actors[name] = delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").SaveX(ctx)
		def, err := e.CreateDefinition(ctx, actors["alice"], spec.DefinitionSnapshot{Name: "web",
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app"}},
			Environments:    []spec.EnvironmentSpec{{Name: "prod"}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.CreateRelease(ctx, actors["alice"], delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		as := func(name string) *client.Client {
			return client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), actors[name])))
			}))
		}
		var created struct {
			CreateFreezeWindow struct {
				ID          string
				Active      bool
				ActiveUntil *string
				Mode        string
			}
		}
		as("alice").MustPost(`mutation($def: ID!, $s: Time!, $e: Time!) { createFreezeWindow(input: {name: "launch", definitionId: $def,
			environment: "prod", mode: REFUSE, startsAt: $s, endsAt: $e}) { id active activeUntil mode } }`, &created,
			client.Var("def", def.ID), client.Var("s", now.Add(-time.Hour)), client.Var("e", now.Add(2*time.Hour)))
		w := created.CreateFreezeWindow
		if !w.Active || w.ActiveUntil == nil || *w.ActiveUntil != now.Add(2*time.Hour).Format(time.RFC3339) || w.Mode != "REFUSE" {
			t.Fatalf("created %+v", w)
		}
		var bad struct{ CreateFreezeWindow struct{ ID string } }
		if err := as("alice").Post(`mutation { createFreezeWindow(input: {name: "global", cron: "0 1 * * *", durationMinutes: 60}) { id } }`, &bad); err == nil {
			t.Fatal("an EDITOR created a global window")
		}
		var list struct {
			FreezeWindows []struct{ Name string }
			Definition    struct {
				Environments []struct{ FrozenUntil *string }
			}
		}
		as("alice").MustPost(`query($def: ID!) { freezeWindows { name } definition(id: $def) { environments { frozenUntil } } }`, &list, client.Var("def", def.ID))
		if len(list.FreezeWindows) != 1 || list.Definition.Environments[0].FrozenUntil == nil {
			t.Fatalf("read %+v", list)
		}
		var dep struct {
			DeployEnvironment struct {
				Status         string
				FreezeOverride bool
			}
		}
		err = as("alice").Post(`mutation($rel: ID!) { deployEnvironment(input: {releaseId: $rel, environment: "prod"}) { status } }`, &dep, client.Var("rel", rel.ID))
		if err == nil || !strings.Contains(err.Error(), "frozen by window") {
			t.Fatalf("deploy during the freeze: %v", err)
		}
		as("root").MustPost(`mutation($rel: ID!) { deployEnvironment(input: {releaseId: $rel, environment: "prod", overrideFreeze: true}) { status freezeOverride } }`,
			&dep, client.Var("rel", rel.ID))
		if dep.DeployEnvironment.Status != "QUEUED" || !dep.DeployEnvironment.FreezeOverride {
			t.Fatalf("override %+v", dep)
		}
		var del struct{ DeleteFreezeWindow bool }
		as("alice").MustPost(`mutation($id: ID!) { deleteFreezeWindow(id: $id) }`, &del, client.Var("id", w.ID))
		as("alice").MustPost(`query($def: ID!) { freezeWindows { name } definition(id: $def) { environments { frozenUntil } } }`, &list, client.Var("def", def.ID))
		if !del.DeleteFreezeWindow || len(list.FreezeWindows) != 0 || list.Definition.Environments[0].FrozenUntil != nil {
			t.Fatalf("after delete %+v", list)
		}
	})
}
