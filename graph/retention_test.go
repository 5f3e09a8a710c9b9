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

// TestRetentionAPI: a definition with a folder, tags and a retention policy through the API;
// the definitions list filters by tag and folder; a release is kept forever, drafted and
// started; retentionPreview says why each release is kept; hostile input is INVALID_INPUT.
func TestRetentionAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		clk := delivery.NewManualClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk})
		u := db.Client.User.Create().SetUsername("alice").SetRole("EDITOR").SaveX(ctx)
		alice := delivery.Actor{UserID: u.ID, Username: "alice", Role: delivery.RoleEditor}
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").ExecX(ctx)
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		c := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), alice)))
		}))
		create := `mutation($name: String!, $tags: [String!], $path: String, $days: Int!) {
			createDefinition(input: {name: $name, path: $path, tags: $tags,
				artifactSources: [{alias: "app", type: "JENKINS", connection: "jenkins", job: "app"}],
				environments: [{name: "dev", trigger: {kind: AFTER_RELEASE}, retention: {daysToKeep: $days, releasesToKeep: 2, retainBuild: true}}]}) { id path tags }
		}`
		var web struct {
			CreateDefinition struct {
				ID, Path string
				Tags     []string
			}
		}
		c.MustPost(create, &web, client.Var("name", "web"), client.Var("tags", []string{"Team-A"}), client.Var("path", "/team/web"), client.Var("days", 5))
		var other struct {
			CreateDefinition struct {
				ID, Path string
				Tags     []string
			}
		}
		c.MustPost(create, &other, client.Var("name", "other"), client.Var("tags", []string{"b"}), client.Var("path", "/misc"), client.Var("days", 5))
		var list struct {
			Definitions struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		c.MustPost(`{ definitions(where: {hasTag: "team-a"}) { edges { node { name } } } }`, &list)
		if len(list.Definitions.Edges) != 1 || list.Definitions.Edges[0].Node.Name != "web" {
			t.Fatalf("hasTag: %+v", list)
		}
		c.MustPost(`{ definitions(where: {pathHasPrefix: "/team"}) { edges { node { name } } } }`, &list)
		if len(list.Definitions.Edges) != 1 || list.Definitions.Edges[0].Node.Name != "web" {
			t.Fatalf("pathHasPrefix: %+v", list)
		}
		var bad struct{ CreateDefinition *struct{ ID string } }
		err := c.Post(create, &bad, client.Var("name", "bad"), client.Var("tags", []string{"x"}), client.Var("path", "/"), client.Var("days", -3))
		if err == nil || !strings.Contains(err.Error(), "environments[0].retention.daysToKeep") {
			t.Fatalf("negative days: %v", err)
		}

		var rel struct{ CreateRelease struct{ ID, Status string } }
		c.MustPost(`mutation($def: ID!) { createRelease(input: {definitionId: $def, draft: true, artifacts: [{alias: "app", buildNumber: "1"}]}) { id status } }`,
			&rel, client.Var("def", web.CreateDefinition.ID))
		if rel.CreateRelease.Status != "DRAFT" {
			t.Fatalf("draft: %+v", rel)
		}
		var upd struct {
			UpdateRelease struct {
				Name, KeepForeverBy string
				KeepForever         bool
				Tags                []string
			}
		}
		c.MustPost(`mutation($id: ID!) { updateRelease(id: $id, input: {name: "rc-1", tags: ["rc"], keepForever: true}) { name keepForever keepForeverBy tags } }`,
			&upd, client.Var("id", rel.CreateRelease.ID))
		if upd.UpdateRelease.Name != "rc-1" || !upd.UpdateRelease.KeepForever || upd.UpdateRelease.KeepForeverBy != "alice" {
			t.Fatalf("update: %+v", upd)
		}
		var started struct{ StartRelease struct{ Status string } }
		c.MustPost(`mutation($id: ID!) { startRelease(id: $id) { status } }`, &started, client.Var("id", rel.CreateRelease.ID))
		if started.StartRelease.Status != "ACTIVE" {
			t.Fatalf("start: %+v", started)
		}
		var preview struct {
			RetentionPreview struct {
				Releases []struct {
					Name, Verdict string
					Reasons       []string
				}
			}
		}
		c.MustPost(`query($def: ID!) { retentionPreview(definitionId: $def) { releases { name verdict reasons } } }`,
			&preview, client.Var("def", web.CreateDefinition.ID))
		p := preview.RetentionPreview.Releases
		if len(p) != 1 || p[0].Verdict != "KEPT" || !strings.Contains(strings.Join(p[0].Reasons, "; "), "keep forever by alice") ||
			!strings.Contains(strings.Join(p[0].Reasons, "; "), "deployment to dev is QUEUED") {
			t.Fatalf("preview: %+v", p)
		}
		// Deleted definitions can be listed and brought back.
		var del struct{ DeleteDefinition bool }
		c.MustPost(`mutation($id: ID!) { deleteDefinition(id: $id, expectedRevision: 1) }`, &del, client.Var("id", other.CreateDefinition.ID))
		var deleted struct {
			DeletedDefinitions []struct {
				ID, Name  string
				DeletedAt *string
			}
		}
		c.MustPost(`{ deletedDefinitions { id name deletedAt } }`, &deleted)
		if len(deleted.DeletedDefinitions) != 1 || deleted.DeletedDefinitions[0].Name != "other" || deleted.DeletedDefinitions[0].DeletedAt == nil {
			t.Fatalf("deletedDefinitions: %+v", deleted)
		}
		var undel struct{ UndeleteDefinition struct{ Name string } }
		c.MustPost(`mutation($id: ID!) { undeleteDefinition(id: $id) { name } }`, &undel, client.Var("id", other.CreateDefinition.ID))
		c.MustPost(`{ deletedDefinitions { id name deletedAt } }`, &deleted)
		if undel.UndeleteDefinition.Name != "other" || len(deleted.DeletedDefinitions) != 0 {
			t.Fatalf("undelete: %+v %+v", undel, deleted)
		}
		err = c.Post(`mutation { runRetention { releasesDeleted } }`, &struct{}{})
		if err == nil || !strings.Contains(err.Error(), "ADMIN") {
			t.Fatalf("runRetention by an EDITOR: %v", err)
		}
	})
}
