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
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// TestReleaseTimeVariablesAPI: settableAtReleaseTime and managePermissions
// round-trip through a definition; createRelease refuses an override of a
// variable not declared settable (naming it) and a process-start name; the
// overrides given are readable on Release with secrets as "***".
func TestReleaseTimeVariablesAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		box, err := delivery.NewSecretBox(make([]byte, 32))
		if err != nil {
			t.Fatal(err)
		}
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box,
			Clock: delivery.NewManualClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))})
		u := db.Client.User.Create().SetUsername("alice").SetRole("EDITOR").SaveX(ctx)
		alice := delivery.Actor{UserID: u.ID, Username: "alice", Role: delivery.RoleEditor}
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").ExecX(ctx)
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		c := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), alice)))
		}))

		var def struct {
			CreateDefinition struct {
				ID        string
				Variables []struct {
					Name                  string
					SettableAtReleaseTime bool
				}
				ViewerCan struct{ ManagePermissions bool }
			}
		}
		c.MustPost(`mutation { createDefinition(input: {name: "web",
			artifactSources: [{alias: "app", type: "JENKINS", connection: "jenkins", job: "app"}],
			variables: [{name: "level", value: "info", settableAtReleaseTime: true}, {name: "token", value: "t0", secret: true, settableAtReleaseTime: true}, {name: "fixed", value: "x"}],
			permissions: {managePermissions: [{kind: USER, name: "alice"}]},
			environments: [{name: "dev", job: {tasks: [{name: "t", script: "true"}]}}]}) {
			id variables { name settableAtReleaseTime } viewerCan { managePermissions } } }`, &def)
		d := def.CreateDefinition
		if len(d.Variables) != 3 || !d.Variables[0].SettableAtReleaseTime || d.Variables[2].SettableAtReleaseTime || !d.ViewerCan.ManagePermissions {
			t.Fatalf("definition %+v", d)
		}
		const create = `mutation($def: ID!, $vars: [VariableInput!]) { createRelease(input: {definitionId: $def,
			artifacts: [{alias: "app", buildNumber: "1"}], variableOverrides: $vars}) { id variableOverrides { name value secret } } }`
		var bad struct{ CreateRelease struct{ ID string } }
		for name, mention := range map[string]string{"fixed": `fixed\" is not settable at release time`, "BASH_ENV": "BASH_ENV", "nope": `nope\" is not declared`} {
			err := c.Post(create, &bad, client.Var("def", d.ID), client.Var("vars", []map[string]any{{"name": name, "value": "$(id)"}}))
			if err == nil || !strings.Contains(err.Error(), mention) {
				t.Errorf("override of %s: %v; want an error mentioning %q", name, err, mention)
			}
		}
		var rel struct {
			CreateRelease struct {
				ID                string
				VariableOverrides []struct {
					Name, Value string
					Secret      bool
				}
			}
		}
		c.MustPost(create, &rel, client.Var("def", d.ID), client.Var("vars", []map[string]any{
			{"name": "level", "value": "debug"}, {"name": "token", "value": "s3cr3t"}}))
		got := rel.CreateRelease.VariableOverrides
		if len(got) != 2 || got[0].Value != "debug" || got[0].Secret || got[1].Value != "***" || !got[1].Secret {
			t.Fatalf("overrides read back: %+v", got)
		}
	})
}
