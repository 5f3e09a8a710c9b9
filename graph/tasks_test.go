package graph_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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

// TestTaskLibraryAPI reads the catalogue with its inputs and docs, creates a custom template as
// an ADMIN (an EDITOR is refused), and deletes it.
func TestTaskLibraryAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		actors := map[string]delivery.Actor{}
		for name, role := range map[string]string{"alice": "EDITOR", "root": "ADMIN"} {
			u := db.Client.User.Create().SetUsername(name).SetRole("EDITOR").SaveX(ctx)
			actors[name] = delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		as := func(name string) *client.Client {
			return client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), actors[name])))
			}))
		}
		var one struct {
			TaskTemplate struct {
				Name, Version, Docs string
				Major               int
				Builtin             bool
				Inputs              []struct {
					Name, Type, Default string
					Required            bool
					Options             []string
				}
			}
		}
		as("alice").MustPost(`{ taskTemplate(name: "CopyFiles", version: "2") { name version major builtin docs inputs { name type default required options } } }`, &one)
		tt := one.TaskTemplate
		if tt.Version != "2.0" || tt.Major != 2 || !tt.Builtin || !strings.Contains(tt.Docs, "## CopyFiles@2") || len(tt.Inputs) != 6 ||
			tt.Inputs[2].Name != "TargetFolder" || tt.Inputs[2].Type != "FILE_PATH" || !tt.Inputs[2].Required {
			t.Errorf("CopyFiles@2: %+v", tt)
		}
		create := `mutation { createTaskTemplate(input: {name: "Smoke", version: "1.0", shell: "bash", script: "curl -f $INPUT_URL",
		    demands: ["curl"], inputs: [{name: "url", type: "STRING", required: true, help: "what to check"}]}) { name version inputs { name type } } }`
		var created struct {
			CreateTaskTemplate struct {
				Name, Version string
				Inputs        []struct{ Name, Type string }
			}
		}
		if err := as("alice").Post(create, &created); err == nil || !strings.Contains(err.Error(), "ADMIN") {
			t.Errorf("an EDITOR created a template: %v", err)
		}
		as("root").MustPost(create, &created)
		if created.CreateTaskTemplate.Version != "1.0" || created.CreateTaskTemplate.Inputs[0].Type != "STRING" {
			t.Errorf("created %+v", created)
		}
		var list struct {
			TaskTemplates []struct {
				Name    string
				Builtin bool
				UsedBy  []string
			}
		}
		as("alice").MustPost(`{ taskTemplates { name builtin usedBy } }`, &list)
		if n := len(list.TaskTemplates); n < 8 || list.TaskTemplates[n-1].Name != "Smoke" || list.TaskTemplates[n-1].Builtin {
			t.Errorf("library %+v", list)
		}
		var bad struct{ CreateTaskTemplate struct{ Name string } }
		err := as("root").Post(`mutation { createTaskTemplate(input: {name: "X", version: "1", shell: "zsh"}) { name } }`, &bad)
		if err == nil || !strings.Contains(err.Error(), "version") || !strings.Contains(err.Error(), "unknown shell") {
			t.Errorf("invalid template: %v", err)
		}
		var del struct{ DeleteTaskTemplate bool }
		as("root").MustPost(`mutation { deleteTaskTemplate(name: "Smoke", version: "1.0") }`, &del)
		if !del.DeleteTaskTemplate || db.Client.TaskTemplate.Query().CountX(ctx) != 0 {
			t.Errorf("delete: %+v", del)
		}
	})
}

// TestTaskTemplateUsedByReadScope: a template's usedBy names only the definitions the viewer
// may read, through the real handler (read scope) and through the engine called directly with
// the viewer.
func TestTaskTemplateUsedByReadScope(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect})
		mk := func(name, role string) delivery.Actor {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			return delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		member, outsider := mk("mia", "EDITOR"), mk("otto", "EDITOR")
		db.Client.Group.Create().SetName("ops").AddMemberIDs(member.UserID).ExecX(ctx)
		for _, d := range []spec.DefinitionSnapshot{
			{Name: "secret", Readers: []string{"ops"}, Environments: []spec.EnvironmentSpec{{Name: "prod", Job: spec.JobSpec{Tasks: []spec.Task{
				{Name: "b", Uses: "Bash@3", Inputs: map[string]string{"script": "true"}}}}}}},
			{Name: "open", Environments: []spec.EnvironmentSpec{{Name: "prod", Job: spec.JobSpec{Tasks: []spec.Task{
				{Name: "b", Uses: "Bash@3", Inputs: map[string]string{"script": "true"}}}}}}},
		} {
			if _, err := e.CreateDefinition(ctx, member, d, ""); err != nil {
				t.Fatal(err)
			}
		}
		usedBy := func(a delivery.Actor) []string {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				graph.NewHandler(&graph.Resolver{Engine: e}, graph.Options{}).
					ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
			}))
			defer ts.Close()
			var out struct{ TaskTemplate struct{ UsedBy []string } }
			client.New(ts.Config.Handler).MustPost(`{ taskTemplate(name: "Bash", version: "3") { usedBy } }`, &out)
			return out.TaskTemplate.UsedBy
		}
		if got := usedBy(member); strings.Join(got, ",") != "definition open,definition secret" && strings.Join(got, ",") != "definition secret,definition open" {
			t.Errorf("member sees %q", got)
		}
		if got := usedBy(outsider); strings.Join(got, ",") != "definition open" {
			t.Errorf("outsider sees %q", got)
		}
		got, err := e.TaskTemplateUsersFor(ctx, outsider, "Bash", 3)
		if err != nil || strings.Join(got, ",") != "definition open" {
			t.Errorf("engine for the outsider: %q %v", got, err)
		}
	})
}
