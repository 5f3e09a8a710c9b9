package graph_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/cairnhq/cairn/auth"
	"github.com/cairnhq/cairn/delivery"
	"github.com/cairnhq/cairn/ent/serviceconnection"
	"github.com/cairnhq/cairn/ent/user"
	"github.com/cairnhq/cairn/graph"
	"github.com/cairnhq/cairn/storage"
	"github.com/cairnhq/cairn/storage/storagetest"
)

// gqlClient posts GraphQL requests to an in-process server as one actor.
type gqlClient struct {
	t   *testing.T
	srv *httptest.Server
}

type defsResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []struct {
		Message string `json:"message"`
	} `json:"errors"`
	raw string
}

func newGQL(t *testing.T, db *storage.DB, a delivery.Actor) *gqlClient {
	t.Helper()
	box, err := delivery.NewSecretBox(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	eng := delivery.New(db.Client, delivery.Options{Dialect: db.Dialect, Secrets: box})
	h := handler.New(graph.NewExecutableSchema(graph.Config{Resolvers: &graph.Resolver{Engine: eng}}))
	h.AddTransport(transport.POST{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(auth.WithActor(r.Context(), a)))
	}))
	t.Cleanup(srv.Close)
	return &gqlClient{t: t, srv: srv}
}

func (c *gqlClient) do(query string, vars map[string]any) defsResponse {
	c.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, err := http.Post(c.srv.URL, "application/json", bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	var out defsResponse
	if err := json.Unmarshal(buf.Bytes(), &out); err != nil {
		c.t.Fatalf("decoding %s: %v", buf.String(), err)
	}
	out.raw = buf.String()
	return out
}

func (c *gqlClient) ok(query string, vars map[string]any, into any) string {
	c.t.Helper()
	r := c.do(query, vars)
	if len(r.Errors) > 0 {
		c.t.Fatalf("errors: %s", r.raw)
	}
	if into != nil {
		if err := json.Unmarshal(r.Data, into); err != nil {
			c.t.Fatal(err)
		}
	}
	return r.raw
}

const createMutation = `mutation($input: DefinitionInput!) {
  createDefinition(input: $input, comment: "first") { id revision name }
}`

func definitionInput(secret string) map[string]any {
	v := map[string]any{"name": "DB_PASSWORD", "secret": true}
	if secret != "" {
		v["value"] = secret
	}
	return map[string]any{
		"name": "shop",
		"variables": []any{
			map[string]any{"name": "API_URL", "value": "https://api.example.com"},
			v,
		},
		"artifactSources": []any{map[string]any{"alias": "web", "type": "JENKINS", "connection": "jenkins", "job": "shop/web", "branchFilters": []any{"main"}}},
		"environments": []any{
			map[string]any{"name": "dev", "trigger": map[string]any{"kind": "AFTER_RELEASE"},
				"job":       map[string]any{"tasks": []any{map[string]any{"name": "deploy", "script": "./deploy.sh", "env": map[string]any{"MODE": "fast", "N": 3}}}},
				"variables": []any{map[string]any{"name": "DEV_TOKEN", "value": "dev-token-plaintext", "secret": true}}},
			map[string]any{"name": "prod", "trigger": map[string]any{"kind": "AFTER_ENVIRONMENTS", "environments": []any{"dev"}}},
		},
		"schedules": []any{map[string]any{"cron": "0 3 * * 1-5", "scheduleOnlyWithChanges": true}},
	}
}

func TestDefinitionsGraphQL(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		alice := db.Client.User.Create().SetUsername("alice").SetRole(user.RoleEDITOR).SaveX(ctx)
		db.Client.ServiceConnection.Create().SetName("jenkins").SetKind(serviceconnection.KindJENKINS).SetURL("https://ci").SaveX(ctx)
		c := newGQL(t, db, delivery.Actor{UserID: alice.ID, Username: "alice", Role: delivery.RoleEditor})

		var created struct {
			CreateDefinition struct {
				ID       string
				Revision int
			}
		}
		c.ok(createMutation, map[string]any{"input": definitionInput("hunter2-plaintext")}, &created)
		id := created.CreateDefinition.ID

		read := `query($id: ID!) { definition(id: $id) {
		  name revision releaseNameFormat
		  schedules { cron scheduleOnlyWithChanges }
		  variables { name value secret }
		  environments { name rank variables { name value secret } job { tasks { shell env } } }
		  artifactSources { alias primary connection { name } }
		  revisions { totalCount edges { node { revision author comment changeType
		    snapshot { variables { name value secret } environments { name trigger { kind environments } variables { value secret } } } } } }
		} }`
		var got struct {
			Definition struct {
				Name, ReleaseNameFormat string
				Variables               []struct {
					Name   string
					Value  *string
					Secret bool
				}
				Environments []struct {
					Name string
					Job  struct {
						Tasks []struct {
							Shell string
							Env   map[string]string
						}
					}
				}
			}
		}
		raw := c.ok(read, map[string]any{"id": id}, &got)
		for _, leak := range []string{"hunter2", "dev-token-plaintext", "sealed:"} {
			if strings.Contains(raw, leak) {
				t.Fatalf("response leaks %q: %s", leak, raw)
			}
		}
		d := got.Definition
		if d.ReleaseNameFormat != "Release-$(rev:r)" || d.Variables[0].Value == nil || *d.Variables[0].Value != "https://api.example.com" ||
			d.Variables[1].Value != nil || !d.Variables[1].Secret {
			t.Fatalf("definition = %s", raw)
		}
		if task := d.Environments[0].Job.Tasks[0]; task.Shell != "bash" || task.Env["MODE"] != "fast" || task.Env["N"] != "3" {
			t.Fatalf("task = %+v", task)
		}
		if !strings.Contains(raw, `"schedules":[{"cron":"0 3 * * 1-5","scheduleOnlyWithChanges":true}]`) {
			t.Fatalf("schedules = %s", raw)
		}
		if !strings.Contains(raw, `"author":"alice","comment":"first","changeType":"CREATE"`) ||
			!strings.Contains(raw, `"variables":[{"value":null,"secret":true}]`) {
			t.Fatalf("revisions = %s", raw)
		}

		// Round trip without knowing the secret: it is kept.
		update := `mutation($id: ID!, $rev: Int!, $input: DefinitionInput!) {
		  updateDefinition(id: $id, expectedRevision: $rev, input: $input, comment: "again") { revision } }`
		in := definitionInput("")
		in["description"] = "second"
		in["environments"].([]any)[0].(map[string]any)["variables"] = []any{map[string]any{"name": "DEV_TOKEN", "secret": true}}
		// A new first environment gets a higher row id than the others but rank 0.
		in["environments"] = append([]any{map[string]any{"name": "canary"}}, in["environments"].([]any)...)
		c.ok(update, map[string]any{"id": id, "rev": 1, "input": in}, nil)
		var order struct {
			Definition struct{ Environments []struct{ Name string } }
		}
		c.ok(`query($id: ID!) { definition(id: $id) { environments { name } } }`, map[string]any{"id": id}, &order)
		if envs := order.Definition.Environments; len(envs) != 3 || envs[0].Name != "canary" || envs[1].Name != "dev" || envs[2].Name != "prod" {
			t.Fatalf("environments not in rank order: %+v", envs)
		}
		r := c.do(update, map[string]any{"id": id, "rev": 1, "input": in})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "was changed by alice at revision 2; reload and reapply your change") {
			t.Fatalf("stale update: %s", r.raw)
		}

		var diff struct {
			DefinitionDiff []struct {
				Path, Kind    string
				Before, After *string
			}
		}
		c.ok(`query($id: ID!) { definitionDiff(id: $id, from: 1, to: 2) { path kind before after } }`, map[string]any{"id": id}, &diff)
		paths := map[string]string{}
		for _, ch := range diff.DefinitionDiff {
			paths[ch.Path] = ch.Kind
		}
		if len(paths) != 4 || paths["description"] != "CHANGED" || paths["environments[canary]"] != "ADDED" ||
			paths["environments[dev].rank"] != "CHANGED" || paths["environments[prod].rank"] != "CHANGED" {
			t.Fatalf("diff = %+v", diff)
		}

		r = c.do(`mutation { createDefinition(input: {name: "x", environments: [{name: "a", trigger: {kind: AFTER_ENVIRONMENTS}}]}) { id } }`, nil)
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, "environments[0].trigger.environments: AFTER_ENVIRONMENTS needs") {
			t.Fatalf("invalid create: %s", r.raw)
		}

		list := `{ definitions(first: 10) { totalCount edges { node { name } } } }`
		if raw := c.ok(list, nil, nil); !strings.Contains(raw, `"totalCount":1`) {
			t.Fatalf("definitions = %s", raw)
		}
		c.ok(`mutation($id: ID!) { deleteDefinition(id: $id, expectedRevision: 2, comment: "bye") }`, map[string]any{"id": id}, nil)
		if raw := c.ok(list, nil, nil); !strings.Contains(raw, `"totalCount":0`) {
			t.Fatalf("definitions after delete = %s", raw)
		}
		r = c.do(`query($id: ID!) { definition(id: $id) { name } }`, map[string]any{"id": id})
		if len(r.Errors) != 1 || !strings.Contains(r.Errors[0].Message, fmt.Sprintf("definition %s not found", id)) {
			t.Fatalf("deleted definition: %s", r.raw)
		}
		raw = c.ok(`query($id: ID!) { definitionRevisions(definitionID: $id) { totalCount edges { node { revision changeType } } } }`, map[string]any{"id": id}, nil)
		if !strings.Contains(raw, `"totalCount":3`) || !strings.Contains(raw, `{"revision":3,"changeType":"DELETE"}`) {
			t.Fatalf("history of a deleted definition = %s", raw)
		}
	})
}
