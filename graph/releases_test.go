package graph_test

import (
	"fmt"
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

// TestReleaseAPI drives a release through the GraphQL mutations and reads
// it back: create, approve (by an approver with role VIEWER), pending
// approvals, current deployments and the releases connection.
func TestReleaseAPI(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		clk := delivery.NewManualClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: clk})
		actors := map[string]delivery.Actor{}
		for name, role := range map[string]string{"alice": "EDITOR", "bob": "VIEWER"} {
			u := db.Client.User.Create().SetUsername(name).SetRole("VIEWER").SaveX(ctx)
			actors[name] = delivery.Actor{UserID: u.ID, Username: name, Role: delivery.Role(role)}
		}
		conn := db.Client.ServiceConnection.Create().SetName("jenkins").SetKind("JENKINS").SetURL("https://ci").SaveX(ctx)
		snap := spec.DefinitionSnapshot{
			Name: "web", ReleaseNameFormat: "Release-$(rev:r)",
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Job: "app", Primary: true}},
			Environments: []spec.EnvironmentSpec{{Name: "prod", Trigger: spec.Trigger{Kind: spec.TriggerAfterRelease},
				PreApproval: spec.ApprovalPolicy{Approvers: []spec.Approver{{Kind: spec.ApproverUser, Name: "bob"}}}}},
		}
		def := db.Client.ReleaseDefinition.Create().SetName("web").SaveX(ctx)
		db.Client.ArtifactSource.Create().SetDefinitionID(def.ID).SetConnectionID(conn.ID).SetAlias("app").SetType("JENKINS").SetJob("app").ExecX(ctx)
		db.Client.DefinitionRevision.Create().SetDefinitionID(def.ID).SetRevision(1).SetChangeType("CREATE").SetAuthor("alice").SetSnapshot(snap).ExecX(ctx)

		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		as := func(name string) *client.Client {
			return client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), actors[name])))
			}))
		}

		var created struct {
			CreateRelease struct {
				ID, Name string
			}
		}
		as("alice").MustPost(`mutation($def: ID!) { createRelease(input: {definitionId: $def, artifacts: [{alias: "app", buildNumber: "42"}]}) { id name } }`,
			&created, client.Var("def", def.ID))
		if created.CreateRelease.Name != "Release-1" {
			t.Fatalf("created %+v", created)
		}
		var bad struct{ CreateRelease struct{ ID string } }
		if err := as("bob").Post(`mutation($def: ID!) { createRelease(input: {definitionId: $def}) { id } }`, &bad, client.Var("def", def.ID)); err == nil {
			t.Fatal("a viewer created a release")
		}
		// The override of artifact checks is an explicit input, refused to an EDITOR.
		err := as("alice").Post(`mutation($def: ID!) { createRelease(input: {definitionId: $def, overrideArtifactChecks: true,
			artifacts: [{alias: "app", buildNumber: "43"}]}) { id } }`, &bad, client.Var("def", def.ID))
		if err == nil || !strings.Contains(err.Error(), "FORBIDDEN") && !strings.Contains(err.Error(), "override") {
			t.Fatalf("an EDITOR's override: %v", err)
		}

		var pending struct {
			PendingApprovals []struct {
				ID, Approver string
			}
		}
		as("bob").MustPost(`{ pendingApprovals { id approver } }`, &pending)
		if len(pending.PendingApprovals) != 1 || pending.PendingApprovals[0].Approver != "bob" {
			t.Fatalf("pending %+v", pending)
		}
		var approved struct{ Approve struct{ Status string } }
		as("bob").MustPost(`mutation($id: ID!) { approve(input: {approvalId: $id, comment: "ok"}) { status } }`,
			&approved, client.Var("id", pending.PendingApprovals[0].ID))
		if approved.Approve.Status != "APPROVED" {
			t.Fatalf("approve %+v", approved)
		}

		var cur struct {
			CurrentDeployments []struct {
				Environment string
				Latest      struct{ Status string }
			}
		}
		as("bob").MustPost(`query($def: ID!) { currentDeployments(definitionId: $def) { environment latest { status } } }`,
			&cur, client.Var("def", def.ID))
		if len(cur.CurrentDeployments) != 1 || cur.CurrentDeployments[0].Latest.Status != "QUEUED" {
			t.Fatalf("current %+v", cur)
		}
		var list struct {
			Releases struct {
				TotalCount int
				Edges      []struct{ Node struct{ Name string } }
			}
		}
		as("bob").MustPost(`{ releases(first: 10) { totalCount edges { node { name } } } }`, &list)
		if list.Releases.TotalCount != 1 || list.Releases.Edges[0].Node.Name != "Release-1" {
			t.Fatalf("releases %+v", list)
		}
		var one struct{ Release *struct{ Name string } }
		as("bob").MustPost(`query($id: ID!) { release(id: $id) { name } }`, &one, client.Var("id", created.CreateRelease.ID))
		if one.Release == nil || one.Release.Name != "Release-1" {
			t.Fatalf("release %+v", one)
		}
		var none struct{ Release *struct{ Name string } }
		as("bob").MustPost(`{ release(id: 999999) { name } }`, &none)
		if none.Release != nil {
			t.Fatalf("unknown release %+v", none.Release)
		}
		var abandoned struct{ AbandonRelease struct{ Status string } }
		as("alice").MustPost(`mutation($id: ID!) { abandonRelease(releaseId: $id, comment: "done") { status } }`,
			&abandoned, client.Var("id", created.CreateRelease.ID))
		if abandoned.AbandonRelease.Status != "ABANDONED" {
			t.Fatalf("abandon %+v", abandoned)
		}
	})
}

// TestReleaseEnvironmentsInRankOrder: a release's environments come in their definition's
// trigger order (dev, qa, prod), not in name order, whether read alone or in a list.
func TestReleaseEnvironmentsInRankOrder(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := t.Context()
		e := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Clock: delivery.NewManualClock(time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC))})
		alice := delivery.Actor{UserID: db.Client.User.Create().SetUsername("alice").SetRole("EDITOR").SaveX(ctx).ID, Username: "alice", Role: delivery.RoleEditor}
		if _, err := e.CreateConnection(ctx, delivery.SystemActor("test"), delivery.ConnectionInput{Name: "jenkins", Kind: "JENKINS", URL: "https://ci"}); err != nil {
			t.Fatal(err)
		}
		var envs []spec.EnvironmentSpec
		for _, name := range []string{"dev", "qa", "prod"} {
			envs = append(envs, spec.EnvironmentSpec{Name: name})
		}
		def, err := e.CreateDefinition(ctx, alice, spec.DefinitionSnapshot{Name: "web", Environments: envs,
			ArtifactSources: []spec.ArtifactSourceSpec{{Alias: "app", Type: "JENKINS", Connection: "jenkins", Job: "app", Primary: true}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		rel, err := e.CreateRelease(ctx, alice, delivery.CreateReleaseInput{DefinitionID: def.ID,
			Artifacts: []delivery.ArtifactVersion{{Alias: "app", BuildNumber: "42"}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: e}}))
		srv.AddTransport(transport.POST{})
		c := client.New(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), alice)))
		}))
		var one struct {
			Release struct{ Environments []struct{ Name string } }
		}
		c.MustPost(`query($id: ID!) { release(id: $id) { environments { name } } }`, &one, client.Var("id", rel.ID))
		var list struct {
			Releases struct {
				Edges []struct {
					Node struct{ Environments []struct{ Name string } }
				}
			}
		}
		c.MustPost(`{ releases(first: 5) { edges { node { environments { name } } } } }`, &list)
		if len(list.Releases.Edges) != 1 {
			t.Fatalf("releases %+v", list)
		}
		for _, got := range [][]struct{ Name string }{one.Release.Environments, list.Releases.Edges[0].Node.Environments} {
			if fmt.Sprint(got) != "[{dev} {qa} {prod}]" {
				t.Errorf("environments %v, want dev, qa, prod", got)
			}
		}
	})
}
